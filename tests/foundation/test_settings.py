from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cameoguard.settings import Settings


def test_defaults_put_state_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMEOGUARD_HOME", str(tmp_path))
    monkeypatch.delenv("CAMEOGUARD_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'cameoguard.db'}"
    assert settings.effective_media_dir == tmp_path / "media"


def test_environment_overrides_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "cameoguard.toml"
    config.write_text(
        'kafka_bootstrap = "broker-a:9092"\nport = 9000\nready_requires = ["database"]\n'
    )
    monkeypatch.setenv("CAMEOGUARD_CONFIG", str(config))
    monkeypatch.setenv("CAMEOGUARD_PORT", "9100")
    settings = Settings()
    assert settings.kafka_bootstrap == "broker-a:9092"  # from the file
    assert settings.port == 9100  # the environment wins
    assert settings.ready_requires == ["database"]


def test_csv_list_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMEOGUARD_READY_REQUIRES", "database,broker")
    assert Settings().ready_requires == ["database", "broker"]


def test_unknown_key_in_toml_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('databse_url = "typo"\n')
    monkeypatch.setenv("CAMEOGUARD_CONFIG", str(config))
    with pytest.raises(ValueError, match="databse_url"):
        Settings()


def test_missing_named_config_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMEOGUARD_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError):
        Settings()


def test_master_key_file_created_once_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMEOGUARD_HOME", str(tmp_path))
    monkeypatch.delenv("CAMEOGUARD_SECRET_KEY", raising=False)
    first = Settings().master_key()
    assert len(first) == 32
    assert Settings().master_key() == first
    mode = stat.S_IMODE((tmp_path / "secret.key").stat().st_mode)
    assert mode == 0o600


def test_short_configured_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMEOGUARD_SECRET_KEY", "ab" * 8)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Settings().master_key()


def test_secret_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMEOGUARD_SECRET_KEY", "cd" * 32)
    assert "cd" * 32 not in repr(Settings())
