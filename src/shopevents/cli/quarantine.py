"""`shopevents quarantine`: rejected events kept raw; list them, replay them."""

from __future__ import annotations

import functools
from typing import Any

import click

from shopevents.cli.common import resolve_store, store_option
from shopevents.cli.env import Env, pass_env
from shopevents.dashboard import queries as dq
from shopevents.dashboard import replay
from shopevents.jsoncodec import dumps
from shopevents.storage import reads
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord


@click.group("quarantine")
def quarantine_group() -> None:
    """Rejected events kept raw: list them, replay them once the integration is fixed."""


@quarantine_group.command("list")
@store_option()
@click.option("--code", help="Only this rejection code.")
@click.option("--all", "show_all", is_flag=True, help="Include events replayed successfully.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_env
def quarantine_list(
    env: Env, store_ref: str | None, code: str | None, show_all: bool, limit: int, as_json: bool
) -> None:
    """List quarantined events, newest first (waiting for a replay, unless --all)."""
    store = resolve_store(env, store_ref)
    rows = env.read(
        lambda c: reads.quarantine(c, store.id, code=code, pending_only=not show_all, limit=limit)
    )
    if as_json:
        for r in rows:
            click.echo(dumps(r))
        return
    if not rows:
        click.echo("no quarantined events" + (f" with code {code}" if code else ""))
    for r in rows:
        err = (r["errors"] or {}).get("error") or {}
        state = r["replayStatus"] or "pending"
        click.echo(
            f"{r['id']:>8}  {r['receivedAt']}  {r['type'] or '?':<18} {r['code']:<16} {state:<9} "
            f"{err.get('path', '')}: {err.get('message', '')}"
        )
    codes = env.read(lambda c: dq.quarantine_codes(c, store.id))
    if codes and not as_json:
        click.echo(
            "by code: "
            + ", ".join(f"{c['code']} {c['pending']}/{c['count']} pending" for c in codes)
        )


@quarantine_group.command("replay")
@store_option()
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "replay_all", is_flag=True, help="Replay every event waiting for one.")
@click.option("--code", help="With --all: only this rejection code.")
@click.option("--json", "as_json", is_flag=True, help="One JSON result per line.")
@pass_env
def quarantine_replay(
    env: Env,
    store_ref: str | None,
    ids: tuple[int, ...],
    replay_all: bool,
    code: str | None,
    as_json: bool,
) -> None:
    """Decode quarantined events again with the current rules; record those that now pass."""

    if not ids and not replay_all:
        raise click.UsageError("give quarantine ids, or --all")
    store = resolve_store(env, store_ref)
    todo = list(ids) or env.read(lambda c: replay.pending_ids(c, store.id, code=code, limit=10**9))
    max_bytes = env.settings.ingest.max_event_bytes
    results: list[dict[str, Any]] = []
    for i in range(0, len(todo), 100):
        chunk = todo[i : i + 100]
        out = env.write(functools.partial(_replay_chunk, store, chunk, max_bytes))
        results += out
        for r in out:
            if as_json:
                click.echo(dumps(r))
            else:
                extra = ""
                if r.get("error"):
                    extra = f" {r['error'].get('code')} at {r['error'].get('path') or '/'}: {r['error'].get('message')}"
                click.echo(f"{r['id']:>8}  {r['status']}{extra}")
    if not as_json:
        click.echo(replay.replay_summary(results)[1] if results else "nothing to replay")
    missing = [str(r["id"]) for r in results if r["status"] == "missing"]
    if missing:
        raise click.ClickException(
            f"no quarantined event {', '.join(missing)} in store {store.id} "
            f"(see `shopevents quarantine list --store {store.id} --all`)"
        )


def _replay_chunk(
    store: StoreRecord, ids: list[int], max_bytes: int, conn: Conn, now: int
) -> list[dict[str, Any]]:
    return replay.replay_many(conn, store, ids, now, max_event_bytes=max_bytes)
