"""A flood of invented keys costs a set look-up, not a database query each: the ids of the keys
that exist are held in memory and reloaded at most once a second on an unknown id. A key
created by another process (here: written straight to the database, as the CLI would) is known
once that second has passed; one created in this process at once."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import event

from cameoguard.auth import keys
from cameoguard.auth.cache import forget_all
from cameoguard.auth.principal import Scope
from cameoguard.db import get_engine, session_scope
from tests.conftest import auth, make_key


def test_invented_keys_are_refused_without_a_query_each(client: TestClient) -> None:
    valid = make_key("platform")
    assert client.get("/v1/whoami", headers=auth(valid)).status_code == 200
    queries: list[str] = []

    def count(*args: object) -> None:
        queries.append(str(args[2]))

    event.listen(get_engine(), "before_cursor_execute", count)
    try:
        for n in range(40):
            invented = f"cg_{n:08x}_" + "z" * 43
            assert client.get("/v1/whoami", headers=auth(invented)).status_code in (401, 429)
        key_queries = [q for q in queries if "api_keys" in q]
        assert len(key_queries) <= 2, key_queries  # one reload of the ids, at most two
    finally:
        event.remove(get_engine(), "before_cursor_execute", count)
    assert client.get("/v1/whoami", headers=auth(valid)).status_code == 200


def test_a_key_made_elsewhere_is_known_within_a_second(client: TestClient) -> None:
    make_key("platform")
    forget_all()
    assert client.get("/v1/whoami", headers=auth("cg_00000000_" + "z" * 43)).status_code == 401
    # Another process's key: written without this process's listeners.
    listeners = list(keys.creation_listeners)
    keys.creation_listeners.clear()
    try:
        with session_scope() as session:
            elsewhere = keys.create_key(
                session, name="cli", scopes=[Scope.platform], created_by="test:cli"
            ).secret
    finally:
        keys.creation_listeners[:] = listeners
    deadline = time.monotonic() + 3
    status = client.get("/v1/whoami", headers=auth(elsewhere)).status_code
    while status != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        status = client.get("/v1/whoami", headers=auth(elsewhere)).status_code
    assert status == 200
    here = make_key("platform")  # this process: known at once
    assert client.get("/v1/whoami", headers=auth(here)).status_code == 200
