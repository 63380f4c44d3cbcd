"""CLI: exchange rates (`shopevents rates load FILE`, `rates list`) and a purchase's lifecycle
(`shopevents purchases refund`, `purchases cancel`)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click

from shopevents.cli_common import resolve_store
from shopevents.reports import rates


@click.group("rates")
def rates_group() -> None:
    """Exchange rates (the server's, shared by its stores)."""


@rates_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def rates_load(env: Any, file: Path) -> None:
    """Load an ECB reference-rate file (daily or historical, CSV or XML)."""
    try:
        parsed = rates.parse(file.read_bytes())
    except rates.RatesError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    n = env.write(lambda conn, now: rates.load(conn, parsed, now))
    days = sorted({d for d, _, _ in parsed})
    span = f" from {days[0]} to {days[-1]}" if days else ""
    click.echo(f"loaded {n} rates{span}")


@rates_group.command("list")
@click.option("--date", "day", help="The day (YYYY-MM-DD); default: the last 7 days.")
@click.pass_obj
def rates_list(env: Any, day: str | None) -> None:
    """The rates loaded for a day (units per euro)."""
    try:
        last = date.fromisoformat(day) if day else env.clock.now().date()
    except ValueError:
        raise click.BadParameter(
            f"expected a day as YYYY-MM-DD; got {day!r}", param_hint="--date"
        ) from None
    first = last if day else last - timedelta(days=7)
    found = env.read(lambda c: rates.listing(c, first, last))
    if not found:
        click.echo(
            f"no rates loaded for {day or 'the last 7 days'}: load some with "
            "`shopevents rates load FILE`",
            err=True,
        )
    for r in found:
        click.echo(f"{r['date']}  {r['currency']}  {r['rate']}")


@click.group("purchases")
def purchases_group() -> None:
    """A purchase's lifecycle: refunds and cancellation."""


def _adjust(env: Any, store_id: str, a: Any) -> None:
    from shopevents.api.adjustments_routes import write_adjustment
    from shopevents.storage.codec import dumps

    status, details = env.write(write_adjustment(store_id, a, "cli"))
    if status == "refused":
        raise click.ClickException(f"refused: {details}")
    if status == "conflict":
        raise click.ClickException(
            f"conflict: {a.adjustment_id!r} is recorded for this purchase with another content"
        )
    click.echo(dumps({"status": status, **details}))


_OPTIONS = {
    "/amount": "--amount",
    "/lines": "--line",
    "/refundedAt": "--at",
    "/cancelledAt": "--at",
    "/reason": "--reason",
    "/refundId": "--refund-id",
}


def _as_options(exc: Any) -> str:
    """A REST body's error (an `ApiError`), said with the command's options instead of JSON
    pointers: read from its first field error."""
    if not exc.errors:
        return str(exc.message)
    path, message = exc.errors[0]["path"], exc.errors[0]["message"]
    for pointer, option in _OPTIONS.items():
        if path == pointer or path.startswith(pointer + "/"):
            return f"{option}: {message}"
    return f"{path}: {message}" if path else str(message)


@purchases_group.command("refund")
@click.argument("store_id", metavar="STORE")
@click.argument("purchase_id")
@click.option("--refund-id", required=True)
@click.option("--amount", help="Refund this amount (in the purchase's currency).")
@click.option("--line", "lines", multiple=True, help="PRODUCT_ID:QUANTITY returned (repeatable).")
@click.option("--at", "at", help="When (ISO 8601); default now.")
@click.option("--reason")
@click.pass_obj
def purchases_refund(
    env: Any,
    store_id: str,
    purchase_id: str,
    refund_id: str,
    amount: str | None,
    lines: tuple[str, ...],
    at: str | None,
    reason: str | None,
) -> None:
    """Refund a purchase, by amount or by lines."""
    from decimal import Decimal

    from shopevents.api.adjustments_routes import parse_refund
    from shopevents.clock import to_micros
    from shopevents.errors import ApiError

    store_id = resolve_store(env, store_id).id
    if amount is None and not lines:
        raise click.UsageError(
            "say what is refunded: --amount AMOUNT, or --line PRODUCT_ID:QUANTITY"
        )
    body: dict[str, Any] = {"refundId": refund_id, "refundedAt": at, "reason": reason}
    if amount is not None:
        try:
            body["amount"] = Decimal(amount)
        except ArithmeticError:
            raise click.BadParameter(
                f"expected an amount such as 12.50; got {amount!r}", param_hint="--amount"
            ) from None
    if lines:
        body["lines"] = []
        for ln in lines:
            pid, _, qty = ln.rpartition(":")
            if not pid or not qty.isdigit():
                raise click.BadParameter(
                    f"{ln!r}: expected PRODUCT_ID:QUANTITY", param_hint="--line"
                )
            body["lines"].append({"productId": pid, "quantity": int(qty)})
    try:
        a = parse_refund(body, purchase_id, to_micros(env.clock.now()))
    except ApiError as exc:
        raise click.ClickException(_as_options(exc)) from None
    _adjust(env, store_id, a)


@purchases_group.command("cancel")
@click.argument("store_id", metavar="STORE")
@click.argument("purchase_id")
@click.option("--at", "at", help="When (ISO 8601); default now.")
@click.option("--reason")
@click.pass_obj
def purchases_cancel(
    env: Any, store_id: str, purchase_id: str, at: str | None, reason: str | None
) -> None:
    """Cancel a purchase (takes all that is left of it)."""
    from shopevents.api.adjustments_routes import parse_cancellation
    from shopevents.clock import to_micros
    from shopevents.errors import ApiError

    store_id = resolve_store(env, store_id).id
    try:
        a = parse_cancellation(
            {"cancelledAt": at, "reason": reason}, purchase_id, to_micros(env.clock.now())
        )
    except ApiError as exc:
        raise click.ClickException(_as_options(exc)) from None
    _adjust(env, store_id, a)


COMMANDS = [rates_group, purchases_group]
