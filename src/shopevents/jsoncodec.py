"""The one home of JSON encoding and decoding: no other module imports the standard `json`
module (a test checks it).

- `dumps`, `dumpb`, `loads`, `plain`: stored and answered JSON (msgspec); a Decimal is
  written as a plain JSON number and every number with a fraction or an exponent is read
  back as an exact Decimal.
- `pretty`: indented JSON for people to read (a command's export, a page's code sample).
- `compact`, `loads_compact`: small JSON for a cookie, and reading it back.
- `ascii_literal`: a JavaScript literal, ASCII only, that stays inert inside an HTML
  <script> element.
- `quoted`: a value as a message shows it.
- `loads_with_hooks`: the slow, number-by-number read of a body whose numbers the fast
  decoders cannot hold (schema/numbers.py's hooks)."""

from __future__ import annotations

import json
from collections.abc import Callable
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


def pretty(value: Any) -> str:
    """Indented by two spaces, `": "` after keys, keys in their order, non-ASCII escaped
    (`\\u00e9`); builtins only (no Decimal)."""
    return json.dumps(value, indent=2)


def compact(value: Any) -> str:
    """No whitespace at all, keys in their order, non-ASCII escaped; builtins only."""
    return json.dumps(value, separators=(",", ":"))


def loads_compact(data: str | bytes) -> Any:
    """What `compact` wrote (or any JSON text: UTF-8, -16 or -32 bytes), numbers with a
    fraction as float. Raises ValueError for what is not JSON."""
    return json.loads(data)


def ascii_literal(value: Any) -> str:
    """A JavaScript literal for value: keys sorted, no whitespace, ASCII only (U+2028,
    U+2029 and every other non-ASCII character `\\u`-escaped), with `<`, `>` and `&`
    escaped too so that it stays inert inside an HTML <script> element."""
    return (
        json.dumps(value, separators=(",", ":"), sort_keys=True)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def quoted(value: Any) -> str:
    """Value as a message shows it: its JSON (`"text"`, `[1, 2]`, `{"a": true}`), or its
    repr() when it is not JSON (a set, a date)."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def loads_with_hooks(
    data: bytes | bytearray | memoryview,
    *,
    parse_float: Callable[[str], Any],
    parse_int: Callable[[str], Any],
    parse_constant: Callable[[str], Any],
) -> Any:
    """Any JSON value, each number (and NaN, Infinity) read by its hook from its literal.
    Raises `msgspec.DecodeError` for what is not UTF-8 or not JSON, or a hook's ValueError
    (its message kept), and RecursionError for nesting too deep, as msgspec does."""
    try:
        text = bytes(data).decode("utf-8")
        return json.loads(
            text, parse_float=parse_float, parse_int=parse_int, parse_constant=parse_constant
        )
    except UnicodeDecodeError as exc:
        raise msgspec.DecodeError(f"JSON is malformed: invalid UTF-8 (byte {exc.start})") from None
    except ValueError as exc:  # json.JSONDecodeError included
        pos = getattr(exc, "pos", None)
        where = f" (byte {len(text[:pos].encode())})" if pos is not None else ""
        msg = getattr(exc, "msg", str(exc))
        raise msgspec.DecodeError(f"JSON is malformed: {msg}{where}") from None
