"""Converting between Python values and their stored form."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import msgspec

SCALE = Decimal(1_000_000)
_STEP = Decimal("0.000001")


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, Decimal):  # Money and other Decimal subclasses
        return Decimal(obj)
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


_encoder = msgspec.json.Encoder(decimal_format="number", enc_hook=_enc_hook)
_decoder = msgspec.json.Decoder(float_hook=Decimal)


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


def dumps(value: Any) -> str:
    return _encoder.encode(value).decode()


def dumpb(value: Any) -> bytes:
    return _encoder.encode(value)


def loads(text: str | bytes | None) -> Any:
    if text is None:
        return None
    if isinstance(text, memoryview):
        text = bytes(text)
    return _decoder.decode(text)


def plain(value: Any) -> Any:
    """A Struct (or anything) as builtins, Decimals kept exact."""
    return msgspec.to_builtins(value, builtin_types=(Decimal,), enc_hook=_enc_hook)
