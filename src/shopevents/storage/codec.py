"""Converting amounts between Python values and their stored form (JSON lives in
`shopevents.jsoncodec`)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

SCALE = Decimal(1_000_000)
_STEP = Decimal("0.000001")


def money_to_db(value: Decimal) -> int:
    """Exact millionths of the currency unit."""
    return int((value.quantize(_STEP, rounding=ROUND_HALF_EVEN) * SCALE).to_integral_value())


def plain_amount(value: Decimal) -> Decimal:
    """The shortest exact form of an amount, never in exponent notation: 50, not 5E+1."""
    d = value.normalize()
    return d.quantize(Decimal(1)) if d.as_tuple().exponent > 0 else d  # type: ignore[operator]


def money_from_db(value: int | None) -> Decimal | None:
    if value is None:
        return None
    return plain_amount(Decimal(int(value)) / SCALE) if value else Decimal(0)
