"""The ingest envelope: read with msgspec, or refused as a whole request (`invalid_json` with
line and column, `invalid_envelope` with the path)."""

from __future__ import annotations

import re

import msgspec

from shopevents.errors import ApiError
from shopevents.schema import models as m
from shopevents.schema.reasons import json_pointer, split_message

_envelope_decoder = msgspec.json.Decoder(m.Envelope)


def _line_col(body: bytes, offset: int) -> tuple[int, int]:
    head = body[:offset]
    line = head.count(b"\n") + 1
    col = offset - (head.rfind(b"\n") + 1) + 1
    return line, col


def read_envelope(body: bytes) -> m.Envelope:
    """The envelope, or ApiError `invalid_json` (with line and column) / `invalid_envelope`."""
    try:
        body.decode("utf-8")  # the envelope decoder skips nested parts without checking
    except UnicodeDecodeError as exc:
        line, col = _line_col(body, exc.start)
        message = f"The body is not valid JSON: it is not UTF-8 at line {line}, column {col}"
        raise ApiError(
            "invalid_json",
            message,
            errors=[
                {
                    "code": "invalid_json",
                    "path": "",
                    "message": message,
                    "line": line,
                    "column": col,
                }
            ],
        ) from None
    try:
        envelope = _envelope_decoder.decode(body)
        if envelope.requestId == "":  # an empty key is no key (never a shared one)
            envelope.requestId = None
        return envelope
    except RecursionError:
        message = "The body is not valid JSON: it is nested too deeply"
        raise ApiError(
            "invalid_json",
            message,
            errors=[{"code": "invalid_json", "path": "", "message": message}],
        ) from None
    except msgspec.ValidationError as exc:
        text, path = split_message(str(exc))
        if "matching regex" in text:  # requestId's pattern
            text = "Expected a text without NUL (U+0000) characters"
        pointer = json_pointer(path)
        raise ApiError(
            "invalid_envelope",
            f"The body is JSON but not an ingest envelope: {text} at {pointer or '/'}",
            errors=[{"code": "invalid_envelope", "path": pointer, "message": text}],
        ) from None
    except msgspec.DecodeError as exc:
        text = str(exc)
        m_byte = re.search(r"\(byte (\d+)\)", text)
        reason = re.sub(r"^JSON is malformed: ", "", text)
        reason = re.sub(r"\s*\(byte \d+\)", "", reason)
        if m_byte:
            offset = int(m_byte.group(1))
            line, col = _line_col(body, offset)
            message = f"The body is not valid JSON: {reason} at line {line}, column {col}"
            prev = len(body[:offset].rstrip())
            if "','" in reason and prev > 0:
                pline, pcol = _line_col(body, prev)
                line_start = body.rfind(b"\n", 0, prev) + 1
                tail = body[line_start:prev].decode("utf-8", "replace").strip()[-40:]
                message += (
                    f" (a comma is probably missing at line {pline}, column {pcol}, after {tail})"
                )
            errors = [
                {
                    "code": "invalid_json",
                    "path": "",
                    "message": message,
                    "line": line,
                    "column": col,
                }
            ]
        else:
            message = f"The body is not valid JSON: {reason}"
            errors = [{"code": "invalid_json", "path": "", "message": message}]
        raise ApiError("invalid_json", message, errors=errors) from None
