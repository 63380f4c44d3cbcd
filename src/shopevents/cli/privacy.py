"""`shopevents contacts erase EMAIL --store ID` and `shopevents contacts erasures --store ID`:
erase a contact and every stored copy of its personal data, and read the audit log;
`shopevents stores retention --store ID [--days N | --default]`: how long raw request bodies
and quarantined events are kept."""

from __future__ import annotations

import getpass
import re

import click

from shopevents.cli.common import out_json, resolve_store, store_option
from shopevents.cli.env import Env, pass_env
from shopevents.domain import erasure, retention
from shopevents.ids import new_id
from shopevents.schema.emails import EMAIL_PATTERN
from shopevents.storage import erasure as erasures
from shopevents.storage import retention as retentions
from shopevents.storage.reads import iso

_ADDRESS = re.compile(EMAIL_PATTERN)


@click.command("erase")
@click.argument("email")
@store_option()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the REST API's answer.")
@pass_env
def erase_command(env: Env, email: str, store_ref: str | None, yes: bool, as_json: bool) -> None:
    """Erase a contact, the contacts merged into it and every stored copy of their personal
    data (docs/privacy.md); revenue and counts stay as anonymous figures. Idempotent."""
    address = email.strip().lower()
    if not _ADDRESS.match(address) or len(address) > 254:
        raise click.ClickException(f"{email!r} is not an e-mail address")
    store = resolve_store(env, store_ref)
    if not yes and not as_json:
        click.confirm(f"Erase {address} from store {store.name} ({store.id})?", abort=True)
    actor = f"cli:{getpass.getuser()}"
    job = new_id(env.now())
    out = env.write(
        lambda c, now: erasure.request(c, store.id, address, actor, now, job, inline_limit=1 << 62)
    )
    if as_json:
        out_json({"id": out.id, "status": out.status, "found": out.found, "counts": out.counts})
        return
    if not out.found:
        click.echo(f"no contact with the e-mail {address} in store {store.id}: nothing to erase")
        return
    counts = ", ".join(f"{k} {v}" for k, v in sorted(out.counts.items())) or "nothing left"
    click.echo(f"erased {address} (erasure {out.id}): {counts}")


@click.command("erasures")
@store_option()
@pass_env
def erasures_command(env: Env, store_ref: str | None) -> None:
    """The store's erasures (the audit log), newest first, as JSON."""
    store = resolve_store(env, store_ref)
    rows = env.read(lambda c: erasures.listed(c, store.id))
    out_json([erasure.view(e, iso) for e in rows])


@click.command("retention")
@store_option()
@click.option("--days", type=click.IntRange(retention.MIN_DAYS, retention.MAX_DAYS))
@click.option("--default", "use_default", is_flag=True, help="Back to the default (90 days).")
@pass_env
def retention_command(env: Env, store_ref: str | None, days: int | None, use_default: bool) -> None:
    """Show or set how long the store keeps raw request bodies and quarantined events; the
    worker prunes older ones."""
    if days is not None and use_default:
        raise click.UsageError("give --days N or --default, not both")
    store = resolve_store(env, store_ref)
    if days is not None or use_default:
        env.write(lambda c, now: retentions.set_days(c, store.id, days))
    got, until = env.read(
        lambda c: (retentions.days_of(c, store.id), retentions.pruned_until(c, store.id))
    )
    out_json(retention.view(got, until, iso))
