"""`shopevents users`: dashboard accounts, their stores and roles, their sessions."""

from __future__ import annotations

from typing import Any

import click

from shopevents.cli.common import resolve_store, store_option
from shopevents.cli.env import Env, pass_env
from shopevents.clock import to_micros
from shopevents.jsoncodec import dumps
from shopevents.storage import accounts, stores
from shopevents.storage.accounts import ROLES
from shopevents.storage.reads import iso


@click.group("users")
def users_group() -> None:
    """Dashboard accounts."""


def _role_choice() -> click.Choice:

    return click.Choice(ROLES)


def _find_user(env: Env, username: str) -> int:

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
@store_option(
    note=" Grants the account this store; without it the account sees no store, unless it is"
    " the server's first account (owner of every store there is)."
)
@click.option("--role", type=_role_choice(), default="viewer", show_default=True)
@pass_env
def users_create(
    env: Env, username: str, password: str | None, store_ref: str | None, role: str
) -> None:
    """Create a dashboard account (password hashed with Argon2id); --store grants it a store."""
    from shopevents.dashboard import auth

    env.require_migrated()
    store = resolve_store(env, store_ref) if store_ref is not None else None
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
@store_option(required=True)
@click.option("--role", type=_role_choice(), required=True, help="viewer, admin or owner.")
@pass_env
def users_grant(env: Env, username: str, store_ref: str, role: str) -> None:
    """Give an account a role on a store (replaces the role it had there)."""
    env.require_migrated()
    uid = _find_user(env, username)
    store = resolve_store(env, store_ref)

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
@store_option(required=True)
@pass_env
def users_revoke(env: Env, username: str, store_ref: str) -> None:
    """Take an account's access to a store away (its sessions end)."""
    env.require_migrated()
    uid = _find_user(env, username)
    store = resolve_store(env, store_ref)
    if not env.write(lambda c, now: accounts.revoke(c, uid, store.id)):
        raise click.ClickException(f"{username!r} has no access to store {store.id}")
    click.echo(f"{username!r} has no access to store {store.id} ({store.name}) any more")


@users_group.command("sessions")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_env
def users_sessions(env: Env, username: str, as_json: bool) -> None:
    """List an account's open dashboard sessions."""
    env.require_migrated()
    uid = _find_user(env, username)
    now = to_micros(env.clock.now())
    rows = env.read(lambda c: accounts.list_sessions(c, uid, now))
    if not rows and not as_json:
        click.echo(f"{username!r} has no open session", err=True)
    for r in rows:
        if as_json:
            click.echo(dumps(r))
        else:
            click.echo(
                f"{r['id'][:12]}  signed in {iso(r['createdAt'])}  last seen "
                f"{iso(r['lastSeenAt'])}  expires {iso(r['expiresAt'])}  {r['userAgent'] or '-'}"
            )


@users_group.command("revoke-sessions")
@click.argument("username")
@pass_env
def users_revoke_sessions(env: Env, username: str) -> None:
    """End every dashboard session of an account (it must log in again)."""
    env.require_migrated()
    uid = _find_user(env, username)
    n = env.write(lambda c, now: accounts.end_sessions(c, uid))
    click.echo(f"{n} session{'' if n == 1 else 's'} of {username!r} ended")


@users_group.command("set-password")
@click.argument("username")
@click.option("--password", envvar="SHOPEVENTS_NEW_PASSWORD", help="The new password.")
@pass_env
def users_set_password(env: Env, username: str, password: str | None) -> None:
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
@pass_env
def users_list(env: Env) -> None:
    """List dashboard accounts."""
    from shopevents.dashboard import auth

    users = env.read(auth.list_users)
    if not users:
        click.echo("no users yet: create one with `shopevents users create NAME`", err=True)
    roles = env.read(lambda c: {u["id"]: accounts.roles_of(c, u["id"]) for u in users})
    for u in users:
        grants = ", ".join(f"{sid} ({role})" for sid, role in sorted(roles[u["id"]].items()))
        click.echo(f"{u['username']}  created {iso(u['createdAt'])}  stores: {grants or 'none'}")
