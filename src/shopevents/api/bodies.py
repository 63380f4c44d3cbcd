"""Reading REST API request bodies: size-limited as they stream in, JSON numbers read by
`schema.numbers` (so a number Python cannot hold is a verdict, never a fault), and a purchase's
lines counted before anything is decoded."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request

from shopevents.errors import ApiError, FieldError, validation_error
from shopevents.ingest.routes import read_body
from shopevents.runtime import runtime
from shopevents.schema import models as m
from shopevents.schema.numbers import decode_any, strict_float_hook
from shopevents.schema.verdicts import Verdict, decode_model, money_hook, needs_lenient


def _invalid_json(message: str) -> ApiError:
    return ApiError(
        "invalid_json", message, errors=[{"code": "invalid_json", "path": "", "message": message}]
    )


async def read_bytes(request: Request, limit: int) -> bytes:
    """The body (gunzipped if so sent), `413 payload_too_large` as soon as it is over `limit`;
    an empty body is a `422`."""
    body = await read_body(request, limit)
    if not body.strip():
        raise validation_error(
            [FieldError("", "Expected a JSON object body", code="missing_field")]
        )
    return body


async def api_body(request: Request) -> bytes:
    """The body, up to `ingest.api_max_body_bytes` (see `read_bytes`)."""
    return await read_bytes(request, runtime(request).settings.ingest.api_max_body_bytes)


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (see `api_body`); `422 not_an_object` for any other value."""
    obj = decode_json(await api_body(request))
    if not isinstance(obj, dict):
        raise validation_error([FieldError("", "Expected a JSON object", code="not_an_object")])
    return obj


def decode_json(body: bytes) -> Any:
    """Any JSON value; numbers that cannot be read are `numbers.Unreadable`, for the verdicts."""
    try:
        return decode_any(body)
    except msgspec.DecodeError as exc:
        raise _invalid_json(f"The body is not valid JSON: {exc}") from None
    except RecursionError:
        raise _invalid_json("The body is not valid JSON: it is nested too deeply") from None


class _Lines(msgspec.Struct):
    """Only the purchase's line count: each line is skipped over, not decoded."""

    products: list[msgspec.Raw] | None = None


_lines_decoder = msgspec.json.Decoder(_Lines)
_purchase_decoder = msgspec.json.Decoder(
    m.PurchaseCreation, dec_hook=money_hook, float_hook=strict_float_hook
)


def check_lines(body: bytes, max_lines: int) -> None:
    """`413 too_many_lines` for a purchase of more than `max_lines` lines, before decoding."""
    try:
        lines = _lines_decoder.decode(body).products
    except msgspec.ValidationError:
        return  # not a purchase's shape: the verdicts say what is wrong
    except msgspec.DecodeError as exc:
        raise _invalid_json(f"The body is not valid JSON: {exc}") from None
    except RecursionError:
        raise _invalid_json("The body is not valid JSON: it is nested too deeply") from None
    if lines is not None and len(lines) > max_lines:
        raise ApiError(
            "too_many_lines",
            f"The purchase has {len(lines)} product lines; the limit is {max_lines}",
            errors=[
                {
                    "code": "too_many_lines",
                    "path": "/products",
                    "message": f"Expected at most {max_lines} product lines; received {len(lines)}",
                }
            ],
        )


def decode_purchase(body: bytes, ctx: Any, max_lines: int) -> Verdict:
    """A `POST /api/purchases/` body: lines counted first, then decoded straight into the
    typed purchase; only a body that needs it (text numbers, aliases, bad fields) is decoded
    again leniently, with warnings."""
    check_lines(body, max_lines)
    if not needs_lenient(body):
        try:
            return Verdict(type="PurchaseCreation", value=_purchase_decoder.decode(body))
        except msgspec.ValidationError:
            pass
        except msgspec.DecodeError as exc:
            raise _invalid_json(f"The body is not valid JSON: {exc}") from None
        except RecursionError:
            raise _invalid_json("The body is not valid JSON: it is nested too deeply") from None
    return decode_model(decode_json(body), m.PurchaseCreation, ctx)
