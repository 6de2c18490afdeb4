"""The media store: a content-addressed folder (settings.media_dir). A location is the path
relative to the store (`sha256/ab/<digest>.<ext>`); nothing outside the store is ever read."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from cameoguard.files import private_dir
from cameoguard.settings import get_settings

CHUNK = 1 << 20


class MediaLocationError(ValueError):
    """A location that escapes the store or is malformed."""


def store_root() -> Path:
    return private_dir(get_settings().effective_media_dir).resolve()


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def put(path: Path, suffix: str = ".mp4") -> str:
    """Copies a file into the store under its SHA-256 and returns its location. Written to a
    temporary name and renamed, so a reader never sees half a file; storing the same bytes
    twice gives the same location."""
    digest = _digest(path)
    location = f"sha256/{digest[:2]}/{digest}{suffix}"
    target = store_root() / location
    if target.is_file():
        return location
    private_dir(target.parent)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        shutil.copyfile(path, partial)
        partial.chmod(0o600)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return location


def resolve(location: str) -> Path:
    """The file behind a location. Raises MediaLocationError for a path outside the store and
    FileNotFoundError when nothing is stored there."""
    if not location or "\x00" in location:
        raise MediaLocationError("empty or malformed media location")
    root = store_root()
    candidate = Path(location)
    path = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not path.is_relative_to(root):
        raise MediaLocationError(f"media location {location!r} is outside the media store")
    if not path.is_file():
        raise FileNotFoundError(f"media {location!r} not found in the media store")
    return path


def _withheld_marker(location: str) -> Path:
    path = resolve(location)
    return path.with_name(f".{path.name}.withheld")


def withhold(location: str, reason: str) -> None:
    """Stops serving the media (an owner's takedown): the bytes stay, for evidence and appeals,
    behind a marker that every route serving media checks (`withheld`)."""
    marker = _withheld_marker(location)
    marker.write_text(reason, encoding="utf-8")
    marker.chmod(0o600)


def withheld(location: str) -> str | None:
    """Why the media is no longer served, or None."""
    try:
        marker = _withheld_marker(location)
    except (MediaLocationError, FileNotFoundError):
        return None
    return marker.read_text(encoding="utf-8") if marker.is_file() else None
