"""``models.money``: half-up rounding to the minor unit, JSON numbers, currency objects."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from models.money import (
    MINOR_UNITS,
    currency_object,
    minor_units,
    round_money,
    split_total,
    to_number,
)


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
        ("GBP", {"code": "GBP", "name": "Pound", "symbol": "£"}),
        ("JPY", {"code": "JPY", "name": "Japanese Yen", "symbol": "¥"}),
        ("usd", {"code": "USD", "name": "US Dollar", "symbol": "$"}),
        ("XYZ", {"code": "XYZ", "name": "XYZ", "symbol": "XYZ"}),
    ],
)
def test_currency_object(code: str, expected: dict[str, str]) -> None:
    assert currency_object(code) == expected


@pytest.mark.parametrize(
    ("code", "name", "symbol"),
    [
        # As Lotus's SUPPORTED_CURRENCIES sent them, where billhook's own table differed.
        ("GBP", "Pound", "£"),
        ("CAD", "Canadian Dollar", "C$"),
        ("CNY", "Yuan", "¥"),
        ("MXN", "Mexican Peso", "$"),
        ("UGX", "Ugandan Shilling", "UGX"),
        # Lotus had these; billhook fell back to the code.
        ("NGN", "Nigerian Naira", "₦"),
        ("RUB", "Russian Ruble", "₽"),
        ("KZT", "Kazakhstani Tenge", "₸"),
        ("TZS", "Tanzanian Shilling", "TSh"),
        ("KES", "Kenyan Shilling", "KSh"),
    ],
)
def test_lotus_currencies_have_lotus_names_and_symbols(code: str, name: str, symbol: str) -> None:
    assert currency_object(code) == {"code": code, "name": name, "symbol": symbol}
    assert minor_units(code) == (0 if code == "UGX" else 2)


@pytest.mark.parametrize(
    ("amounts", "currency", "total", "shares"),
    [
        (["0.005", "0.005", "0.005"], "USD", "0.02", ["0.01", "0.01", "0.00"]),
        (["12.345", "49.99"], "USD", "62.34", ["12.35", "49.99"]),  # 62.335 rounds half up
        (["0.333", "0.333", "0.334"], "USD", "1.00", ["0.33", "0.33", "0.34"]),
        (["0.4", "0.4", "0.4"], "JPY", "1", ["1", "0", "0"]),
        (["0.0004", "0.0004"], "KWD", "0.001", ["0.001", "0.000"]),
        (["10"], "EUR", "10.00", ["10.00"]),
        ([], "USD", "0.00", []),
    ],
)
def test_split_total_rounds_once_and_the_shares_add_up(
    amounts: list[str], currency: str, total: str, shares: list[str]
) -> None:
    result = split_total([Decimal(a) for a in amounts], currency)

    assert (str(result[0]), [str(s) for s in result[1]]) == (total, shares)
    assert sum(result[1], Decimal(0)) == result[0]


def test_split_total_refuses_a_non_finite_amount() -> None:
    with pytest.raises(ValueError, match="finite"):
        split_total([Decimal(1), Decimal("Infinity")], "USD")
