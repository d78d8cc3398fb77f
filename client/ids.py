"""Workflow ids: one function per workflow, each from the business key it runs for.

The one place ids are spelled: the client starts and addresses workflows by them, and the
workflows use them for the workflows they start. Pure string functions with no imports, so
workflows import this module inside ``workflow.unsafe.imports_passed_through()``.

An id's value is part of every running workflow and recorded history: change where one is
computed, never what it is.
"""

from __future__ import annotations


def customer_workflow_id(customer_id: str) -> str:
    """``customer-<customer id>``: never reused, so ``customer.created`` is sent once."""
    return f"customer-{customer_id}"


def subscription_workflow_id(subscription_id: str) -> str:
    """``subscription-<sub id>``: one id for every period (run) of the subscription."""
    return f"subscription-{subscription_id}"


def invoice_workflow_id(invoice_id: str) -> str:
    """``invoice-<invoice id>``: Temporal refuses a second start of the same invoice."""
    return f"invoice-{invoice_id}"


def dispatch_task_queue(task_queue: str) -> str:
    """``<queue>-dispatch``: where the dispatchers of ``task_queue`` run (since 0.6).

    Each worker process serves it beside ``task_queue`` with a worker of its own, so the few
    long-lived dispatchers never wait behind, nor are evicted from the cache by, a burst of
    lifecycle runs (see ``worker.build_worker``).
    """
    return f"{task_queue}-dispatch"


def dispatcher_workflow_id(task_queue: str, shard: int) -> str:
    """``dispatch-<queue>-<shard>``: one dispatcher per task queue and shard, running for good."""
    return f"dispatch-{task_queue}-{shard}"


def retry_workflow_id(message_id: str, endpoint_id: str) -> str:
    """``retry-<msg>-<endpoint>``: one delivery's retries, one per message and endpoint, ever."""
    return f"retry-{message_id}-{endpoint_id}"


def resend_workflow_id(message_id: str, endpoint_id: str) -> str:
    """``resend-<msg>-<endpoint>``: a manual resend; the same one asked twice joins the first."""
    return f"resend-{message_id}-{endpoint_id}"


def recover_workflow_id(endpoint_id: str) -> str:
    """``recover-<endpoint>``: resending what an endpoint missed, one at a time per endpoint."""
    return f"recover-{endpoint_id}"
