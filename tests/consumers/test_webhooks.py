"""Webhooks from the outbox to a real local HTTP receiver: every topic (none is named by the
webhook code), HMAC-signed, retried with backoff after a failure with the same Idempotency-Key,
at least once; admin routes to register, list and delete."""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from cameoguard.db import session_scope, utcnow
from cameoguard.events import emit
from consumers import webhooks
from consumers.tables import WebhookDelivery
from tests.conftest import auth, make_key


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                failing = receiver.fail_next > 0
                receiver.fail_next -= 1
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _round(client: httpx.Client) -> tuple[int, int]:
    webhooks.enqueue()
    return webhooks.deliver_due(client)


def test_events_reach_the_receiver_signed_retried_and_once_acknowledged(
    client: TestClient, receiver: Receiver
) -> None:
    admin = auth(make_key("admin"))
    with session_scope(write=True) as session:
        emit(
            session, "content.decisions", "it_before", {"item_id": "it_before"}
        )  # before: not sent
    created = client.post("/v1/webhooks", json={"url": receiver.url}, headers=admin)
    assert created.status_code == 201, created.text
    hook = created.json()
    assert client.get("/v1/webhooks", headers=admin).json()[0]["id"] == hook["id"]
    with session_scope(write=True) as session:
        emit(session, "consent.revoked", "cam_1", {"cameo_id": "cam_1", "reason": "revoked"})
        emit(session, "some.future.topic", "k", {"anything": True})  # no webhook code names it

    receiver.fail_next = 1
    with httpx.Client(timeout=10) as http:
        delivered, failed = _round(http)
        assert (delivered, failed) == (1, 1)  # the first attempt at the first event failed
        with session_scope(write=True) as session:  # its backoff has passed
            session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
        assert _round(http) == (1, 0)
        assert _round(http) == (0, 0)  # nothing is sent twice once acknowledged

    bodies = [json.loads(body) for _, body in receiver.received]
    assert [b["topic"] for b in bodies] == [
        "consent.revoked",
        "some.future.topic",
        "consent.revoked",
    ]
    assert bodies[0]["payload"] == {"cameo_id": "cam_1", "reason": "revoked"}
    assert bodies[0]["created_at"].endswith("Z")
    first, retry = receiver.received[0][0], receiver.received[2][0]
    assert first["Idempotency-Key"] == retry["Idempotency-Key"] == bodies[0]["id"]
    for headers, body in receiver.received:
        parts = dict(p.split("=", 1) for p in headers["X-Cameoguard-Signature"].split(","))
        expected = hmac.new(hook["secret"].encode(), f"{parts['t']}.".encode() + body, "sha256")
        assert hmac.compare_digest(parts["v1"], expected.hexdigest())

    deleted = client.delete(f"/v1/webhooks/{hook['id']}", headers=admin)
    assert deleted.status_code == 200
    assert client.get("/v1/webhooks", headers=admin).json() == []
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=admin).status_code == 404


def test_a_webhook_can_subscribe_to_some_topics_and_reviewers_cannot_register(
    client: TestClient, receiver: Receiver
) -> None:
    reviewer = auth(make_key("reviewer"))
    refused = client.post("/v1/webhooks", json={"url": receiver.url}, headers=reviewer)
    assert refused.status_code == 403
    platform = auth(make_key("platform"))
    body = {"url": receiver.url, "topics": ["content.decisions"]}
    assert client.post("/v1/webhooks", json=body, headers=platform).status_code == 201
    with session_scope(write=True) as session:
        emit(session, "consent.revoked", "cam_2", {"cameo_id": "cam_2"})
        emit(session, "content.decisions", "it_9", {"item_id": "it_9"})
    with httpx.Client(timeout=10) as http:
        assert _round(http) == (1, 0)
    assert [json.loads(b)["topic"] for _, b in receiver.received] == ["content.decisions"]
