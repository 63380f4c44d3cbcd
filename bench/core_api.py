"""The single place where the bench calls into shopevents' Python API (not over HTTP).

Expected names (adapt here if the core moves them):
  shopevents.storage.database.Database(url).connect() -> Conn
  shopevents.worker.abandonment.mark_due_abandoned(conn, clock, limit) -> int
  shopevents.reports.overview(...)  — the overview report over a time range
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any


def open_conn(url: str):
    from shopevents.storage.database import Database

    return Database(url).connect()


def mark_due_abandoned(conn, limit: int) -> int:
    from shopevents.clock import SystemClock
    from shopevents.worker.abandonment import mark_due_abandoned as step

    return step(conn, SystemClock(), limit)


def _overview_fn():
    for module, name in (
        ("shopevents.reports", "overview"),
        ("shopevents.reports.overview", "overview"),
        ("shopevents.reports.overview_report", "overview"),
    ):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        fn = getattr(mod, name, None)
        if callable(fn):
            return fn
    raise RuntimeError("shopevents.reports.overview is not available in this tree")


def overview_available() -> bool:
    try:
        _overview_fn()
        return True
    except RuntimeError:
        return False


def overview_missing() -> str:
    try:
        _overview_fn()
        return ""
    except RuntimeError as exc:
        return str(exc)


def overview(url: str, store_id: str, start_us: int, end_us: int) -> Any:
    """Call the overview report for [start, end) by matching its parameter names."""
    from datetime import UTC, datetime

    fn = _overview_fn()
    conn = open_conn(url)
    try:
        params = inspect.signature(fn).parameters
        start_dt = datetime.fromtimestamp(start_us / 1e6, UTC)
        end_dt = datetime.fromtimestamp(end_us / 1e6, UTC)
        kwargs: dict[str, Any] = {}
        for name, p in params.items():
            lname = name.lower()
            ann = str(p.annotation)
            wants_dt = "datetime" in ann or "date" in ann
            if lname in ("conn", "connection", "c"):
                kwargs[name] = conn
            elif lname in ("store_id", "store"):
                kwargs[name] = store_id
            elif lname in ("start", "since", "frm", "from_", "start_us", "begin"):
                kwargs[name] = start_dt if wants_dt else start_us
            elif lname in ("end", "until", "to", "end_us", "stop"):
                kwargs[name] = end_dt if wants_dt else end_us
            elif p.default is inspect.Parameter.empty and p.kind not in (
                p.VAR_POSITIONAL,
                p.VAR_KEYWORD,
            ):
                raise RuntimeError(f"overview{inspect.signature(fn)}: no value for {name!r}")
        return fn(**kwargs)
    finally:
        conn.close()
