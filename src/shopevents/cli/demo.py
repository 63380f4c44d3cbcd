"""`shopevents demo`: simulated traffic through a running server's ingest endpoint."""

from __future__ import annotations

from typing import Any

import click

from shopevents.cli.common import resolve_store, store_option
from shopevents.cli.env import Env, pass_env
from shopevents.domain import store_settings


@click.command("demo")
@click.option(
    "--url", default="http://127.0.0.1:8000", show_default=True, help="The running server."
)
@store_option(note=' Default: the store named "Demo store" (made if missing).')
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
@pass_env
def demo_command(
    env: Env, url: str, store_ref: str | None, abandon_after: str, **traffic: Any
) -> None:
    """Fill a store with realistic simulated traffic through the real ingest endpoint."""
    # `traffic` (--api-key, --visitors, --days, --seed) goes to `run_demo` as it is.
    import httpx

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
    store_id = None if store_ref is None else resolve_store(env, store_ref).id
    base = url.rstrip("/")
    try:  # before anything is written: nothing changes when no server answers
        httpx.get(f"{base}/healthz", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        raise click.ClickException(
            f"no shopevents server answers at {base} ({exc}): start one with "
            "`shopevents serve --demo`, or fix --url"
        ) from None
    run_demo(env, url=base, store_ref=store_id, abandon_after=abandon_after, **traffic)
