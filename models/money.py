"""Currencies and money as receivers see it: rounded to the minor unit, written as JSON numbers.

Money is computed as ``Decimal`` everywhere and rounded (half up) to the currency's minor unit
only when a payload is serialized (events.md, Value formats). Lotus converted its decimals to
floats, so amounts are written as JSON numbers, never strings.

An invoice is rounded once (``split_total``): its total is the exact sum of its lines rounded
half up, and that total is shared among the lines so the lines a receiver sees add up to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

#: Name, symbol and number of minor-unit digits of each known currency. The first block is the
#: table Lotus provisioned for every organization (its SUPPORTED_CURRENCIES, last version),
#: names and symbols as Lotus sent them, so a receiver that matches on them keeps working; the
#: rest are common currencies Lotus did not have, with ISO 4217 names and common symbols.
CURRENCIES: dict[str, tuple[str, str, int]] = {
    # Lotus's table.
    "USD": ("US Dollar", "$", 2),
    "EUR": ("Euro", "€", 2),
    "GBP": ("Pound", "£", 2),
    "CNY": ("Yuan", "¥", 2),
    "AUD": ("Australian Dollar", "A$", 2),
    "CAD": ("Canadian Dollar", "C$", 2),
    "CHF": ("Swiss Franc", "CHF", 2),
    "HKD": ("Hong Kong Dollar", "HK$", 2),
    "SGD": ("Singapore Dollar", "S$", 2),
    "SEK": ("Swedish Krona", "kr", 2),
    "NOK": ("Norwegian Krone", "kr", 2),
    "NZD": ("New Zealand Dollar", "NZ$", 2),
    "MXN": ("Mexican Peso", "$", 2),
    "ZAR": ("South African Rand", "R", 2),
    "BRL": ("Brazilian Real", "R$", 2),
    "DKK": ("Danish Krone", "kr", 2),
    "NGN": ("Nigerian Naira", "₦", 2),
    "RUB": ("Russian Ruble", "₽", 2),
    "KZT": ("Kazakhstani Tenge", "₸", 2),
    "TZS": ("Tanzanian Shilling", "TSh", 2),
    "KES": ("Kenyan Shilling", "KSh", 2),
    "UGX": ("Ugandan Shilling", "UGX", 0),
    "INR": ("Indian Rupee", "₹", 2),
    "PHP": ("Philippine Peso", "₱", 2),
    # Not in Lotus's table.
    "PLN": ("Polish Zloty", "zł", 2),
    "CZK": ("Czech Koruna", "Kč", 2),
    "HUF": ("Hungarian Forint", "Ft", 2),
    "TRY": ("Turkish Lira", "₺", 2),
    "ILS": ("Israeli New Shekel", "₪", 2),
    "AED": ("UAE Dirham", "AED", 2),
    "SAR": ("Saudi Riyal", "SAR", 2),
    "TWD": ("New Taiwan Dollar", "NT$", 2),
    "MYR": ("Malaysian Ringgit", "RM", 2),
    "THB": ("Thai Baht", "฿", 2),
    "IDR": ("Indonesian Rupiah", "Rp", 2),
    "ARS": ("Argentine Peso", "ARS", 2),
    "COP": ("Colombian Peso", "COP", 2),
    "JPY": ("Japanese Yen", "¥", 0),
    "KRW": ("South Korean Won", "₩", 0),
    "VND": ("Vietnamese Dong", "₫", 0),
    "CLP": ("Chilean Peso", "CLP", 0),
    "ISK": ("Icelandic Króna", "kr", 0),
    "PYG": ("Paraguayan Guarani", "₲", 0),
    "XAF": ("Central African CFA Franc", "FCFA", 0),
    "XOF": ("West African CFA Franc", "F CFA", 0),
    "BHD": ("Bahraini Dinar", "BHD", 3),
    "JOD": ("Jordanian Dinar", "JOD", 3),
    "KWD": ("Kuwaiti Dinar", "KWD", 3),
    "OMR": ("Omani Rial", "OMR", 3),
    "TND": ("Tunisian Dinar", "TND", 3),
}

#: Digits after the decimal point of each known currency; any other currency has 2.
MINOR_UNITS: dict[str, int] = {code: digits for code, (_, _, digits) in CURRENCIES.items()}
DEFAULT_MINOR_UNITS = 2


def minor_units(currency: str) -> int:
    """The number of minor-unit digits of ``currency`` (2 when it is not in the table)."""
    return MINOR_UNITS.get(currency.upper(), DEFAULT_MINOR_UNITS)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded half up to the minor unit of ``currency``.

    Raises:
        ValueError: ``amount`` is NaN or infinite.
    """
    if not amount.is_finite():
        raise ValueError(f"cannot round {amount} {currency}: money must be a finite number")
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def split_total(amounts: Sequence[Decimal], currency: str) -> tuple[Decimal, list[Decimal]]:
    """An invoice's total and its lines' shares of it, in the minor unit of ``currency``.

    The total is the exact sum of ``amounts`` rounded half up, once. Each share is its amount
    rounded down, and the minor units the total has left over go one each to the amounts with
    the largest remainders (the earlier line first on a tie); so the shares add up exactly to
    the total, and each share is its amount rounded down or up, never further from it.

    Raises:
        ValueError: an amount is NaN or infinite.
    """
    total = round_money(sum(amounts, Decimal(0)), currency)
    unit = Decimal(1).scaleb(-minor_units(currency))
    shares = [amount.quantize(unit, rounding=ROUND_FLOOR) for amount in amounts]
    left = int((total - sum(shares, Decimal(0))) / unit)
    by_remainder = sorted(range(len(amounts)), key=lambda i: (shares[i] - amounts[i], i))
    for index in by_remainder[:left]:
        shares[index] += unit
    return total, shares


def to_number(amount: Decimal, currency: str) -> float:
    """``amount`` rounded to the minor unit of ``currency``, as a JSON number.

    Always a float, as Lotus sent (``Decimal("12.50")`` -> ``12.5``, zero -> ``0.0``), so a
    receiver sees one JSON type for a field whatever its value.
    """
    return decimal_number(round_money(amount, currency))


def decimal_number(value: Decimal) -> float:
    """A ``Decimal`` (a quantity, a threshold) as a JSON number, without rounding it.

    Raises:
        ValueError: ``value`` is NaN or infinite, which JSON cannot carry.
    """
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number; JSON numbers must be finite")
    # A negative amount that rounds to zero would otherwise be written as -0.0.
    return float(value) or 0.0


def currency_object(code: str) -> dict[str, str]:
    """The ``{code, name, symbol}`` object of a currency; unknown codes are their own name."""
    code = code.upper()
    name, symbol, _ = CURRENCIES.get(code, (code, code, DEFAULT_MINOR_UNITS))
    return {"code": code, "name": name, "symbol": symbol}
