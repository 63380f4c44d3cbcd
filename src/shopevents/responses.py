"""JSON responses encoded with msgspec (Decimals as JSON numbers)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from shopevents.jsoncodec import dumpb


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        dumpb(value), status_code=status, headers=headers, media_type="application/json"
    )
