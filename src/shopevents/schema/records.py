"""The records of decoding: a part's verdict, the store facts the checks need, a decoded
entityInfo."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from shopevents.schema import models as m
from shopevents.schema.dates import ParsedDate


class Verdict(msgspec.Struct, kw_only=True):
    """What became of one decoded part (an event, the cart, entityInfo)."""

    index: int = -1
    type: str = ""
    status: str = "accepted"  # accepted | rejected (ledger turns purchases into duplicate/conflict)
    warnings: list[dict[str, str]] = []
    value: Any = None
    error: dict[str, str] | None = None
    raw: bytes = b""

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "type": self.type, "status": self.status}
        if self.error:
            out.update(self.error)
        out["warnings"] = self.warnings
        return out


class CheckContext(msgspec.Struct, kw_only=True):
    now: datetime
    currency: str = "EUR"
    domains: list[str] = []


class EntityInfo(msgspec.Struct, kw_only=True):
    fields: m.EntityFields
    custom: dict[str, Any]
    birthdate: ParsedDate | None = None
