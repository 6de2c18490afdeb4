"""Shared fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL, the app,
and API keys. PostgreSQL tests need CAMEOGUARD_TEST_POSTGRES_URL (scripts/test.sh sets it);
without it they are skipped, except in CI where a missing server is a failure."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from cameoguard.cost import reset_costs
from cameoguard.db import reset_engine, session_scope
from cameoguard.ratelimit import reset_limiter
from cameoguard.settings import reset_settings_cache

PG_URL = os.environ.get("CAMEOGUARD_TEST_POSTGRES_URL", "")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _require_postgres() -> str:
    if not PG_URL:
        if IN_CI:
            pytest.fail("CI must run the PostgreSQL tests: CAMEOGUARD_TEST_POSTGRES_URL is unset")
        pytest.skip("no PostgreSQL: set CAMEOGUARD_TEST_POSTGRES_URL or use scripts/test.sh")
    return PG_URL


def _pg_admin(url: str) -> psycopg.Connection:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(plain, autocommit=True, connect_timeout=5)


def _pg_database_url(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test copies it (fast) instead of migrating again."""
    url = _require_postgres()
    from assembly.migrate import upgrade

    name = f"cg_tmpl_{uuid.uuid4().hex[:10]}"
    with _pg_admin(url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    upgrade(_pg_database_url(url, name))
    yield name
    with _pg_admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh migrated database, configured as the service's database for this test."""
    monkeypatch.setenv("CAMEOGUARD_HOME", str(tmp_path / "home"))
    # Tests send many requests without keys from one address; the flood tests set their own.
    monkeypatch.setenv("CAMEOGUARD_UNAUTHENTICATED_RATE_LIMIT_BURST", "10000")
    reset_limiter()
    reset_costs()
    (tmp_path / "home").mkdir()
    if request.param == "sqlite":
        from assembly.migrate import upgrade

        url = f"sqlite:///{tmp_path / 'test.db'}"
        monkeypatch.setenv("CAMEOGUARD_DATABASE_URL", url)
        reset_settings_cache()
        upgrade(url)
        reset_engine()
        yield url
        reset_engine()
        reset_settings_cache()
        return
    template = request.getfixturevalue("pg_template")
    name = f"cg_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin(PG_URL) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = _pg_database_url(PG_URL, name)
    monkeypatch.setenv("CAMEOGUARD_DATABASE_URL", url)
    reset_settings_cache()
    reset_engine()
    yield url
    reset_engine()
    reset_settings_cache()
    with _pg_admin(PG_URL) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def client(database: str) -> Iterator[TestClient]:
    from assembly.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def make_key(*scopes: str, roles: list[str] | None = None, name: str = "test") -> str:
    from cameoguard.auth.keys import create_key
    from cameoguard.auth.principal import Scope

    with session_scope() as session:
        return create_key(
            session,
            name=name,
            scopes=[Scope(s) for s in scopes],
            roles=roles,
            created_by="test:fixture",
        ).secret


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def admin_key(database: str) -> str:
    return make_key("admin", name="admin")


@pytest.fixture
def platform_key(database: str) -> str:
    return make_key("platform", name="platform")


@pytest.fixture(scope="session")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real 2 s MP4 with sound, for the feed's and the review queue's tests."""
    from tests.media_factory import make_clip

    path = tmp_path_factory.mktemp("clips") / "clip.mp4"
    make_clip(path, seconds=2.0, width=320, height=180)
    return path.read_bytes()
