"""`shopevents purchases`: a purchase's lifecycle, refunds and cancellation (the REST API's
rules and answers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import click

from shopevents.cli.common import resolve_store
from shopevents.cli.env import Env, pass_env
from shopevents.clock import to_micros
from shopevents.domain.adjustment_bodies import parse_cancellation, parse_refund
from shopevents.errors import ApiError
from shopevents.jsoncodec import dumps


@click.group("purchases")
def purchases_group() -> None:
    """A purchase's lifecycle: refunds and cancellation."""


def _adjust(env: Env, store_id: str, a: Any) -> None:
    from shopevents.api.adjustments_routes import write_adjustment

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


def as_options(exc: Any) -> str:
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
@pass_env
def purchases_refund(
    env: Env,
    store_id: str,
    purchase_id: str,
    refund_id: str,
    amount: str | None,
    lines: tuple[str, ...],
    at: str | None,
    reason: str | None,
) -> None:
    """Refund a purchase, by amount or by lines."""
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
        raise click.ClickException(as_options(exc)) from None
    _adjust(env, store_id, a)


@purchases_group.command("cancel")
@click.argument("store_id", metavar="STORE")
@click.argument("purchase_id")
@click.option("--at", "at", help="When (ISO 8601); default now.")
@click.option("--reason")
@pass_env
def purchases_cancel(
    env: Env, store_id: str, purchase_id: str, at: str | None, reason: str | None
) -> None:
    """Cancel a purchase (takes all that is left of it)."""

    store_id = resolve_store(env, store_id).id
    try:
        a = parse_cancellation(
            {"cancelledAt": at, "reason": reason}, purchase_id, to_micros(env.clock.now())
        )
    except ApiError as exc:
        raise click.ClickException(as_options(exc)) from None
    _adjust(env, store_id, a)
