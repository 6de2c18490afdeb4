"""A short-lived cache of authenticated keys, so that a hot route does not read the key row on
every request.

An entry is keyed by the SHA-256 of the presented key (the key itself is never kept) and lives
`auth_cache_seconds`. Revoking a key in this process empties the cache at once; another process
(a second replica, the CLI) sees the revocation within that many seconds. Failed lookups are not
cached: an unknown key always reaches the database. 0 turns the cache off.
"""

from __future__ import annotations

import hashlib
import threading
import time

from cameoguard import db
from cameoguard.auth import keys
from cameoguard.auth.principal import Principal

MAX_ENTRIES = 10_000


class PrincipalCache:
    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _slot(presented: str) -> str:
        return hashlib.sha256(presented.encode()).hexdigest()

    def get(self, presented: str, now: float | None = None) -> Principal | None:
        if self.ttl <= 0:
            return None
        now = time.monotonic() if now is None else now
        slot = self._slot(presented)
        with self._lock:
            entry = self._entries.get(slot)
            if entry is None:
                return None
            principal, expires = entry
            if now >= expires:
                del self._entries[slot]
                return None
            return principal

    def put(self, presented: str, principal: Principal, now: float | None = None) -> None:
        if self.ttl <= 0:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[self._slot(presented)] = (principal, now + self.ttl)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache: PrincipalCache | None = None
_cache_lock = threading.Lock()


def principal_cache() -> PrincipalCache:
    global _cache
    with _cache_lock:
        if _cache is None:
            from cameoguard.settings import get_settings

            _cache = PrincipalCache(get_settings().auth_cache_seconds)
        return _cache


def forget_all() -> None:
    """Called on every revocation (and by tests when settings change)."""
    global _cache
    with _cache_lock:
        if _cache is not None:
            _cache.clear()
        _cache = None


# This process stops trusting cached keys at once when one is revoked here, and when the engine
# is reset (the keys came from the old database).
keys.revocation_listeners.append(forget_all)
db.reset_listeners.append(forget_all)
