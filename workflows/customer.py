"""``CustomerWorkflow``: store a customer and emit ``customer.created``, once per customer id."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.billing import BillingActivities
    from models.billing import CustomerWorkflowInput
    from models.delivery import SearchKeys
    from models.events import EventType
    from models.payloads import customer_payload
    from models.search import CUSTOMER_ID

from workflows.delivery import STORE_RETRY, STORE_TIMEOUT
from workflows.emit import emit


@workflow.defn
class CustomerWorkflow:
    """Id ``customer-<customer id>``: Temporal refuses a second one, so the event is sent once."""

    @workflow.run
    async def run(self, input: CustomerWorkflowInput) -> str:
        customer = input.customer
        workflow.upsert_search_attributes([CUSTOMER_ID.value_set(customer.customer_id)])
        await workflow.execute_activity_method(
            BillingActivities.create_customer,
            input,
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
        )
        return await emit(
            EventType.CUSTOMER_CREATED,
            customer.customer_id,
            customer_payload(customer),
            SearchKeys(customer_id=customer.customer_id),
        )
