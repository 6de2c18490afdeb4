"""One timestamp format everywhere, the logs included: RFC 3339 in UTC with a Z."""

from __future__ import annotations

import json
import logging
import re

from cameoguard.observability import JsonFormatter


def test_log_lines_carry_rfc3339_z_timestamps() -> None:
    record = logging.makeLogRecord({"msg": "hello", "levelname": "INFO", "name": "t"})
    line = json.loads(JsonFormatter().format(record))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"]), line["ts"]
