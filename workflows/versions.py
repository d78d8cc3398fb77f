"""What changed under running workflows, and how their old histories keep replaying.

billhook 0.2 emits events to dispatchers (``workflows.emit``) instead of starting a
``DeliveryWorkflow`` child per event, and reaches the store through local activities instead
of activities (``store_call``): fewer history events and server round trips per renewal. A run
that started before 0.2 has neither in its history, so ``workflow.patched`` answers False
while it replays and for the rest of that run, which goes on the 0.1 way; its next run
(continue-as-new) and every new workflow take the 0.2 paths.

billhook 0.3 issues a period's invoice from the run that closes the period, before it
continues as new (``CLOSE_ISSUES_INVOICE``); a run that reached its period's end before 0.3
handed the invoice to its next run instead (``SubscriptionWorkflowInput.closing_lines``), and
replays that way. The next run still issues lines it is handed, so a run continued as new by
0.2 bills its ended period either way.

billhook 0.4 makes each step of a subscription (start, renewal, cancellation, end) one local
activity (``ONE_STEP``): the record, the invoice and the events in one call, the next period
recorded and announced by the run that closes the previous one, and invoices started already
issued. A run that reached a step before 0.4 replays it the 0.3 way.

billhook 0.5 sends ``subscription.cancelled`` when a cancelled subscription ends, as Lotus did
(``CANCELLED_WHEN_ENDED``): a cancellation (now or at the period's end) is recorded at once and
announced by the step that ends the subscription, with its final invoice (``fully_billed``) and
its real ``is_new``. A run cancelled before 0.5 announced it at the cancellation, and replays so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from temporalio import workflow

from workflows.policies import STORE_RETRY, STORE_TIMEOUT

RELEASE_0_2 = "billhook-0.2"
#: The run that closes a period issues its invoice (0.3); before, its next run did.
CLOSE_ISSUES_INVOICE = "billhook-0.3-close-issues-invoice"

#: Each lifecycle step is one local activity, renewals included (0.4).
ONE_STEP = "billhook-0.4-one-step"
#: A cancellation that arrives before the start is recorded waits for it (0.4).
CANCEL_AFTER_START = "billhook-0.4-cancel-after-start"
#: ``subscription.cancelled`` is sent by the step that ends the subscription (0.5).
CANCELLED_WHEN_ENDED = "billhook-0.5-cancelled-when-ended"

R = TypeVar("R")


def batched() -> bool:
    """Whether this run takes billhook 0.2's paths (always, but when replaying a 0.1 run)."""
    return workflow.patched(RELEASE_0_2)


def close_issues_invoice() -> bool:
    """Whether the run closing a period issues its invoice (0.3), not the next run.

    Only on the 0.2 paths: invoices started by a local activity outlive the run that starts
    them with no child to wait for, so the run can start one just before it continues as new.
    """
    return batched() and workflow.patched(CLOSE_ISSUES_INVOICE)


def one_step() -> bool:
    """Whether this run makes each lifecycle step in one local activity (0.4).

    First asked as a run starts, where a 0.3 run asked nothing: a 0.3 run replays with False
    here and goes on the 0.3 way (``close_issues_invoice``, asked at its period's end).
    """
    return batched() and workflow.patched(ONE_STEP)


def cancel_after_start() -> bool:
    """Whether a cancellation waits for the start's step (0.4). Asked only while the start is
    not recorded, so a run that never meets that case records no marker for it."""
    return workflow.patched(CANCEL_AFTER_START)


def cancelled_when_ended() -> bool:
    """Whether ``subscription.cancelled`` waits for the subscription's end (0.5), not sent at
    the cancellation. Asked on the 0.4 paths only, first by the cancellation (a run that
    replays a 0.4 cancellation answers False, and its end too) and again as a cancelled
    subscription ends."""
    return workflow.patched(CANCELLED_WHEN_ENDED)


async def store_call(activity: Callable[..., R], arg: Any, *, since_0_2: bool = False) -> R:
    """Run a store activity: local since 0.2 (no scheduling round trip), retried until it answers.

    A store write needs no retry schedule of its own: the workflow task waits for it, and
    ``STORE_RETRY`` retries it until the database answers again. ``since_0_2``: the caller knows
    its run started on 0.2 or later (its input says so), and asks no patch.
    """
    if since_0_2 or batched():
        return await workflow.execute_local_activity_method(
            activity, arg, start_to_close_timeout=STORE_TIMEOUT, retry_policy=STORE_RETRY
        )
    return await workflow.execute_activity_method(
        activity, arg, start_to_close_timeout=STORE_TIMEOUT, retry_policy=STORE_RETRY
    )
