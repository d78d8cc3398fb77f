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

from workflows.emit import emit
from workflows.versions import store_call


@workflow.defn
class CustomerWorkflow:
    """Id ``customer-<customer id>``: Temporal refuses a second one, so the event is sent once."""

    @workflow.run
    async def run(self, input: CustomerWorkflowInput) -> str:
        customer = input.customer
        workflow.upsert_search_attributes([CUSTOMER_ID.value_set(customer.customer_id)])
        await store_call(BillingActivities.create_customer, input)
        return await emit(
            EventType.CUSTOMER_CREATED,
            customer.customer_id,
            customer_payload(customer),
            SearchKeys(customer_id=customer.customer_id),
        )
