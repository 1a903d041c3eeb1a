"""Money values: ISO 4217-shaped currency codes and decimal amounts at the currency's scale.

Bad values are SCOPE_INVALID (they define what the mandate allows); absent ones are
MISSING_REQUIRED_FIELD.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from app.mandates.verification.codes import Code, Rejection

# Below what both storage engines hold exactly (SQLite keeps ten-thousandths in 64 bits).
MAX_AMOUNT = Decimal(10) ** 14
_AMOUNT_RE = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
# ISO 4217 minor units that are not 2; any other well-formed code gets 2.
_ZERO_DECIMAL = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMAL = "BHD IQD JOD KWD LYD OMR TND"
_CURRENCY_SCALE = dict.fromkeys(_ZERO_DECIMAL.split(), 0) | dict.fromkeys(_THREE_DECIMAL.split(), 3)
_QUANTUM = {0: Decimal(1), 2: Decimal("0.01"), 3: Decimal("0.001")}


# Limits repeat across an issuer's tokens ("500.00" USD): their parsed form is kept
# (bounded; Decimal is immutable). Only values that passed every check are cached.
_PARSED: dict[tuple[str, str], Decimal] = {}
_PARSED_SIZE = 4096


def _missing(path: str) -> Rejection:
    return Rejection(Code.MISSING_REQUIRED_FIELD, f"'{path}' is required", field=path)


def parse_currency(value: Any, path: str) -> str:
    if value is None:
        raise _missing(path)
    if (
        type(value) is not str
        or len(value) != 3
        or not (value.isascii() and value.isalpha() and value.isupper())
    ):
        raise Rejection(Code.SCOPE_INVALID, f"'{path}' must be 3 uppercase letters", field=path)
    return value


def parse_amount(value: Any, currency: str, path: str) -> Decimal:
    """A non-negative decimal with at most the currency's minor-unit digits, quantized to them."""
    kind = type(value)
    if kind is str:
        cached = _PARSED.get((value, currency))
        if cached is not None:
            return cached
    scale = _CURRENCY_SCALE.get(currency, 2)
    if kind is str and _AMOUNT_RE.fullmatch(value):
        # Already at the currency's scale: nothing to quantize (the common case).
        dot = value.find(".")
        if (dot == -1 and scale == 0) or (dot != -1 and len(value) - dot - 1 == scale):
            amount = Decimal(value)
            if amount < MAX_AMOUNT:
                if len(_PARSED) >= _PARSED_SIZE:
                    _PARSED.clear()
                _PARSED[value, currency] = amount
                return amount
    if value is None:
        raise _missing(path)
    bad = Rejection(Code.SCOPE_INVALID, f"'{path}' must be a non-negative decimal", field=path)
    if kind is str:
        if not _AMOUNT_RE.fullmatch(value):
            raise bad
        amount = Decimal(value)
    elif kind is int:
        if not -MAX_AMOUNT < value < MAX_AMOUNT:
            raise Rejection(Code.SCOPE_INVALID, f"'{path}' is too large", field=path)
        amount = Decimal(value)
    elif kind is float and math.isfinite(value):
        amount = Decimal(repr(value))
    else:
        raise bad
    if amount < 0:
        raise bad
    if amount >= MAX_AMOUNT:
        raise Rejection(Code.SCOPE_INVALID, f"'{path}' is too large", field=path)
    quantum = _QUANTUM[scale]
    try:
        quantized = amount.quantize(quantum)
    except InvalidOperation:
        raise bad from None
    if quantized != amount:
        reason = f"'{path}' has more decimals than {currency} allows"
        raise Rejection(Code.SCOPE_INVALID, reason, field=path)
    return quantized.copy_abs()


def currency_scale(currency: str | None) -> int:
    return _CURRENCY_SCALE.get(currency or "", 2)


def format_amount(amount: Decimal | None, currency: str | None) -> str | None:
    """A stored amount as the decimal string a client expects ("500.00", "1000" for JPY)."""
    if amount is None:
        return None
    return str(amount.quantize(_QUANTUM[currency_scale(currency)]))
