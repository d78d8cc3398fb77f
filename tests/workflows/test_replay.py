"""Recorded histories replayed against today's workflow code: a change that would break
running workflows (non-determinism) fails here before it reaches a worker."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.conftest import HISTORIES
from worker import WORKFLOWS

RECORDED = {path.stem: path.read_text() for path in sorted(HISTORIES.glob("*.json"))}


def test_histories_are_recorded() -> None:
    current = {
        # 0.4: each step of a subscription one local activity; a renewal records and announces
        # the next period, issues the ended one's invoice, then continues as new.
        "subscription-renewal-in-one-step",
        # 0.5: subscription.cancelled sent by the step that ends a cancelled subscription.
        "subscription-final-period",
        "subscription-cancelled-now",
        "invoice-issued-by-its-step-then-paid",
        "invoice-past-due-then-paid",
        "dispatch-first-attempt-then-retries",
        # 0.6: an event held behind a batch in flight waits FILL_WAIT (a timer), then goes.
        "dispatch-held-events-wait",
        "dispatch-held-events-go-with-the-next-batch",  # its timer cancelled
        "retry-two-failures-then-success",
    }
    # Recorded by billhook 0.1, before batched delivery: runs started then must still replay.
    legacy = {
        "v0.1-subscription-first-period",
        "v0.1-invoice-past-due-then-paid",
        "v0.1-delivery-two-failures-then-success",
        # Recorded by billhook 0.2: a renewal handing its invoice to the next run.
        "v0.2-subscription-next-run-issues-invoice",
        # Recorded by billhook 0.3: the run closing a period issues its invoice; the next run
        # records and announces itself.
        "v0.3-subscription-closing-run-issues-invoice",
        "v0.3-subscription-final-period",
        "v0.3-invoice-past-due-then-paid",
        # Recorded by billhook 0.5: a dispatcher that starts a batch whenever fewer than four
        # are in flight (0.6 lets events wait behind a batch in flight; ``FILL_BATCHES``).
        "v0.5-dispatch-first-attempt-then-retries",
    }
    assert current | legacy <= RECORDED.keys()


@pytest.mark.parametrize("name", RECORDED)
async def test_recorded_history_replays(name: str) -> None:
    history = WorkflowHistory.from_json(name, RECORDED[name])
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
