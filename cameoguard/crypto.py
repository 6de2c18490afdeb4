"""Purpose-bound keys derived from the master secret (HKDF-SHA256), so that one leaked subkey
(e.g. the audit chain's MAC key) reveals nothing about another (e.g. the embedding
encryption key)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cameoguard.settings import get_settings

_derived: dict[tuple[bytes, str, int], bytes] = {}


def derive_key(purpose: str, length: int = 32) -> bytes:
    master = get_settings().master_key()
    cache_key = (master, purpose, length)
    key = _derived.get(cache_key)
    if key is None:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode())
        key = _derived[cache_key] = hkdf.derive(master)
    return key
