"""Purpose-bound keys derived from the master secret (HKDF-SHA256), so that one leaked subkey
(e.g. the audit chain's MAC key) reveals nothing about another (e.g. the embedding
encryption key)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cameoguard.settings import get_settings


def derive_key(purpose: str, length: int = 32) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode())
    return hkdf.derive(get_settings().master_key())
