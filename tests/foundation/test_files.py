"""What the service writes for itself is private: folders 0700, files 0600, whatever the umask
(the database holds embeddings and audit entries, the media store people's faces)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from cameoguard import media_store
from cameoguard.settings import get_settings
from provenance.keys import create_dev_chain


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_media_and_keys_are_private(database: str, tmp_path: Path) -> None:
    previous = os.umask(0o022)  # a permissive umask, as on many servers
    try:
        if database.startswith("sqlite"):
            db_file = Path(make_url(database).database or "")
            assert _mode(db_file) == 0o600
        source = tmp_path / "clip.bin"
        source.write_bytes(b"\x00" * 1000)
        stored = media_store.resolve(media_store.put(source, ".mp4"))
        assert _mode(stored) == 0o600
        assert _mode(stored.parent) == 0o700 and _mode(media_store.store_root()) == 0o700
        get_settings().master_key()
        assert _mode(get_settings().home / "secret.key") == 0o600
        paths = create_dev_chain(tmp_path / "signing")
        assert _mode(paths["key"]) == 0o600 and _mode(tmp_path / "signing") == 0o700
    finally:
        os.umask(previous)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_new_sqlite_file_is_private(database: str, tmp_path: Path) -> None:
    from assembly.migrate import upgrade

    previous = os.umask(0o022)
    try:
        target = tmp_path / "fresh" / "cameoguard.db"
        upgrade(f"sqlite:///{target}")
        assert _mode(target) == 0o600 and _mode(target.parent) == 0o700
    finally:
        os.umask(previous)
