"""``models.money``: half-up rounding to the minor unit, JSON numbers, currency objects."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from models.money import MINOR_UNITS, currency_object, round_money, to_number


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("0.005", "USD", "0.01"),
        ("0.004", "USD", "0.00"),
        ("-0.005", "USD", "-0.01"),  # half up rounds away from zero
        ("12.345", "EUR", "12.35"),
        ("12.335", "GBP", "12.34"),  # not banker's rounding
        ("49.99", "USD", "49.99"),
        ("1234.5", "JPY", "1235"),
        ("1234.4", "JPY", "1234"),
        ("999.5", "KRW", "1000"),
        ("1.2345", "KWD", "1.235"),
        ("1.005", "XYZ", "1.01"),  # unknown currencies have cents
        ("0.005", "usd", "0.01"),
    ],
)
def test_round_money(amount: str, currency: str, rounded: str) -> None:
    result = round_money(Decimal(amount), currency)

    assert result == Decimal(rounded)
    assert str(result) == rounded


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("12.50", "USD", "12.5"),
        ("0.005", "USD", "0.01"),
        ("0", "USD", "0.0"),
        ("-0.001", "USD", "0.0"),  # never -0.0
        ("1234.5", "JPY", "1235.0"),
        ("1000000.005", "USD", "1000000.01"),
    ],
)
def test_to_number_is_a_json_number(amount: str, currency: str, text: str) -> None:
    number = to_number(Decimal(amount), currency)

    assert type(number) is float
    assert json.dumps({"amount": number}) == f'{{"amount": {text}}}'


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_non_finite_amounts_are_refused(amount: str) -> None:
    with pytest.raises(ValueError, match="finite"):
        to_number(Decimal(amount), "USD")


def test_minor_units() -> None:
    assert all(MINOR_UNITS[code] == 2 for code in ("USD", "EUR", "GBP", "CAD", "AUD"))
    assert (MINOR_UNITS["JPY"], MINOR_UNITS["KRW"], MINOR_UNITS["KWD"]) == (0, 0, 3)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("USD", {"code": "USD", "name": "US Dollar", "symbol": "$"}),
        ("EUR", {"code": "EUR", "name": "Euro", "symbol": "€"}),
        ("GBP", {"code": "GBP", "name": "British Pound", "symbol": "£"}),
        ("JPY", {"code": "JPY", "name": "Japanese Yen", "symbol": "¥"}),
        ("usd", {"code": "USD", "name": "US Dollar", "symbol": "$"}),
        ("XYZ", {"code": "XYZ", "name": "XYZ", "symbol": "XYZ"}),
    ],
)
def test_currency_object(code: str, expected: dict[str, str]) -> None:
    assert currency_object(code) == expected
