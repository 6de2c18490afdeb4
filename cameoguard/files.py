"""Files the service creates for itself (the SQLite database, media, keys) are private: folders
0700, files 0600, whatever the process's umask. Media and embeddings are personal data."""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> Path:
    """Creates the folder (and its parents) if missing; a folder we create is 0700."""
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Creates an empty 0600 file if missing (so whatever writes it next keeps the mode)."""
    private_dir(path.parent)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    return path
