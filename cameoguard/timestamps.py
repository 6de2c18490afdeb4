"""One timestamp format in every answer: RFC 3339 in UTC with a `Z` (2026-11-26T14:05:41.255Z).
Models declare their times as `Timestamp`; naive datetimes (SQLite hands them back without their
zone) are UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer


def rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str, when_used="always")]
