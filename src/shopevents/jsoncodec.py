"""The one home of JSON encoding and decoding: stored and answered JSON (msgspec); a Decimal
is written as a plain JSON number and every number with a fraction or an exponent is read
back as an exact Decimal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, Decimal):  # Money and other Decimal subclasses
        return Decimal(obj)
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


_encoder = msgspec.json.Encoder(decimal_format="number", enc_hook=_enc_hook)
_decoder = msgspec.json.Decoder(float_hook=Decimal)


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
