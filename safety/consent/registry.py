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

    @staticmethod
    def _current_stamp(session: Session) -> tuple[object, ...]:
        cameos = session.execute(select(func.count(Cameo.id), func.max(Cameo.updated_at))).one()
        people = session.execute(
            select(func.count(ProtectedPerson.id), func.max(ProtectedPerson.created_at))
        ).one()
        return (*cameos, *people)

    def _rebuild(self, session: Session) -> None:
        kind = get_settings().registry_index
        grouped: dict[tuple[str, str], tuple[list[str], list[np.ndarray]]] = {}

        def add(modality: str, model: str | None, blob: bytes | None, key: str, row: str) -> None:
            if model is None or blob is None:
                return
            keys, vectors = grouped.setdefault((modality, model), ([], []))
            keys.append(key)
            vectors.append(unseal_vector(blob, row, f"{modality}_embedding"))

        # Revoked cameos stay in the registry (unless purged): their face is still not usable.
        for c in session.execute(select(Cameo)).scalars():
            add("face", c.face_model, c.face_embedding, _key("cameo", c.id), c.id)
            add("voice", c.voice_model, c.voice_embedding, _key("cameo", c.id), c.id)
        for p in session.execute(select(ProtectedPerson)).scalars():
            add("face", p.face_model, p.face_embedding, _key("protected", p.id), p.id)
            add("voice", p.voice_model, p.voice_embedding, _key("protected", p.id), p.id)
        self._indexes = {
            group: build_index(kind, keys, np.stack(vectors), vectors[0].size)
            for group, (keys, vectors) in grouped.items()
        }

    def refresh(self, session: Session) -> None:
        stamp = self._current_stamp(session)
        with self._lock:
            if stamp != self._stamp:
                self._rebuild(session)
                self._stamp = stamp

    def search(
        self, session: Session, modality: str, model: str, query: np.ndarray, k: int = 3
    ) -> list[tuple[Entry, float]]:
        self.refresh(session)
        with self._lock:
            index = self._indexes.get((modality, model))
        hits: list[Hit] = index.search(query, k) if index is not None else []
        return [(parse_key(h.key), h.score) for h in hits]


registry = Registry()
