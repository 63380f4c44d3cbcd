"""`shopevents demo`'s run: the store, the server check, a short abandonment delay while the
simulated traffic is sent, the visitors who come back for their carts, and the summary."""

from __future__ import annotations

import random
import time
from typing import Any

import click
import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shopevents.context import DEMO_STORE_NAME
from shopevents.domain import store_settings
from shopevents.simulate.traffic import Simulator
from shopevents.storage import stores


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


def run_demo(
    env: Any,
    *,
    url: str,
    store_ref: str | None,
    api_key: str | None,
    visitors: int,
    days: int,
    abandon_after: str,
    seed: int | None,
) -> None:
    env.require_migrated()
    ref = store_ref or DEMO_STORE_NAME
    store = env.read(lambda c: stores.get_store(c, ref) or stores.find_store_by_name(c, ref))
    if store is None:
        if store_ref is not None:
            raise click.ClickException(f"no store has the id or name {store_ref!r}")
        store = env.write(lambda c, now: stores.create_store(c, DEMO_STORE_NAME, now=now))
        click.echo(f"created the store {DEMO_STORE_NAME!r} ({store.id})", err=True)
    try:
        health = httpx.get(f"{url}/healthz", timeout=5)
        health.raise_for_status()
    except httpx.HTTPError as exc:
        raise click.ClickException(
            f"no shopevents server answers at {url} ({exc}); start one with `shopevents serve --demo`"
        ) from exc
    delay = None if abandon_after == "keep" else store_settings.abandon_after(abandon_after)
    original = store.abandon_after_seconds
    rnd = random.Random(seed)
    with httpx.Client(base_url=url, timeout=30) as client:
        probe = client.post(
            f"/integration-type/system/scrippet-notification/{store.id}",
            content=b'{"events":[]}',
            headers={"Content-Type": "text/plain"},
        )
        if probe.status_code == 403:
            raise click.ClickException(
                f"the server at {url} does not know store {store.id}: run the demo with the "
                "same --database (or SHOPEVENTS_DATABASE_URL) as the server"
            )
        if delay is not None and delay != original:
            env.write(
                lambda c, now: stores.update_store(c, store.id, {"abandon_after_seconds": delay})
            )
            time.sleep(2.2)  # the server re-reads store settings every 2 s
        sim = Simulator(client, store.id, url, rnd, days, api_key, env.clock)
        offline = max(1, visitors // 8)
        try:
            with _progress() as bar:
                task = bar.add_task("visitors", total=visitors)
                for _ in range(visitors):
                    sim.visitor()
                    bar.advance(task)
                task = bar.add_task("other channels", total=offline + 1)
                for _ in range(offline):
                    sim.offline_order()
                    bar.advance(task)
                sim.mistakes()
                bar.advance(task)
                back = [v for v in sim.abandoners if rnd.random() < 0.3]  # a third come back
                wait = (delay if delay is not None else original) + 3
                if back and wait <= 600:
                    task = bar.add_task("waiting for carts to be abandoned (s)", total=wait)
                    for _ in range(wait):
                        time.sleep(1)
                        bar.advance(task)
                    task = bar.add_task("visitors coming back for their cart", total=len(back))
                    for v in back:
                        sim.come_back(v)
                        bar.advance(task)
        finally:
            if delay is not None and delay != original:
                env.write(
                    lambda c, now: stores.update_store(
                        c, store.id, {"abandon_after_seconds": original}
                    )
                )
    t = sim.tally
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(t.statuses.items()))
    click.echo("")
    click.echo(f"  sent {t.requests} requests for {visitors} visitors to store {store.id}")
    click.echo(f"  events: {statuses}")
    click.echo(
        f"  purchases: {t.purchases} ({t.api_purchases} through the REST API), "
        f"carts left behind: {t.left_carts}, came back and bought: {t.recovered}, "
        f"returning customers on a new device: {t.merges}"
    )
    if delay is not None and delay != original:
        click.echo(
            f"  the abandonment delay was {delay} s during the demo and is {original} s again"
        )
    click.echo(
        f"  purchase dates are spread over the last {days} days; every other event is received now"
    )
    click.echo(f"  open the dashboard: {url}/stores/{store.id}/")
