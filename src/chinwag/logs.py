"""Log output for `chinwag serve`: text for people, JSON lines for log shippers.

Records from one client connection carry ``conn`` (its id) and ``peer`` (its
address) as attributes (``Connection.log``, ``extra=`` in the server); both
formats show them.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from chinwag.protocols.sanitize import terminal_safe_lines

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s%(where)s: %(message)s"


class TextFormatter(logging.Formatter):
    """``2026-11-30 08:53:12,345 INFO chinwag.conn [conn 7]: closing ...``"""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        conn = getattr(record, "conn", None)
        record.where = f" [conn {conn}]" if conn is not None else ""
        # Log lines carry what users typed (a part or quit reason at INFO, every
        # message at DEBUG): none of their escape sequences reaches the terminal
        # of the person reading the log.
        return terminal_safe_lines(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message,
    conn and peer when the record concerns a connection, exc for a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": terminal_safe_lines(record.getMessage()),
        }
        for key in ("conn", "peer"):
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(level: str, fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send every ``chinwag`` (and library) record at ``level`` or above to stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
