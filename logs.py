"""Log output: text for people, or one JSON object per line (``BILLHOOK_LOG_FORMAT=json``).

A JSON line holds ``time``, ``level``, ``logger`` and ``message``, the Temporal context the SDK's
loggers attach (``temporal_activity``, ``temporal_workflow``) when present, and ``exception``
for a traceback. Nothing else from a record's ``extra`` is written, so a payload or a secret
passed there by mistake cannot reach the logs.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from temporalio import activity
from temporalio.runtime import LogForwardingConfig, LoggingConfig, TelemetryFilter

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: The ``extra`` keys Temporal's SDK loggers set, copied into JSON lines as they are.
TEMPORAL_CONTEXT = ("temporal_activity", "temporal_workflow")


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON; see the module docstring for its keys."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a compact JSON object, without a trailing newline."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in TEMPORAL_CONTEXT:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # default=str: a context value the SDK adds later must not make a log line fail.
        return json.dumps(entry, ensure_ascii=False, default=str)


class ActivityContext(logging.Filter):
    """Adds ``temporal_activity`` to records logged inside an activity by plain loggers.

    The SDK's ``activity.logger`` attaches it itself; billhook's modules log with their own
    loggers, and their lines should say which workflow and attempt they belong to too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the running activity's identity, when there is one; never drops a record."""
        if not hasattr(record, "temporal_activity") and activity.in_activity():
            info = activity.info()
            record.temporal_activity = {
                "activity_id": info.activity_id,
                "activity_type": info.activity_type,
                "attempt": info.attempt,
                "namespace": info.namespace,
                "task_queue": info.task_queue,
                "workflow_id": info.workflow_id,
                "workflow_run_id": info.workflow_run_id,
                "workflow_type": info.workflow_type,
            }
        return True


def configure(log_format: LogFormat, level: str) -> None:
    """Send the process's logs to stderr in ``log_format``, at ``level`` and above."""
    logging.basicConfig(level=level.upper(), handlers=[make_handler(log_format)], force=True)
    # httpx logs each request's full URL at INFO, ``user:password@`` and all (endpoint URLs
    # may carry credentials in development); the delivery activity logs a redacted line instead.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.root.level))


def make_handler(log_format: LogFormat, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing ``log_format`` lines to ``stream`` (stderr when None)."""
    handler = logging.StreamHandler(stream)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        handler.addFilter(ActivityContext())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler


def core_logging(log_format: LogFormat) -> LoggingConfig:
    """How Temporal's Rust core logs: its warnings, through Python logging in JSON mode.

    Core writes its own text lines to stderr by default; forwarded, they become JSON lines too.
    """
    if log_format == "text":
        return LoggingConfig.default
    return LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )
