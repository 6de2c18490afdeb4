"""Embeddings and face images at rest: AES-256-GCM with a key derived from the master secret
for this purpose only. The row id and field name are the associated data, so a sealed value
copied into another row or column does not open."""

from __future__ import annotations

import os

import numpy as np
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cameoguard.crypto import derive_key

KEY_PURPOSE = "cameo-biometrics-v1"
_VERSION = b"\x01"


def seal(data: bytes, row_id: str, field: str) -> bytes:
    nonce = os.urandom(12)
    aad = f"{row_id}:{field}".encode()
    return _VERSION + nonce + AESGCM(derive_key(KEY_PURPOSE)).encrypt(nonce, data, aad)


def unseal(blob: bytes, row_id: str, field: str) -> bytes:
    if not blob or blob[:1] != _VERSION:
        raise ValueError(f"{field} of {row_id}: unknown sealing version")
    nonce, ciphertext = blob[1:13], blob[13:]
    return AESGCM(derive_key(KEY_PURPOSE)).decrypt(nonce, ciphertext, f"{row_id}:{field}".encode())


def seal_vector(vector: np.ndarray, row_id: str, field: str) -> bytes:
    return seal(np.asarray(vector, dtype="<f4").tobytes(), row_id, field)


def unseal_vector(blob: bytes, row_id: str, field: str) -> np.ndarray:
    return np.frombuffer(unseal(blob, row_id, field), dtype="<f4").copy()
