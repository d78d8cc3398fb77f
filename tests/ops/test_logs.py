"""Log lines: ``BILLHOOK_LOG_FORMAT=json`` writes one JSON object a line, with Temporal context."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from logs import make_handler


@contextmanager
def json_lines(*names: str) -> Iterator[io.StringIO]:
    """Loggers ``names`` writing JSON lines (INFO and up) to a string, for the block."""
    stream = io.StringIO()
    handler = make_handler("json", stream)
    loggers = [logging.getLogger(name) for name in names]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
        lg.propagate = False
    try:
        yield stream
    finally:
        for lg, (level, propagate) in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of this test writing JSON lines to a string."""
    with json_lines("billhook.test_logs") as stream:
        yield logging.getLogger("billhook.test_logs"), stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_outside_temporal_has_time_level_logger_and_message(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logger
    log.warning("endpoint %s is failing", "whend_1")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("could not record")

    first, second = lines(stream)
    assert set(first) == {"time", "level", "logger", "message"}
    assert (first["level"], first["logger"], first["message"]) == (
        "WARNING",
        "billhook.test_logs",
        "endpoint whend_1 is failing",
    )
    assert str(first["time"]).endswith("+00:00")
    assert "ValueError: boom" in str(second["exception"])


async def test_lines_inside_an_activity_carry_its_context() -> None:
    ours = logging.getLogger("billhook.test_logs")  # a module's logger, as billhook's use

    @activity.defn
    async def deliver() -> None:
        ours.info("attempt 1 of msg_1")
        activity.logger.info("from the SDK's logger")

    env = ActivityEnvironment()
    with json_lines(ours.name, activity.logger.logger.name) as stream:
        await env.run(deliver)

    own, sdks = lines(stream)
    # The same context the SDK's own logger attaches: which activity, attempt and workflow.
    assert own["temporal_activity"] == sdks["temporal_activity"]
    context = own["temporal_activity"]
    assert isinstance(context, dict)
    assert (context["activity_id"], context["attempt"]) == (env.info.activity_id, 1)
    assert context["workflow_id"] == env.info.workflow_id
    assert own["message"] == "attempt 1 of msg_1"
    assert str(sdks["message"]).startswith("from the SDK's logger")


def test_extra_fields_other_than_temporal_context_are_not_written(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logger
    log.info("delivered", extra={"secret": "whsec_abc", "temporal_workflow": {"workflow_id": "w"}})
    [line] = lines(stream)
    assert "whsec_abc" not in stream.getvalue()
    assert line["temporal_workflow"] == {"workflow_id": "w"}


def test_text_format_is_one_plain_line() -> None:
    stream = io.StringIO()
    handler = make_handler("text", stream)
    handler.handle(logging.LogRecord("billhook.worker", logging.INFO, "", 0, "stopped", (), None))
    assert stream.getvalue().rstrip().endswith("INFO billhook.worker: stopped")
