"""Invoices: issued once with a per-day number, exact amounts and lines, updated, listed."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from store_testing import T0

from errors import InvalidInput, NotFound
from models.billing import (
    CustomerSnapshot,
    InvoiceState,
    InvoiceWorkflowInput,
    LineItemData,
    PaymentStatus,
    PlanVersionSnapshot,
)
from store.catalog import Catalog

Rows = Callable[[], dict[str, int]]
NET_TERMS = timedelta(days=30)
PLAN = PlanVersionSnapshot(
    plan_id="plan_1", plan_name="Pro", version_id="plan_version_1", version=1, currency="EUR"
)


def _line(base: str, name: str = "Pro flat fee", quantity: str | None = None) -> LineItemData:
    return LineItemData(
        name=name,
        start=datetime(2025, 2, 1, tzinfo=UTC),
        end=datetime(2025, 3, 1, tzinfo=UTC) - timedelta(microseconds=1),
        quantity=None if quantity is None else Decimal(quantity),
        billing_type="in_arrears",
        base=Decimal(base),
        metric_id=None if quantity is None else "metric_1",
    )


def _invoice(
    invoice_id: str = "invoice_1",
    *bases: str,
    customer_id: str = "acme",
    subscription_id: str = "sub_1",
) -> InvoiceWorkflowInput:
    return InvoiceWorkflowInput(
        invoice_id=invoice_id,
        subscription_id=subscription_id,
        customer=CustomerSnapshot(customer_id=customer_id),
        plan=PLAN,
        line_items=[_line(base) for base in bases or ("49.99",)],
    )


def _issue(catalog: Catalog, invoice: InvoiceWorkflowInput, at: datetime = T0) -> InvoiceState:
    return catalog.issue_invoice(invoice, at, at + NET_TERMS)


def test_issue_stores_the_invoice_and_its_lines(catalog: Catalog) -> None:
    lines = [
        _line("49.99"),
        _line("1234.567891", name="API calls", quantity="1234567.891"),
    ]
    invoice = _invoice().model_copy(update={"line_items": lines})
    issued = _issue(catalog, invoice)
    assert issued == InvoiceState(
        invoice_id="invoice_1",
        invoice_number="250301-000001",
        subscription_id="sub_1",
        customer_id="acme",
        amount=Decimal("1284.557891"),
        currency="EUR",
        issue_date=T0,
        due_date=T0 + NET_TERMS,
        payment_status=PaymentStatus.UNPAID,
        past_due=False,
    )
    assert catalog.get_invoice("invoice_1") == issued
    assert catalog.invoice_lines("invoice_1") == lines


def test_an_invoice_without_net_terms_is_stored_without_a_due_date(catalog: Catalog) -> None:
    issued = catalog.issue_invoice(_invoice(), T0, None)

    assert (issued.due_date, issued.payment_status) == (None, PaymentStatus.UNPAID)
    assert catalog.get_invoice("invoice_1").due_date is None
    [listed] = catalog.list_invoices(customer_id="acme")
    assert listed.due_date is None


def test_amounts_round_trip_exactly(catalog: Catalog) -> None:
    # 20 significant digits: more than a float (or SQLite's NUMERIC) keeps.
    issued = _issue(catalog, _invoice("invoice_big", "12345678901234.567891"))
    assert issued.amount == Decimal("12345678901234.567891")
    assert str(catalog.get_invoice("invoice_big").amount) == "12345678901234.567891"
    lines = catalog.invoice_lines("invoice_big")
    assert lines[0].base == Decimal("12345678901234.567891")


def test_amount_beyond_6_decimals_is_rounded_half_up_and_lines_kept_whole(
    catalog: Catalog,
) -> None:
    issued = _issue(catalog, _invoice("invoice_1", "0.1234565", "0.0000001"))
    assert issued.amount == Decimal("0.123457")
    assert [line.base for line in catalog.invoice_lines("invoice_1")] == [
        Decimal("0.1234565"),
        Decimal("0.0000001"),
    ]


def test_an_invoice_of_zero_is_paid_at_once(catalog: Catalog) -> None:
    issued = _issue(catalog, _invoice("invoice_free", "0", "0.00"))
    assert issued.amount == 0
    assert issued.payment_status == PaymentStatus.PAID


def test_issuing_again_returns_the_stored_invoice_and_takes_no_number(catalog: Catalog) -> None:
    first = _issue(catalog, _invoice("invoice_1"))
    # A retried activity, even with other dates or lines, changes nothing.
    again = _issue(catalog, _invoice("invoice_1", "99"), T0 + timedelta(days=1))
    assert again == first
    assert catalog.invoice_lines("invoice_1") == [_line("49.99")]
    assert _issue(catalog, _invoice("invoice_2")).invoice_number == "250301-000002"


def test_numbers_follow_the_utc_day_and_restart_each_day(catalog: Catalog) -> None:
    day_one = [
        _issue(catalog, _invoice(f"invoice_a{n}"), T0 + timedelta(hours=n)) for n in range(3)
    ]
    assert [i.invoice_number for i in day_one] == [
        "250301-000001",
        "250301-000002",
        "250301-000003",
    ]
    next_day = datetime(2025, 3, 2, 0, 0, tzinfo=UTC)
    assert _issue(catalog, _invoice("invoice_b1"), next_day).invoice_number == "250302-000001"
    # 01:30 in Paris on March 2 is still March 1 in UTC.
    paris_night = datetime(2025, 3, 2, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    late = _issue(catalog, _invoice("invoice_a4"), paris_night)
    assert late.invoice_number == "250301-000004"
    assert late.issue_date == paris_night
    assert _issue(catalog, _invoice("invoice_b2"), next_day).invoice_number == "250302-000002"


@pytest.mark.parametrize("same_id", [False, True], ids=["distinct", "same-id"])
def test_concurrent_issuers_get_consecutive_distinct_numbers(
    catalog: Catalog, same_id: bool
) -> None:
    count = 40

    def issue(n: int) -> InvoiceState:
        invoice_id = "invoice_same" if same_id else f"invoice_{n:02d}"
        return _issue(catalog, _invoice(invoice_id), T0 + timedelta(seconds=n))

    with ThreadPoolExecutor(max_workers=8) as pool:
        issued = list(pool.map(issue, range(count)))
    numbers = {invoice.invoice_number for invoice in issued}
    if same_id:
        # One invoice; the callers that lost the race gave their number back.
        assert numbers == {"250301-000001"}
        assert len(catalog.list_invoices()) == 1
        assert _issue(catalog, _invoice("invoice_next")).invoice_number == "250301-000002"
    else:
        assert numbers == {f"250301-{n:06d}" for n in range(1, count + 1)}
        assert len(catalog.list_invoices()) == count


def test_update_records_payment_and_past_due(catalog: Catalog) -> None:
    issued = _issue(catalog, _invoice("invoice_1"))
    past_due = issued.model_copy(update={"past_due": True})
    catalog.update_invoice(past_due, T0 + NET_TERMS)
    assert catalog.get_invoice("invoice_1") == past_due
    paid = past_due.model_copy(
        update={
            "payment_status": PaymentStatus.PAID,
            "external_payment_obj_id": "pi_123",
            "external_payment_obj_type": "stripe",
            "external_payment_obj_status": "succeeded",
        }
    )
    catalog.update_invoice(paid, T0 + NET_TERMS + timedelta(days=2))
    assert catalog.get_invoice("invoice_1") == paid
    # The issued fields are not the update's to change.
    catalog.update_invoice(paid.model_copy(update={"amount": Decimal(1)}), T0 + NET_TERMS)
    assert catalog.get_invoice("invoice_1").amount == Decimal("49.99")


def test_list_is_newest_first_and_filters(catalog: Catalog) -> None:
    _issue(catalog, _invoice("invoice_old", customer_id="acme", subscription_id="sub_a"))
    _issue(
        catalog,
        _invoice("invoice_free", "0", customer_id="globex", subscription_id="sub_g"),
        T0 + timedelta(days=1),
    )
    newest = _issue(
        catalog,
        _invoice("invoice_new", customer_id="acme", subscription_id="sub_b"),
        T0 + timedelta(days=2),
    )
    catalog.update_invoice(newest.model_copy(update={"payment_status": PaymentStatus.VOIDED}), T0)

    def ids(**filters: object) -> list[str]:
        return [i.invoice_id for i in catalog.list_invoices(**filters)]  # type: ignore[arg-type]

    assert ids() == ["invoice_new", "invoice_free", "invoice_old"]
    assert ids(customer_id="acme") == ["invoice_new", "invoice_old"]
    assert ids(subscription_id="sub_a") == ["invoice_old"]
    assert ids(status=PaymentStatus.PAID) == ["invoice_free"]
    assert ids(status=PaymentStatus.VOIDED, customer_id="acme") == ["invoice_new"]
    assert ids(status=PaymentStatus.UNPAID, subscription_id="sub_b") == []


def test_unknown_invoice_is_not_found(catalog: Catalog) -> None:
    issued = _issue(catalog, _invoice("invoice_1"))
    ghost = issued.model_copy(update={"invoice_id": "invoice_nope"})
    for call in (
        lambda: catalog.get_invoice("invoice_nope"),
        lambda: catalog.invoice_lines("invoice_nope"),
        lambda: catalog.update_invoice(ghost, T0),
    ):
        with pytest.raises(NotFound) as raised:
            call()
        assert str(raised.value) == "no invoice invoice_nope; list them with: billhook invoice list"


@pytest.mark.parametrize(
    ("bases", "issue_date", "due_date", "message"),
    [
        (
            ("-5",),
            T0,
            T0,
            "the amount of invoice invoice_1 is -5; give a number 0 or more",
        ),
        (
            ("100000000000000",),
            T0,
            T0,
            "the amount of invoice invoice_1 100000000000000 is too large",
        ),
        (
            ("1",),
            datetime(2025, 3, 1),
            T0,
            "the issue date 2025-03-01 00:00:00 has no timezone; give an aware datetime",
        ),
        (
            ("1",),
            T0,
            T0 - timedelta(seconds=1),
            "invoice invoice_1 is due (2025-03-01 11:59:59+00:00) before it is issued",
        ),
    ],
)
def test_bad_invoice_is_refused_and_writes_nothing(
    catalog: Catalog,
    catalog_rows: Rows,
    bases: tuple[str, ...],
    issue_date: datetime,
    due_date: datetime,
    message: str,
) -> None:
    with pytest.raises(InvalidInput) as raised:
        catalog.issue_invoice(_invoice("invoice_1", *bases), issue_date, due_date)
    assert message in str(raised.value)
    assert set(catalog_rows().values()) == {0}
    # No number was taken either.
    assert _issue(catalog, _invoice("invoice_2")).invoice_number == "250301-000001"


def test_invoice_numbers_have_the_documented_shape(catalog: Catalog) -> None:
    number = _issue(catalog, _invoice()).invoice_number
    assert re.fullmatch(r"\d{6}-\d{6}", number)
