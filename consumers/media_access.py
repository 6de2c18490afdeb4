"""Where a published item's media lives, for the workers: locations that escape the store are
permanent errors (dead-lettered); a missing file is retried (it may still be uploading) and
then dead-lettered by the runner."""

from __future__ import annotations

from pathlib import Path

from cameoguard import media_store
from consumers.runner import PermanentError


def resolve_media(location: str) -> Path:
    try:
        return media_store.resolve(location)
    except media_store.MediaLocationError as exc:
        raise PermanentError(str(exc)) from exc
