"""Where a published item's media lives: a path inside the media store (settings.media_dir).
Locations that escape the store are refused; a missing file is retried (it may still be
uploading) and then dead-lettered by the runner."""

from __future__ import annotations

from pathlib import Path

from cameoguard.settings import get_settings
from consumers.runner import PermanentError


def resolve_media(location: str) -> Path:
    store = get_settings().effective_media_dir.resolve()
    candidate = Path(location)
    path = (candidate if candidate.is_absolute() else store / candidate).resolve()
    if not path.is_relative_to(store):
        raise PermanentError(f"media location {location!r} is outside the media store")
    if not path.is_file():
        raise FileNotFoundError(f"media {location!r} not found in the media store")
    return path
