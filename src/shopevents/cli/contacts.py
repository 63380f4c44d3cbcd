"""`shopevents contacts`: look at a contact, undo a merge (erasure: privacy.py)."""

from __future__ import annotations

from typing import Any

import click

from shopevents.cli.common import out_json, plain_text, resolve_store, store_option
from shopevents.cli.env import Env, pass_env
from shopevents.domain import identity, timeline
from shopevents.storage import reads
from shopevents.storage.database import Conn


@click.group("contacts")
def contacts_group() -> None:
    """Look at contacts; undo merges."""


@contacts_group.command("show")
@click.argument("email")
@store_option()
@click.option(
    "--activity",
    "activity_limit",
    default=20,
    show_default=True,
    type=click.IntRange(0, 500),
    help="How many activities to show.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_env
def contacts_show(
    env: Env, email: str, store_ref: str | None, activity_limit: int, as_json: bool
) -> None:
    """A contact: fields, purchase aggregates, trackers, merges and latest activity."""
    store_id = resolve_store(env, store_ref).id

    def load(c: Conn) -> dict[str, Any] | None:
        contact = reads.contact_by_email(c, store_id, email)
        if contact is None:
            return None
        contact.update(reads.contact_details(c, store_id, contact["id"]))
        contact["activity"] = [
            {k: v for k, v in a.items() if k != "_at"}
            for a in timeline.page(c, store_id, contact["id"], activity_limit)
        ]
        return contact

    contact = env.read(load)
    if contact is None:
        raise click.ClickException(
            f"no contact with the e-mail {email!r} in store {store_id} "
            "(contacts are found by their exact e-mail)"
        )
    if as_json:
        out_json(contact)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    fields = Table(title=f"Contact {contact['_email']} ({contact['id']})", show_header=False)
    for key, value in contact.items():
        if key not in ("trackers", "merges", "activity"):
            fields.add_row(key, plain_text(value))
    console.print(fields)
    if contact["trackers"]:
        console.print("trackers: " + ", ".join(t["trackerId"] for t in contact["trackers"]))
    for mg in contact["merges"]:
        state = f"undone {mg['undoneAt']}" if mg["undoneAt"] else "active"
        console.print(
            f"merge {mg['mergeId']}: {mg['fromContact']} -> {mg['intoContact']} at {mg['at']} ({state})"
        )
    acts = Table(title="Latest activity")
    for col in ("date", "type", "data"):
        acts.add_column(col)
    for a in contact["activity"]:
        acts.add_row(a["date"], a["type"], plain_text(a["data"])[:80])
    console.print(acts)


@contacts_group.command("unmerge")
@click.argument("merge_id", type=int)
@store_option()
@pass_env
def contacts_unmerge(env: Env, merge_id: int, store_ref: str | None) -> None:
    """Undo a merge: the merged contact and what moved with it come back."""
    store_id = resolve_store(env, store_ref).id
    ok = env.write(lambda c, now: identity.unmerge(c, store_id, merge_id, now))
    if not ok:
        raise click.ClickException(f"no merge {merge_id} in store {store_id} that can be undone")
    click.echo(f"merge {merge_id} undone")
