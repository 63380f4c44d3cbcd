"""Commands for the dashboard's side of the CLI: users, quarantine, report, export, demo.

`COMMANDS` is registered on the main group; each command receives the `Env` as its obj.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from typing import Any

import click
import msgspec

from shopevents.cli_common import open_output, resolve_store
from shopevents.cli_common import store_option as shared_store_option
from shopevents.clock import to_micros
from shopevents.errors import FieldError
from shopevents.reports import routes as report_routes
from shopevents.storage import exports, stores
from shopevents.storage.codec import dumps
from shopevents.storage.database import Conn
from shopevents.storage.reads import iso
from shopevents.storage.stores import StoreRecord


def _json(value: Any) -> str:
    return dumps(value)


def find_store(env: Any, ref: str | None) -> StoreRecord:
    """A store by id, or else by exact name; None: the only store there is."""
    return resolve_store(env, ref)


store_option = shared_store_option()

# --- users -----------------------------------------------------------------------------------


@click.group("users")
def users_group() -> None:
    """Dashboard accounts."""


def _role_choice() -> click.Choice:
    from shopevents.storage.accounts import ROLES

    return click.Choice(ROLES)


def _find_user(env: Any, username: str) -> int:
    from shopevents.storage import accounts

    uid = env.read(lambda c: accounts.user_id_of(c, username))
    if uid is None:
        raise click.ClickException(
            f"no user {username!r}: see `shopevents users list`, or `shopevents users create`"
        )
    return int(uid)


@users_group.command("create")
@click.argument("username")
@click.option(
    "--password",
    envvar="SHOPEVENTS_NEW_PASSWORD",
    help="The password (else asked for; env SHOPEVENTS_NEW_PASSWORD).",
)
@shared_store_option(
    note=" Grants the account this store; without it the account sees no store, unless it is"
    " the server's first account (owner of every store there is)."
)
@click.option("--role", type=_role_choice(), default="viewer", show_default=True)
@click.pass_obj
def users_create(
    env: Any, username: str, password: str | None, store_ref: str | None, role: str
) -> None:
    """Create a dashboard account (password hashed with Argon2id); --store grants it a store."""
    from shopevents.dashboard import auth
    from shopevents.storage import accounts

    env.require_migrated()
    store = find_store(env, store_ref) if store_ref is not None else None
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    def make(c: Any, now: int) -> list[Any]:
        first = accounts.user_count(c) == 0
        uid = auth.create_user(c, username, password, now)
        if store is not None:
            accounts.grant(c, uid, store.id, role, now)
            return []
        owned = stores.list_stores(c) if first else []
        for rec in owned:  # the server's first account runs it: owner of every store
            accounts.grant(c, uid, rec.id, "owner", now)
        return owned

    try:
        owned = env.write(make)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created user {username.strip()!r}; log in at {env.settings.base_url}/login")
    if owned:
        names = ", ".join(rec.name for rec in owned)
        click.echo(f"the server's first account: owner of every store ({names})")
    elif store is None:
        click.echo(
            f"it sees no store yet: `shopevents users grant {username.strip()} --store ID "
            "--role viewer|admin|owner`",
            err=True,
        )
    else:
        click.echo(f"{username.strip()!r} is {role} of store {store.id} ({store.name})")


@users_group.command("grant")
@click.argument("username")
@shared_store_option(required=True)
@click.option("--role", type=_role_choice(), required=True, help="viewer, admin or owner.")
@click.pass_obj
def users_grant(env: Any, username: str, store_ref: str, role: str) -> None:
    """Give an account a role on a store (replaces the role it had there)."""
    from shopevents.storage import accounts

    env.require_migrated()
    uid = _find_user(env, username)
    store = find_store(env, store_ref)

    def run(c: Any, now: int) -> str | None:
        before = accounts.grant(c, uid, store.id, role, now)
        if before is not None and before != role:
            accounts.end_sessions(c, uid)  # the new role applies from a new login
        return before

    before = env.write(run)
    was = f" (was {before})" if before and before != role else ""
    click.echo(f"{username!r} is {role} of store {store.id} ({store.name}){was}")


@users_group.command("revoke")
@click.argument("username")
@shared_store_option(required=True)
@click.pass_obj
def users_revoke(env: Any, username: str, store_ref: str) -> None:
    """Take an account's access to a store away (its sessions end)."""
    from shopevents.storage import accounts

    env.require_migrated()
    uid = _find_user(env, username)
    store = find_store(env, store_ref)
    if not env.write(lambda c, now: accounts.revoke(c, uid, store.id)):
        raise click.ClickException(f"{username!r} has no access to store {store.id}")
    click.echo(f"{username!r} has no access to store {store.id} ({store.name}) any more")


@users_group.command("sessions")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def users_sessions(env: Any, username: str, as_json: bool) -> None:
    """List an account's open dashboard sessions."""
    from shopevents.storage import accounts

    env.require_migrated()
    uid = _find_user(env, username)
    now = to_micros(env.clock.now())
    rows = env.read(lambda c: accounts.list_sessions(c, uid, now))
    if not rows and not as_json:
        click.echo(f"{username!r} has no open session", err=True)
    for r in rows:
        if as_json:
            click.echo(_json(r))
        else:
            click.echo(
                f"{r['id'][:12]}  signed in {iso(r['createdAt'])}  last seen "
                f"{iso(r['lastSeenAt'])}  expires {iso(r['expiresAt'])}  {r['userAgent'] or '-'}"
            )


@users_group.command("revoke-sessions")
@click.argument("username")
@click.pass_obj
def users_revoke_sessions(env: Any, username: str) -> None:
    """End every dashboard session of an account (it must log in again)."""
    from shopevents.storage import accounts

    env.require_migrated()
    uid = _find_user(env, username)
    n = env.write(lambda c, now: accounts.end_sessions(c, uid))
    click.echo(f"{n} session{'' if n == 1 else 's'} of {username!r} ended")


@users_group.command("set-password")
@click.argument("username")
@click.option("--password", envvar="SHOPEVENTS_NEW_PASSWORD", help="The new password.")
@click.pass_obj
def users_set_password(env: Any, username: str, password: str | None) -> None:
    """Change an account's password (its open sessions end)."""
    from shopevents.dashboard import auth

    env.require_migrated()
    if not any(u["username"] == username for u in env.read(auth.list_users)):
        raise click.ClickException(
            f"no user {username!r}: see `shopevents users list`, or `shopevents users create`"
        )
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        ok = env.write(lambda c, now: auth.set_password(c, username, password))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if not ok:
        raise click.ClickException(f"no user {username!r}")
    click.echo(f"password of {username!r} changed")


@users_group.command("list")
@click.pass_obj
def users_list(env: Any) -> None:
    """List dashboard accounts."""
    from shopevents.dashboard import auth
    from shopevents.storage import accounts

    users = env.read(auth.list_users)
    if not users:
        click.echo("no users yet: create one with `shopevents users create NAME`", err=True)
    roles = env.read(lambda c: {u["id"]: accounts.roles_of(c, u["id"]) for u in users})
    for u in users:
        grants = ", ".join(f"{sid} ({role})" for sid, role in sorted(roles[u["id"]].items()))
        click.echo(f"{u['username']}  created {iso(u['createdAt'])}  stores: {grants or 'none'}")


# --- quarantine ------------------------------------------------------------------------------


@click.group("quarantine")
def quarantine_group() -> None:
    """Rejected events kept raw: list them, replay them once the integration is fixed."""


@quarantine_group.command("list")
@store_option
@click.option("--code", help="Only this rejection code.")
@click.option("--all", "show_all", is_flag=True, help="Include events replayed successfully.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def quarantine_list(
    env: Any, store_ref: str | None, code: str | None, show_all: bool, limit: int, as_json: bool
) -> None:
    """List quarantined events, newest first (waiting for a replay, unless --all)."""
    from shopevents.dashboard import queries as dq
    from shopevents.storage import reads

    store = find_store(env, store_ref)
    rows = env.read(
        lambda c: reads.quarantine(c, store.id, code=code, pending_only=not show_all, limit=limit)
    )
    if as_json:
        for r in rows:
            click.echo(_json(r))
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
@store_option
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "replay_all", is_flag=True, help="Replay every event waiting for one.")
@click.option("--code", help="With --all: only this rejection code.")
@click.option("--json", "as_json", is_flag=True, help="One JSON result per line.")
@click.pass_obj
def quarantine_replay(
    env: Any,
    store_ref: str | None,
    ids: tuple[int, ...],
    replay_all: bool,
    code: str | None,
    as_json: bool,
) -> None:
    """Decode quarantined events again with the current rules; record those that now pass."""
    from shopevents.dashboard import replay
    from shopevents.dashboard.routes import replay_summary

    if not ids and not replay_all:
        raise click.UsageError("give quarantine ids, or --all")
    store = find_store(env, store_ref)
    todo = list(ids) or env.read(lambda c: replay.pending_ids(c, store.id, code=code, limit=10**9))
    max_bytes = env.settings.ingest.max_event_bytes
    results: list[dict[str, Any]] = []
    for i in range(0, len(todo), 100):
        chunk = todo[i : i + 100]
        out = env.write(
            lambda c, now, ch=chunk: replay.replay_many(
                c, store, ch, now, max_event_bytes=max_bytes
            )
        )
        results += out
        for r in out:
            if as_json:
                click.echo(_json(r))
            else:
                extra = ""
                if r.get("error"):
                    extra = f" {r['error'].get('code')} at {r['error'].get('path') or '/'}: {r['error'].get('message')}"
                click.echo(f"{r['id']:>8}  {r['status']}{extra}")
    if not as_json:
        click.echo(replay_summary(results)[1] if results else "nothing to replay")
    missing = [str(r["id"]) for r in results if r["status"] == "missing"]
    if missing:
        raise click.ClickException(
            f"no quarantined event {', '.join(missing)} in store {store.id} "
            f"(see `shopevents quarantine list --store {store.id} --all`)"
        )


# --- reports ---------------------------------------------------------------------------------


def _range_options(fn: Any) -> Any:
    fn = click.option("--to", "to_", help="Last local day, YYYY-MM-DD (default today).")(fn)
    fn = click.option(
        "--from", "from_", help="First local day, YYYY-MM-DD (default 29 days before --to)."
    )(fn)
    return store_option(fn)


def _report_range(
    env: Any,
    store: StoreRecord,
    from_: str | None,
    to_: str | None,
    interval: str,
    hour: bool = False,
) -> Any:
    from shopevents.reports.timebuckets import local_today, make_range

    try:
        return make_range(
            store.timezone,
            local_today(store.timezone, env.clock.now()),
            from_,
            to_,
            interval,
            allow_hour=hour,
        )
    except FieldError as exc:
        raise click.BadParameter(exc.message, param_hint="--from/--to") from exc


def _run_report(env: Any, store: StoreRecord, fn: Any) -> Any:
    from shopevents.reports import rollups

    env.require_migrated()

    def go(conn: Conn) -> Any:
        rollups.catch_up(conn, store.id, store.timezone, env.now())
        return fn(conn)

    return env.read(go)


def _emit(fmt: str, data: dict[str, Any], head: list[str], rows: list[list[Any]]) -> None:
    if fmt == "json":
        click.echo(msgspec.json.format(dumps(data), indent=2))
        return
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    click.echo(buf.getvalue(), nl=False)


def _check_currency(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An ISO 4217 code (as the REST API's `currency`), or nothing."""
    if value is None or value == "":
        return None
    from shopevents.schema.currencies import ISO_4217

    if value.upper() not in ISO_4217:
        raise click.BadParameter(
            f"expected an ISO 4217 currency code (EUR, USD, ...); got {value!r}"
        )
    return value.upper()


currency_option = click.option(
    "--currency",
    callback=_check_currency,
    help="Only purchases in this currency, an ISO 4217 code (default the store's).",
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
interval_option = click.option(
    "--interval", type=click.Choice(["day", "week", "month"]), default="day", show_default=True
)


@click.group("report")
def report_group() -> None:
    """Reports as CSV or JSON (the same figures as the dashboard and the REST API)."""


@report_group.command("revenue")
@_range_options
@interval_option
@click.option(
    "--group-by", type=click.Choice(["source_type", "source_name", "payment_method"]), default=None
)
@currency_option
@format_option
@click.pass_obj
def report_revenue(
    env: Any,
    store_ref: str | None,
    from_: str | None,
    to_: str | None,
    interval: str,
    group_by: str | None,
    currency: str | None,
    fmt: str,
) -> None:
    """Revenue and orders per day, week or month, optionally split."""
    from shopevents.reports import queries

    store = find_store(env, store_ref)
    rng = _report_range(env, store, from_, to_, interval)
    data = _run_report(env, store, lambda c: queries.revenue(c, store, rng, group_by, currency))
    if group_by:
        head = ["period", group_by, "orders", "revenue", "currency"]
        rows = [
            [b["start"], g, v["orders"], v["revenue"], data["currency"]]
            for b in data["buckets"]
            for g, v in b["groups"].items()
        ]
    else:
        head = ["period", "orders", "revenue", "currency"]
        rows = [[b["start"], b["orders"], b["revenue"], data["currency"]] for b in data["buckets"]]
    _emit(fmt, data, head, rows)


@report_group.command("carts")
@_range_options
@interval_option
@format_option
@click.pass_obj
def report_carts(
    env: Any, store_ref: str | None, from_: str | None, to_: str | None, interval: str, fmt: str
) -> None:
    """Carts created, abandoned, purchased, recovered per period (totals in JSON)."""
    from shopevents.reports import queries

    store = find_store(env, store_ref)
    rng = _report_range(env, store, from_, to_, interval)
    data = _run_report(env, store, lambda c: queries.carts(c, store, rng))
    head = ["period", "created", "abandoned", "purchased", "recovered"]
    rows = [
        [b["start"], b["created"], b["abandoned"], b["purchased"], b["recovered"]]
        for b in data["buckets"]
    ]
    _emit(fmt, data, head, rows)


@report_group.command("products")
@_range_options
@click.option(
    "--limit", default=10, show_default=True, type=click.IntRange(1, report_routes.MAX_LIMIT)
)
@click.option("--by", type=click.Choice(["revenue", "units"]), default="revenue", show_default=True)
@currency_option
@format_option
@click.pass_obj
def report_products(
    env: Any,
    store_ref: str | None,
    from_: str | None,
    to_: str | None,
    limit: int,
    by: str,
    currency: str | None,
    fmt: str,
) -> None:
    """Top products by revenue (or units) in the range."""
    from shopevents.reports import queries

    store = find_store(env, store_ref)
    rng = _report_range(env, store, from_, to_, "day")
    data = _run_report(env, store, lambda c: queries.products(c, store, rng, limit, currency))
    items = data["byRevenue"] if by == "revenue" else data["byUnits"]
    head = ["rank", "product_id", "name", "units", "orders", "revenue", "currency"]
    rows = [
        [i, p["productId"], p["name"], p["units"], p["orders"], p["revenue"], data["currency"]]
        for i, p in enumerate(items, 1)
    ]
    _emit(fmt, data, head, rows)


@report_group.command("data-quality")
@_range_options
@click.option(
    "--interval",
    type=click.Choice(["hour", "day", "week", "month"]),
    default="day",
    show_default=True,
)
@format_option
@click.pass_obj
def report_quality(
    env: Any, store_ref: str | None, from_: str | None, to_: str | None, interval: str, fmt: str
) -> None:
    """Events by outcome per period, with warning and rejection codes (in JSON)."""
    from shopevents.reports import queries

    store = find_store(env, store_ref)
    rng = _report_range(env, store, from_, to_, interval, hour=True)
    data = _run_report(env, store, lambda c: queries.data_quality(c, store, rng))
    head = ["period", *queries.OUTCOMES]
    rows = [[b["start"], *(b[o] for o in queries.OUTCOMES)] for b in data["buckets"]]
    _emit(fmt, data, head, rows)


@report_group.command("rebuild")
@store_option
@click.pass_obj
def report_rebuild(env: Any, store_ref: str | None) -> None:
    """Drop a store's report rollups and build them again from the stored rows."""
    from shopevents.reports import rollups

    env.require_migrated()
    store = find_store(env, store_ref)
    env.write(lambda c, now: rollups.drop(c, store.id))
    steps = env.read(lambda c: rollups.catch_up(c, store.id, store.timezone, env.now()))
    click.echo(f"rebuilt the report rollups of {store.id} ({steps} steps)")


# --- export ----------------------------------------------------------------------------------

BATCH = 2000


def _pages(conn: Conn, sql: str, store_id: str, first: Any, extra: list[Any]) -> Iterator[Any]:
    """Rows in id order, one page at a time (keyset pagination: constant memory)."""
    last = first
    while True:
        rows = conn.all(sql, [store_id, last, *extra])
        yield from rows
        if len(rows) < BATCH:
            return
        last = rows[-1][0]


def _time_bounds(
    env: Any, store: StoreRecord, from_: str | None, to_: str | None
) -> tuple[int, int] | None:
    if not from_ and not to_:
        return None
    rng = _report_range(env, store, from_ or "1970-01-01", to_, "day")
    return rng.start_us, rng.end_us


def _export(
    env: Any,
    what: str,
    store: StoreRecord,
    fmt: str,
    bounds: tuple[int, int] | None,
    out: Any,
    quiet: bool,
) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    plus = "+" if env.db.dialect == "sqlite" else ""
    time_col = {"events": "received_at", "purchases": "purchased_at", "contacts": "created_at"}[
        what
    ]
    time_sql = f" AND {plus}{time_col} >= ? AND {plus}{time_col} < ?" if bounds else ""
    extra: list[Any] = [bounds[0], bounds[1]] if bounds else []
    where = f"{plus}store_id = ?{time_sql}"
    cols = {
        "events": "id, request_id, idx, type, status, received_at, contact_id, warnings, data",
        "purchases": (
            "id, purchase_id, purchased_at, date_offset, received_at, contact_id, cart_id, channel, total_price, "
            "total_quantity, currency, payment_method, source_type, source_name, recovered, data"
        ),
        "contacts": (
            "id, email, fields, created_at, updated_at, merged_into, total_purchases, total_amount, "
            "first_purchase_at, last_purchase_at"
        ),
    }[what]
    table = what
    sql = f"SELECT {cols} FROM {table} WHERE {plus}store_id = ? AND id > ?{time_sql} ORDER BY id LIMIT {BATCH}"
    heads = {
        "events": ["id", "request_id", "index", "type", "status", "received_at", "contact_id", "warnings", "data"],
        "purchases": [
            "id", "purchase_id", "purchase_date", "received_at", "contact_id", "cart_id", "channel",
            "total_price", "total_quantity", "currency", "payment_method", "source_type",
            "source_name", "recovered", "products",
        ],
        "contacts": [
            "id", "email", "created_at", "updated_at", "merged_into", "total_purchases",
            "total_amount", "first_purchase_at", "last_purchase_at", "fields",
        ],
    }  # fmt: skip

    conn = env.db.connect()
    written = 0
    try:
        total = int(
            conn.scalar(f"SELECT COUNT(*) FROM {table} WHERE {where}", [store.id, *extra]) or 0
        )
        writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        if writer is not None:
            writer.writerow(heads[what])
        console = Console(stderr=True)
        with Progress(
            TextColumn(f"exporting {what}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=quiet,
            transient=False,
        ) as bar:
            task = bar.add_task(what, total=total)
            for row in _pages(conn, sql, store.id, "" if what == "contacts" else 0, extra):
                rec = exports.record(what, row)
                if writer is not None:
                    writer.writerow(exports.flat(rec))
                else:
                    out.write(_json(rec) + "\n")
                written += 1
                if written % 500 == 0:
                    bar.update(task, completed=written)
            bar.update(task, completed=written)
    finally:
        conn.close()
    return written


@click.command("export")
@click.argument("what", type=click.Choice(["events", "purchases", "contacts"]))
@store_option
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write to a file (default stdout).",
)
@click.option(
    "--from",
    "from_",
    help="First local day (events: received; purchases: purchase date; contacts: created).",
)
@click.option("--to", "to_", help="Last local day.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def export_command(
    env: Any,
    what: str,
    store_ref: str | None,
    fmt: str,
    output: str | None,
    from_: str | None,
    to_: str | None,
    quiet: bool,
) -> None:
    """Export a store's events, purchases or contacts as JSON lines or CSV, streamed in id
    order a page at a time (constant memory whatever the size), with a progress bar."""
    env.require_migrated()
    store = find_store(env, store_ref)
    bounds = _time_bounds(env, store, from_, to_)
    if output:
        with open_output(output) as fh:
            n = _export(env, what, store, fmt, bounds, fh, quiet)
        if not quiet:
            click.echo(f"wrote {n} {what} to {output}", err=True)
    else:
        _export(env, what, store, fmt, bounds, sys.stdout, quiet)


# --- demo ------------------------------------------------------------------------------------


@click.command("demo")
@click.option(
    "--url", default="http://127.0.0.1:8000", show_default=True, help="The running server."
)
@shared_store_option(note=' Default: the store named "Demo store" (made if missing).')
@click.option(
    "--api-key",
    help="keyId:secret: also send marketplace and shop purchases through POST /api/purchases/.",
)
@click.option("--visitors", default=120, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--days",
    default=30,
    show_default=True,
    type=click.IntRange(1, 365),
    help="Spread purchase dates over this many past days.",
)
@click.option(
    "--abandon-after",
    default="20s",
    show_default=True,
    help="Abandonment delay set on the store while the demo runs ('keep' to leave it).",
)
@click.option("--seed", default=None, type=int, help="Random seed (same seed, same traffic).")
@click.pass_obj
def demo_command(
    env: Any,
    url: str,
    store_ref: str | None,
    api_key: str | None,
    visitors: int,
    days: int,
    abandon_after: str,
    seed: int | None,
) -> None:
    """Fill a store with realistic simulated traffic through the real ingest endpoint."""
    import httpx

    from shopevents.domain import store_settings
    from shopevents.simulate import run_demo

    if abandon_after != "keep":
        try:  # the store setting's rule (domain/store_settings.py), or keep
            store_settings.abandon_after(abandon_after)
        except store_settings.SettingError as exc:
            raise click.BadParameter(
                f"Expected {exc.expected}, or keep; received {store_settings.shown(exc.got)}",
                param_hint="--abandon-after",
            ) from None
    env.require_migrated()
    store_id = None if store_ref is None else find_store(env, store_ref).id
    base = url.rstrip("/")
    try:  # before anything is written: nothing changes when no server answers
        httpx.get(f"{base}/healthz", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        raise click.ClickException(
            f"no shopevents server answers at {base} ({exc}): start one with "
            "`shopevents serve --demo`, or fix --url"
        ) from None
    run_demo(
        env,
        url=base,
        store_ref=store_id,
        api_key=api_key,
        visitors=visitors,
        days=days,
        abandon_after=abandon_after,
        seed=seed,
    )


COMMANDS: list[click.Command] = [
    users_group,
    quarantine_group,
    report_group,
    export_command,
    demo_command,
]
