"""Database engine, sessions and the declarative base shared by every area's tables.

SQLite is the embedded default; PostgreSQL is the production database. Each area declares its
tables on `Base` in its own `tables.py`; `assembly.migrations` holds the Alembic history.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import MetaData, create_engine, event, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from cameoguard.files import private_file
from cameoguard.settings import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; every time stored here is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# More connections than the server's worker threads (anyio's default is 40), so a request thread
# never waits for a connection held by a thread that is itself waiting for a worker slot.
POOL_SIZE, MAX_OVERFLOW = 10, 40


def prepare_sqlite_file(url: str) -> None:
    """Creates a SQLite database file 0600 in a 0700 folder before SQLite opens it (it gives its
    -wal and -shm files the same mode). Nothing for other databases."""
    if not url.startswith("sqlite"):
        return
    database = make_url(url).database
    if database and database != ":memory:":
        private_file(Path(database))


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        prepare_sqlite_file(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=POOL_SIZE,
            max_overflow=MAX_OVERFLOW,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            # Switching to WAL takes a lock that does not wait on the busy timeout: a new
            # connection opened while another holds a write failed with "database is locked".
            # The mode is stored in the file, so it is set once, by the first connection.
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: commits survive a process crash; an OS crash may lose the last ones.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        connect_args={"connect_timeout": 5},
    )


_engine: Engine | None = None
_sessionmaker: sessionmaker[Session] | None = None
# Called whenever the engine is reset (what was cached from the old database is dropped).
reset_listeners: list[Callable[[], None]] = []


def get_engine() -> Engine:
    global _engine, _sessionmaker
    if _engine is None:
        _engine = make_engine(get_settings().effective_database_url)
        _sessionmaker = sessionmaker(_engine, expire_on_commit=False)
    return _engine


def reset_engine() -> None:
    """Dispose of the engine so the next use reads the settings again (tests, CLI)."""
    global _engine, _sessionmaker
    if _engine is not None:
        _engine.dispose()
    _engine, _sessionmaker = None, None
    for listener in reset_listeners:
        listener()


# SQLite admits one writer at a time and makes the others sleep with back-off, which turns a burst
# of concurrent writes into a convoy. In-process writers queue on this lock instead.
_sqlite_write_lock = threading.Lock()


@contextmanager
def write_lock(engine: Engine) -> Iterator[None]:
    """Held around a write transaction: the in-process SQLite writer queue; nothing elsewhere."""
    if engine.dialect.name != "sqlite":
        yield
        return
    with _sqlite_write_lock:
        yield


@contextmanager
def session_scope(write: bool = False) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error.

    `write=True` declares a short write transaction: on SQLite it is serialised in-process and
    starts with BEGIN IMMEDIATE; on PostgreSQL it changes nothing."""
    engine = get_engine()
    assert _sessionmaker is not None
    with write_lock(engine) if write else nullcontext():
        session = _sessionmaker()
        try:
            if write and engine.dialect.name == "sqlite":
                session.execute(text("BEGIN IMMEDIATE"))
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def ping() -> None:
    """Raises if the database cannot answer a trivial query."""
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
