"""A short-lived cache of authenticated keys, so that a hot route does not read the key row on
every request.

An entry is keyed by the SHA-256 of the presented key (the key itself is never kept) and lives
`auth_cache_seconds`. Revoking a key in this process empties the cache at once; another process
(a second replica, the CLI) sees the revocation within that many seconds. Failed lookups are not
cached: an unknown key always reaches the database. 0 turns the cache off.
"""

from __future__ import annotations

import hashlib
import math
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


class KnownKeyIds:
    """The ids of the keys in the database, held in memory, so that a key whose id is not among
    them is refused without a query: a flood of invented keys costs a set look-up, not a
    database round trip each. An unknown id reloads the set, at most once every
    `reload_every_s` (a key created by another process is known within that time; one created
    here is added at once). Only a filter: a known id is still checked against the database."""

    def __init__(self, reload_every_s: float = 1.0) -> None:
        self.reload_every_s = reload_every_s
        self._ids: set[str] | None = None
        self._loaded_at = -math.inf
        self._lock = threading.Lock()

    def add(self, key_id: str) -> None:
        with self._lock:
            if self._ids is not None:
                self._ids.add(key_id)

    def known(self, key_id: str) -> bool | None:
        """True or False, or None when the set must be (re)loaded first (`load`)."""
        with self._lock:
            if self._ids is not None and key_id in self._ids:
                return True
            if time.monotonic() - self._loaded_at < self.reload_every_s:
                return False
            return None

    def load(self, ids: set[str]) -> None:
        with self._lock:
            self._ids, self._loaded_at = ids, time.monotonic()


_cache: PrincipalCache | None = None
_known: KnownKeyIds | None = None
_cache_lock = threading.Lock()


def known_key_ids() -> KnownKeyIds:
    global _known
    with _cache_lock:
        if _known is None:
            _known = KnownKeyIds()
        return _known


def principal_cache() -> PrincipalCache:
    global _cache
    with _cache_lock:
        if _cache is None:
            from cameoguard.settings import get_settings

            _cache = PrincipalCache(get_settings().auth_cache_seconds)
        return _cache


def forget_all() -> None:
    """Called on every revocation (and by tests when settings change)."""
    global _cache, _known
    with _cache_lock:
        if _cache is not None:
            _cache.clear()
        _cache, _known = None, None


# This process stops trusting cached keys at once when one is revoked here, and when the engine
# is reset (the keys came from the old database).
keys.revocation_listeners.append(forget_all)
keys.creation_listeners.append(lambda key_id: known_key_ids().add(key_id))
db.reset_listeners.append(forget_all)
