"""`shopevents send` (an ingest payload, written here or posted to a running server) and
`shopevents schema export` (the JSON Schema of every model)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from shopevents.cli.common import open_output, out_json, resolve_store, store_option
from shopevents.cli.env import Env, first_line, pass_env
from shopevents.errors import ApiError
from shopevents.ingest import consent, intake
from shopevents.jsoncodec import pretty
from shopevents.schema.jsonschema import export
from shopevents.schema.verdicts import CheckContext, read_envelope


@click.command()
@click.argument("file", type=click.File("rb"))
@store_option()
@click.option(
    "--url", "server", help="Post to a running server at this base URL instead of writing directly."
)
@pass_env
def send(env: Env, file: Any, store_ref: str | None, server: str | None) -> None:
    """Post an ingest payload (a JSON file, or - for stdin) and print the response."""
    body = file.read()
    if server:
        _send_to(env, server, store_ref, body)
        return

    try:
        store = resolve_store(env, store_ref)
    except click.UsageError:
        raise
    except click.ClickException as exc:
        # as the ingest endpoint answers it, in the error shape
        out_json(ApiError("unknown_store", f"No store has the id or name {store_ref!r}").body())
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    try:
        envelope = read_envelope(body)
        intake.within_limit(envelope, env.settings.ingest.max_events)
        if (refused := consent.refusal(store, envelope.consent, {})) is not None:
            out_json(consent.answer(envelope, refused))  # as the endpoint: nothing written
            return
        prepared = intake.prepare(
            store,
            envelope,
            body,
            ctx=CheckContext(now=env.clock.now(), currency=store.currency, domains=store.domains),
            max_event_bytes=env.settings.ingest.max_event_bytes,
            channel="cli",
        )
    except ApiError as exc:
        out_json(exc.body())
        sys.exit(1)
    weight = max(1, len(envelope.events))
    result, _ = asyncio.run(env.ctx.intake.submit(prepared, weight))
    out_json(result)


def _send_to(env: Env, server: str, store_ref: str | None, body: bytes) -> None:
    """`send --url`: a store name is looked up in the local database when there is one;
    otherwise --store is taken as the id the server knows."""
    import httpx

    try:
        store_id = resolve_store(env, store_ref).id
    except click.ClickException:
        if store_ref is None:
            raise
        store_id = store_ref
    base = server.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise click.BadParameter(
            f"{server!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:8000)",
            param_hint="--url",
        )
    try:
        r = httpx.post(
            f"{base}/integration-type/system/scrippet-notification/{store_id}",
            content=body,
            headers={"Content-Type": "text/plain"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise click.ClickException(
            f"could not reach the server at {base} ({first_line(exc)}): is `shopevents serve` "
            "running there? Start it, or fix --url"
        ) from None
    click.echo(r.text)
    if r.status_code != 200:
        click.echo(f"Error: the server answered {r.status_code}", err=True)
        sys.exit(1)


@click.group("schema")
def schema_group() -> None:
    """The JSON Schema of every model."""


@schema_group.command("export")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="Write to a file instead of stdout."
)
def schema_export(output: str | None) -> None:
    """Print the JSON Schema of every model, generated from the code."""
    text = pretty(export())
    if output:
        with open_output(output) as fh:
            fh.write(text + "\n")
    else:
        click.echo(text)
