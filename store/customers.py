"""Customers: ``Catalog``'s part for them (lifecycle.md, Catalog objects)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from errors import Conflict, InvalidInput
from models.address import FIELDS as ADDRESS_FIELDS
from models.address import MAX_FIELD_LENGTH, Address, address_problem
from models.billing import CustomerSnapshot
from store.checks import check_currency, check_net_terms
from store.persist import Repository, insert_ignore, oldest_first, to_model
from store.tables import Customer
from store.validation import check_name, check_text

CUSTOMER_ID_MAX_LENGTH = 100
#: RFC 5321's limit on a forward path, hence on an address anyone can mail.
EMAIL_MAX_LENGTH = 254
#: The longest IANA names are about 30 characters; a longer one is no timezone.
MAX_TIMEZONE_LENGTH = 64


class Customers(Repository):
    """``Catalog``'s customer methods: create, read and list customers."""

    def create_customer(self, customer: CustomerSnapshot, now: datetime) -> CustomerSnapshot:
        """Store a new customer.

        Raises:
            InvalidInput: a bad id, timezone, currency, email or net terms; nothing was written.
            Conflict: a customer with this id exists already; nothing was written.
        """
        check_customer(customer)
        row = customer.model_dump(exclude={"customer_id"})
        row.update(id=customer.customer_id, created_at=now)
        with self._session() as session:
            if not insert_ignore(session, Customer, [row], key_only=True):
                raise Conflict(
                    f"customer {customer.customer_id} exists already; "
                    "choose another customer_id, or use the existing customer"
                )
        return customer.model_copy(deep=True)

    def get_customer(self, customer_id: str) -> CustomerSnapshot:
        """The customer ``customer_id``.

        Raises:
            NotFound: no such customer.
        """
        return _snapshot(self._get(Customer, customer_id, "customer"))

    def list_customers(self) -> list[CustomerSnapshot]:
        """Every customer, oldest first."""
        return [_snapshot(row) for row in self._all(oldest_first(Customer))]

    def customer_exists(self, customer_id: str) -> bool:
        """Whether a customer ``customer_id`` is stored."""
        with self._session() as session:
            return session.get(Customer, customer_id) is not None


def check_customer(customer: CustomerSnapshot) -> None:
    """Refuse a customer the catalog would not store (id, timezone, currency, email, terms,
    addresses).

    Public so the command line can refuse before it takes the ``customer-<id>`` workflow id,
    which can never be used again.

    Raises:
        InvalidInput: what is wrong, in one line.
    """
    customer_id = customer.customer_id
    if not customer_id.strip() or len(customer_id) > CUSTOMER_ID_MAX_LENGTH:
        raise InvalidInput(
            f"customer_id {customer_id!r} must be 1 to {CUSTOMER_ID_MAX_LENGTH} characters, "
            "not all blank; give another one"
        )
    check_text("customer_id", customer_id, CUSTOMER_ID_MAX_LENGTH)
    if customer.name is not None:
        check_name("customer name", customer.name)
    _check_timezone(customer.timezone)
    check_currency(customer.currency)
    if customer.email is not None:
        _check_email(customer.email)
    check_net_terms(customer.net_terms_days)
    for what, address in [
        ("address", customer.address),
        ("billing address", customer.billing_address),
        ("shipping address", customer.shipping_address),
    ]:
        if address is not None:
            _check_address(what, address)


def _check_address(what: str, address: Address) -> None:
    for name in ADDRESS_FIELDS:
        if (value := getattr(address, name)) is not None:
            check_text(f"{what}'s {name}", value, MAX_FIELD_LENGTH)
    if (problem := address_problem(address)) is not None:
        raise InvalidInput(f"the {what} {problem}")


def _check_timezone(timezone: str) -> None:
    unknown = InvalidInput(
        f"unknown timezone {timezone[:60]!r}; use an IANA name like Europe/Paris or UTC"
    )
    if len(timezone) > MAX_TIMEZONE_LENGTH:
        raise unknown
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name the OS cannot open
        raise unknown from None


def _check_email(email: str) -> None:
    check_text("email", email, EMAIL_MAX_LENGTH)
    if "@" not in email:
        raise InvalidInput(f"email {email!r} has no @; give an address like billing@example.com")
    if any(char.isspace() for char in email):
        raise InvalidInput(
            f"email {email!r} contains whitespace; give an address like billing@example.com"
        )


def _snapshot(row: Customer) -> CustomerSnapshot:
    return to_model(CustomerSnapshot, row, customer_id=row.id)
