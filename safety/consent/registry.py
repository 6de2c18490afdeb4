"""The in-memory 1:N registry of enrolled faces and voices (cameos and protected people),
rebuilt from the database whenever the database's registry changes."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cameoguard.settings import get_settings
from safety.consent.index import EmbeddingIndex, Hit, build_index
from safety.consent.sealing import unseal_vector
from safety.consent.tables import Cameo, ProtectedPerson


@dataclass(frozen=True)
class Entry:
    kind: str  # cameo | protected
    id: str
    # A voice enrollment's shape (see Cameo.voice_views), which sets its threshold.
    views: int = 1
    utterances: int = 1


def _key(kind: str, row_id: str) -> str:
    return f"{kind}:{row_id}"


def parse_key(key: str) -> Entry:
    kind, _, row_id = key.partition(":")
    return Entry(kind, row_id)


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[object, ...] | None = None
        self._indexes: dict[tuple[str, str], EmbeddingIndex] = {}  # (modality, model) -> index
        self._entries: dict[str, Entry] = {}  # index key -> what it stands for
        self._most_views = 1

    @staticmethod
    def _current_stamp(session: Session) -> tuple[object, ...]:
        cameos = session.execute(select(func.count(Cameo.id), func.max(Cameo.updated_at))).one()
        people = session.execute(
            select(func.count(ProtectedPerson.id), func.max(ProtectedPerson.created_at))
        ).one()
        return (*cameos, *people)

    def _rebuild(self, session: Session) -> None:
        index_kind = get_settings().registry_index
        grouped: dict[tuple[str, str], tuple[list[str], list[np.ndarray]]] = {}
        entries: dict[str, Entry] = {}

        def add(
            modality: str,
            model: str | None,
            blob: bytes | None,
            entry: Entry,
            views: int = 1,
        ) -> None:
            if model is None or blob is None:
                return
            key = _key(entry.kind, entry.id)
            keys, vectors = grouped.setdefault((modality, model), ([], []))
            matrix = unseal_vector(blob, entry.id, f"{modality}_embedding").reshape(views, -1)
            keys.extend([key] * views)
            vectors.extend(matrix)
            if modality == "voice":
                entries[key] = entry

        # Revoked cameos stay in the registry (unless purged): their face is still not usable.
        rows: list[tuple[str, Cameo | ProtectedPerson]] = [
            ("cameo", c) for c in session.execute(select(Cameo)).scalars()
        ]
        rows += [("protected", p) for p in session.execute(select(ProtectedPerson)).scalars()]
        for kind, row in rows:
            add("face", row.face_model, row.face_embedding, Entry(kind, row.id))
            shape = Entry(kind, row.id, row.voice_views, row.voice_utterances)
            add("voice", row.voice_model, row.voice_embedding, shape, row.voice_views)
        self._indexes = {
            group: build_index(index_kind, keys, np.stack(vectors), vectors[0].size)
            for group, (keys, vectors) in grouped.items()
        }
        self._entries = entries
        self._most_views = max((e.views for e in entries.values()), default=1)

    def refresh(self, session: Session) -> None:
        stamp = self._current_stamp(session)
        with self._lock:
            if stamp != self._stamp:
                self._rebuild(session)
                self._stamp = stamp

    def search(
        self, session: Session, modality: str, model: str, query: np.ndarray, k: int = 3
    ) -> list[tuple[Entry, float]]:
        """The k enrolled people closest to `query`, each with its best score (over its views,
        for a multi-condition voice enrollment), best first."""
        self.refresh(session)
        with self._lock:
            index = self._indexes.get((modality, model))
            entries, views = self._entries, self._most_views
        hits: list[Hit] = index.search(query, k * views) if index is not None else []
        best: dict[str, float] = {}
        for hit in hits:  # best first: the first hit of a key is its best view
            best.setdefault(hit.key, hit.score)
        ranked = sorted(best.items(), key=lambda pair: -pair[1])[:k]
        return [(entries.get(key) or parse_key(key), score) for key, score in ranked]


registry = Registry()
