"""Webhooks for platforms without Kafka: every outbox event (feed decisions, consent
revocations, and any topic added later: nothing here names one) goes to the registered URLs.

Delivery is at least once, from the same outbox the relay publishes: a subscription's `cursor`
walks the outbox by id and turns each matching event into a delivery row in one transaction,
so nothing is skipped or lost across restarts; a delivery is retried with exponential backoff
until the receiver answers 2xx or its attempts run out. Each request carries
`Idempotency-Key: evt_<event id>` (the same on every retry: the receiver drops repeats),
`X-Cameoguard-Topic`, and `X-Cameoguard-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>">` with the subscription's secret (derived from the master key and the
subscription id, shown once when it is created and never stored)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from cameoguard.audit.log import record
from cameoguard.crypto import derive_key
from cameoguard.db import session_scope, utcnow
from cameoguard.errors import Refusal, RefusalKind
from cameoguard.events import OutboxEvent
from cameoguard.timestamps import rfc3339
from consumers.tables import WebhookDelivery, WebhookSubscription

log = logging.getLogger("cameoguard.webhooks")
MAX_ATTEMPTS = 10
MAX_BACKOFF_S = 3600.0
BATCH = 100


class WebhookError(Refusal):
    pass


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    topics: list[str]
    tenant: str | None
    active: bool


def secret_of(subscription_id: str) -> str:
    """The subscription's signing secret: derived, so it is never stored."""
    return hmac.new(derive_key("webhooks-v1"), subscription_id.encode(), "sha256").hexdigest()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _view(row: WebhookSubscription) -> Subscription:
    return Subscription(row.id, row.url, list(row.topics or []), row.tenant, row.active)


def subscribe(url: str, topics: list[str], *, tenant: str | None, actor: str) -> Subscription:
    """Registers `url` for the events from now on (all topics when `topics` is empty)."""
    if not url.startswith(("https://", "http://")):
        raise WebhookError(RefusalKind.invalid, "bad_webhook_url", "the URL must be http(s)")
    with session_scope(write=True) as session:
        latest = session.scalar(select(func.max(OutboxEvent.id))) or 0
        row = WebhookSubscription(
            id=f"whk_{secrets.token_hex(8)}", url=url, topics=sorted(set(topics)), tenant=tenant,
            cursor=latest, active=True, created_by=actor,
        )  # fmt: skip
        session.add(row)
        record(session, actor=actor, action="webhook.subscribe", subject=f"webhook:{row.id}",
               reason=f"{url} for {', '.join(row.topics) or 'every topic'}")  # fmt: skip
        return _view(row)


def subscriptions(tenant: str | None) -> list[Subscription]:
    query = select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
    if tenant is not None:
        query = query.where(WebhookSubscription.tenant == tenant)
    with session_scope() as session:
        return [_view(r) for r in session.scalars(query.order_by(WebhookSubscription.created_at))]


def unsubscribe(subscription_id: str, *, tenant: str | None, actor: str) -> Subscription:
    with session_scope(write=True) as session:
        row = session.get(WebhookSubscription, subscription_id)
        if row is None or not row.active or (tenant is not None and row.tenant != tenant):
            raise WebhookError(
                RefusalKind.not_found, "unknown_webhook", f"no webhook {subscription_id}"
            )
        row.active = False
        record(session, actor=actor, action="webhook.unsubscribe", subject=f"webhook:{row.id}",
               reason=row.url)  # fmt: skip
        return _view(row)


def _wanted(sub: WebhookSubscription, event: OutboxEvent) -> bool:
    if sub.topics and event.topic not in sub.topics:
        return False
    tenant = (event.payload or {}).get("tenant") if isinstance(event.payload, dict) else None
    return sub.tenant is None or tenant in (None, "", sub.tenant)


def enqueue() -> int:
    """Turns the outbox events past each subscription's cursor into delivery rows; returns how
    many were added."""
    added = 0
    with session_scope(write=True) as session:
        for sub in session.scalars(
            select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
        ):
            events = session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.id > sub.cursor)
                .order_by(OutboxEvent.id)
                .limit(BATCH)
            ).all()
            for event in events:
                if _wanted(sub, event):
                    session.add(WebhookDelivery(subscription_id=sub.id, event_id=event.id))
                    added += 1
            if events:
                sub.cursor = events[-1].id
    return added


def _body(event: OutboxEvent) -> bytes:
    return json.dumps(
        {
            "id": f"evt_{event.id}",
            "topic": event.topic,
            "key": event.key,
            "created_at": rfc3339(event.created_at),
            "payload": event.payload,
        },
        separators=(",", ":"),
    ).encode()


def deliver_due(client: httpx.Client) -> tuple[int, int]:
    """Sends every delivery that is due; returns (delivered, failed attempts)."""
    now = utcnow()
    with session_scope() as session:
        due = session.execute(
            select(WebhookDelivery, WebhookSubscription, OutboxEvent)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.event_id)
            .limit(BATCH)
        ).all()
        work = [
            (d.subscription_id, d.event_id, d.attempts, s.url, s.active, e.topic, _body(e))
            for d, s, e in due
        ]
    delivered = failed = 0
    for sub_id, event_id, attempts, url, active, topic, body in work:
        if not active:
            _finish(sub_id, event_id, "cancelled", attempts, "the subscription was deleted")
            continue
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"evt_{event_id}",
            "X-Cameoguard-Topic": topic,
            "X-Cameoguard-Signature": signature(secret_of(sub_id), stamp, body),
        }
        try:
            answer = client.post(url, content=body, headers=headers)
            error = None if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        if error is None:
            _finish(sub_id, event_id, "delivered", attempts + 1, None)
            delivered += 1
            log.debug("webhook delivered", extra={"webhook": sub_id, "event": event_id})
            continue
        failed += 1
        attempts += 1
        status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        backoff = min(MAX_BACKOFF_S, 2.0**attempts)
        _finish(sub_id, event_id, status, attempts, error, retry_in_s=backoff)
        details = {"webhook": sub_id, "event": event_id, "error": error, "attempts": attempts}
        log.info("webhook attempt failed", extra=details)
    return delivered, failed


def _finish(
    sub_id: str,
    event_id: int,
    status: str,
    attempts: int,
    error: str | None,
    retry_in_s: float = 0.0,
) -> None:
    values: dict[str, Any] = {"status": status, "attempts": attempts, "last_error": error}
    if status == "delivered":
        values["delivered_at"] = utcnow()
    if status == "pending":
        values["next_attempt_at"] = utcnow() + timedelta(seconds=retry_in_s)
    with session_scope(write=True) as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == sub_id, WebhookDelivery.event_id == event_id)
            .values(**values)
        )


class WebhookSender:
    """The webhook worker's loop: enqueue new events, send what is due, until stopped."""

    def __init__(self, timeout_s: float = 10.0, poll_s: float = 1.0) -> None:
        self.timeout_s, self.poll_s = timeout_s, poll_s
        self.delivered = 0
        self.failed = 0

    def run(self, stop: threading.Event) -> None:
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
            while not stop.is_set():
                try:
                    enqueue()
                    delivered, failed = deliver_due(client)
                except Exception as exc:  # a database outage: try again after a pause
                    log.warning("webhook round failed", extra={"error": str(exc)[:300]})
                    delivered, failed = 0, 0
                self.delivered += delivered
                self.failed += failed
                if not delivered:
                    stop.wait(self.poll_s)


def pending_deliveries() -> int:
    with session_scope() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status == "pending")
            )
            or 0
        )
