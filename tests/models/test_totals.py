"""Invoice totals add up, over random plans and usage: what a receiver reads, through JSON.

Each example is a plan (a flat charge in advance or in arrears, metered components with
sub-cent prices and free units) in a currency of 0, 2 or 3 minor-unit digits, a period's usage,
and whether the subscription renews onto the next period. Its invoice is built by the code the
workflows call (``models.invoicing.period_end_lines``, ``models.payloads.invoice_payload``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from models.billing import (
    Aggregation,
    ChargeTiming,
    FlatCharge,
    InvoiceWorkflowInput,
    MetricSnapshot,
    PaymentStatus,
    PlanVersionSnapshot,
    UsageComponent,
)
from models.invoicing import period_end_lines
from models.money import minor_units
from models.payloads import invoice_payload
from tests.models import fixtures

CURRENCIES = ["USD", "EUR", "JPY", "KRW", "KWD", "BHD", "XYZ"]


def _decimal(places: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(0, high * 10**places).map(lambda n: Decimal(n).scaleb(-places))


@st.composite
def plans(draw: st.DrawFn) -> PlanVersionSnapshot:
    currency = draw(st.sampled_from(CURRENCIES))
    flat = draw(
        st.none()
        | st.builds(FlatCharge, amount=_decimal(4, 1000), timing=st.sampled_from(ChargeTiming))
    )
    components = [
        UsageComponent(
            metric=MetricSnapshot(
                metric_id=f"metric_{index:032x}",
                name=f"Metric {index}",
                event_name=f"event_{index}",
                aggregation=Aggregation.COUNT,
            ),
            unit_price=draw(_decimal(draw(st.integers(0, 6)), 5)),
            free_units=draw(_decimal(0, 100)),
        )
        for index in range(draw(st.integers(0, 5)))
    ]
    return fixtures.PLAN.model_copy(
        update={"currency": currency, "flat_charge": flat, "components": components}
    )


def _invoice_payload(plan: PlanVersionSnapshot, usage: dict[str, Decimal], renews: bool) -> Any:
    period_0, period_1 = fixtures.PERIOD_0[:2], fixtures.PERIOD_1[:2]
    lines = period_end_lines(plan, usage, period_0, (plan, period_1) if renews else None)
    customer = fixtures.CUSTOMER.model_copy(update={"currency": plan.currency})
    invoice = InvoiceWorkflowInput(
        invoice_id=fixtures.INVOICE_ID,
        subscription_id=fixtures.SUBSCRIPTION_ID,
        customer=customer,
        plan=plan,
        line_items=lines,
    )
    state = fixtures.invoice_state(
        PaymentStatus.UNPAID, amount=invoice.amount, currency=plan.currency
    )
    return invoice, json.loads(json.dumps(invoice_payload(invoice, state)))


def _read(number: float) -> Decimal:
    """A JSON number as the decimal a receiver reads it as (``Decimal(str(x))``)."""
    return Decimal(str(number))


@settings(max_examples=300, deadline=None)
@given(
    plan=plans(),
    quantities=st.lists(_decimal(3, 100_000), min_size=5, max_size=5),
    renews=st.booleans(),
)
def test_lines_add_up_to_the_amount_rounded_once(
    plan: PlanVersionSnapshot, quantities: list[Decimal], renews: bool
) -> None:
    usage = {c.metric.metric_id: q for c, q in zip(plan.components, quantities, strict=False)}

    invoice, payload = _invoice_payload(plan, usage, renews)

    unit = Decimal(1).scaleb(-minor_units(plan.currency))
    exact = sum((line.base for line in invoice.line_items), Decimal(0))
    amount = _read(payload["amount"])
    lines = payload["line_items"]
    assert _read(payload["cost_due"]) == amount
    assert sum((_read(line["amount"]) for line in lines), Decimal(0)) == amount
    # Rounded once, half up: within half a minor unit of the exact sum, and in minor units.
    assert abs(amount - exact) <= unit / 2 and amount == amount.quantize(unit)
    for line, data in zip(lines, invoice.line_items, strict=True):
        shown = _read(line["amount"])
        assert _read(line["base"]) == _read(line["subtotal"]) == shown
        assert abs(shown - data.base) < unit and shown == shown.quantize(unit)
