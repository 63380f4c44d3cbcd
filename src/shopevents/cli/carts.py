"""`shopevents carts`: list a store's carts, show one."""

from __future__ import annotations

from typing import Any

import click

from shopevents.cli.common import out_json, resolve_store, store_option
from shopevents.cli.env import Env, pass_env
from shopevents.storage import reads
from shopevents.storage.database import Conn


@click.group("carts")
def carts_group() -> None:
    """Look at carts."""


@carts_group.command("list")
@store_option()
@click.option(
    "--status", type=click.Choice(["active", "empty", "purchased", "abandoned", "recovered"])
)
@click.option("--contact", "email", help="Only this contact's carts.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (the REST API's shape).")
@pass_env
def carts_list(
    env: Env,
    store_ref: str | None,
    status: str | None,
    email: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Carts, newest first."""
    store_id = resolve_store(env, store_ref).id

    def load(c: Conn) -> list[dict[str, Any]]:
        contact_id = None
        if email:
            contact = reads.contact_by_email(c, store_id, email)
            if contact is None:
                return []
            contact_id = contact["id"]
        return reads.list_carts(c, store_id, status=status, contact_id=contact_id, limit=limit)

    rows = env.read(load)
    if as_json:
        out_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Carts of {store_id}" + (f" ({status})" if status else ""))
    for col in ("cartKey", "cartId", "status", "contact", "items", "total", "updated", "abandonAt"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["cartKey"],
            r["cartId"],
            r["status"],
            r["contactEmail"] or r["contactId"],
            str(r["totalQuantity"]),
            f"{r['totalPrice']} {r['currency'] or ''}",
            r["updatedAt"] or "",
            r["abandonAt"] or "",
        )
    Console().print(table)


@carts_group.command("show")
@click.argument("cart_key")
@store_option()
@pass_env
def carts_show(env: Env, cart_key: str, store_ref: str | None) -> None:
    """One cart with its lines and history (JSON)."""
    store_id = resolve_store(env, store_ref).id
    cart = env.read(lambda c: reads.cart_by_key(c, store_id, cart_key))
    if cart is None:
        raise click.ClickException(f"no cart {cart_key!r} in store {store_id}")
    out_json(cart)
