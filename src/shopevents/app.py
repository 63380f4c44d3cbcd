"""create_app(settings, db, clock): routes, middleware, lifespan. Only wiring lives here.

The application is the Starlette app behind a raw ASGI fast path for the browser ingest
endpoint (`shopevents.asgi.FastPath`): that one endpoint carries most of the traffic, so it
skips Starlette's per-request layers; every other request goes through Starlette."""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from shopevents.api import routes as api_routes
from shopevents.asgi import FastPath, as_api_error
from shopevents.client import routes as client_routes
from shopevents.clock import Clock, SystemClock
from shopevents.cluster import lag as cluster_lag
from shopevents.config import Settings
from shopevents.context import AppContext, IntakeService
from shopevents.dashboard import routes as dashboard_routes
from shopevents.dashboard.site import Site as DashboardSite
from shopevents.demoshop import routes as demoshop_routes
from shopevents.errors import ApiError, StorageUnavailable, code_for_status
from shopevents.ingest import routes as ingest_routes
from shopevents.responses import json_response
from shopevents.segment import routes as segment_routes
from shopevents.storage import health
from shopevents.storage.database import Database, open_database, probe_write
from shopevents.worker.loop import Worker


def create_app(
    settings: Settings,
    db: Database | None = None,
    clock: Clock | None = None,
    *,
    worker: bool | None = None,
    intake: Callable[[AppContext], IntakeService] | None = None,
    ctx: AppContext | None = None,
) -> FastPath:
    """`intake`: the ingest endpoint's intake service (default: the embedded one, applying
    each request here; `shopevents collect` gives cluster mode's). `ctx`: the runtime to
    serve with (`shopevents serve` gives the one its command made); default: one made of
    `settings`, `db` and `clock`."""
    ctx = ctx or AppContext(settings, db or open_database(settings), clock or SystemClock())
    db = ctx.db
    if intake is not None:
        ctx.intake = intake(ctx)
    run_worker = settings.worker.enabled if worker is None else worker

    async def healthz(request: Request) -> Response:
        return json_response({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Ready when the database answers a read and takes writes: SQLite's disk has
        `storage.sqlite_min_free_mb` free, and after a write failed for storage (a full
        disk, a lost connection) a probe write through the committer must succeed first.
        Each check has the write deadline."""
        limit = settings.storage.write_timeout_seconds
        try:
            await ctx.read(health.answer, timeout=limit)
            free = db.free_bytes()
            if free is not None and free < settings.storage.sqlite_min_free_mb << 20:
                raise StorageUnavailable(f"{free >> 20} MB free on the database's disk")
            if not ctx.committer.healthy:
                await ctx.write(probe_write)
        except Exception as exc:
            return json_response(
                {"status": "unavailable", "error": str(exc)[:200]},
                503,
                {"Retry-After": str(settings.ingest.retry_after_seconds)},
            )
        return json_response({"status": "ready"})

    async def metrics(request: Request) -> Response:
        if settings.metrics_token:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), settings.metrics_token.encode()
            ):
                raise ApiError(
                    "unauthorized",
                    "GET /metrics needs the header `Authorization: Bearer` with the metrics token",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        lines = [
            "# TYPE shopevents_ingest_requests_total counter",
            "# TYPE shopevents_ingest_events_total counter",
            "# TYPE shopevents_carts_abandoned_total counter",
            "# TYPE shopevents_webhook_attempts_total counter",
            "# TYPE shopevents_cluster_publishes_total counter",
        ]
        for (name, label), value in sorted(ctx.metrics.items()):
            lab = ""
            if label:
                key = "status" if name == "ingest_requests" else "outcome"
                lab = f'{{{key}="{label}"}}'
            lines.append(f"shopevents_{name}_total{lab} {value}")
        lines.append("# TYPE shopevents_group_commit_batches_total counter")
        lines.append(f"shopevents_group_commit_batches_total {ctx.committer.batches}")
        lines.append(f"shopevents_group_commit_writes_total {ctx.committer.writes}")
        lines.append("# TYPE shopevents_writes_in_doubt_total counter")
        for verdict, value in sorted(ctx.committer.in_doubt.items()):
            lines.append(f'shopevents_writes_in_doubt_total{{then="{verdict}"}} {value}')
        try:
            gauges = await ctx.read(lambda c: health.gauges(c, ctx.now_us()))
            lines.append("# TYPE shopevents_outbox_pending gauge")
            lines.append(f"shopevents_outbox_pending {gauges.outbox_pending}")
            lines.append("# TYPE shopevents_carts_due gauge")
            lines.append(f"shopevents_carts_due {gauges.carts_due}")
            oldest = gauges.oldest_due
            lag = (ctx.now_us() - oldest) / 1e6 if oldest is not None else 0
            lines.append("# TYPE shopevents_abandonment_lag_seconds gauge")
            lines.append(f"shopevents_abandonment_lag_seconds {lag:.3f}")
            cluster = await cluster_lag.current(ctx)
            if cluster is not None:  # cluster mode: what processors have not applied yet
                lines.append("# TYPE shopevents_cluster_lag_seconds gauge")
                lines.append(f"shopevents_cluster_lag_seconds {cluster.seconds:.3f}")
                lines.append("# TYPE shopevents_cluster_pending_messages gauge")
                lines.append(f"shopevents_cluster_pending_messages {cluster.pending}")
        except StorageUnavailable:
            pass
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    ingest = ingest_routes.IngestEndpoint(ctx)
    routes: list[Any] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        *ingest.routes(),
        *api_routes.routes(),
    ]
    for surface in (
        client_routes,
        demoshop_routes,
        dashboard_routes,
        segment_routes,
    ):
        routes.extend(surface.routes(ctx))

    async def error_answer(request: Request, exc: Exception) -> Response:
        err = as_api_error(exc, settings.ingest.retry_after_seconds)
        return json_response(err.body(), err.status, err.headers)

    async def client_gone(request: Request, exc: Exception) -> Response:
        """The client left (or its body timed out and it was answered `408`): no one hears
        this answer, and it is no server fault."""
        return Response(status_code=400)

    async def http_error_async(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = code_for_status(exc.status_code)
        if code == "http_error":
            return json_response(
                {
                    "status": exc.status_code,
                    "code": "http_error",
                    "message": str(exc.detail),
                    "errors": [],
                },
                exc.status_code,
            )
        err = ApiError(code)
        return json_response(err.body(), err.status, {**err.headers, **(exc.headers or {})})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await ctx.intake.start()
        worker = None
        checkpointer = health.start_checkpointer(db)
        if checkpointer is not None:
            ctx.committer.background_checkpoints = True
            ctx.committer.checkpointer = checkpointer
        if run_worker:
            worker = Worker(ctx)
            worker.start()
        try:
            yield
        finally:
            await ctx.intake.close()
            if worker is not None:
                await worker.stop()
            ctx.close()
            if checkpointer is not None:
                ctx.committer.checkpointer = None
                checkpointer.stop()

    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: error_answer,
            HTTPException: http_error_async,
            StorageUnavailable: error_answer,
            ClientDisconnect: client_gone,
            Exception: error_answer,
        },
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.dashboard = DashboardSite(ctx)
    return FastPath(app, ingest_routes.INGEST_PREFIX, ingest_routes.INGEST_METHODS, ingest.handle)
