"""One delivery attempt over HTTP: check the target, sign, POST, classify the answer.

No database here: the caller claims (and commits) before, and records (and commits) after.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Callable
from datetime import datetime

import httpx

from shopevents.clock import monotonic, to_micros
from shopevents.webhooks import backoff, guard
from shopevents.webhooks.attempts import Outcome
from shopevents.webhooks.claims import Claimed
from shopevents.webhooks.signing import HEADER, sign

USER_AGENT = "shopevents-webhooks/1"
READ_LIMIT = 4096
TRANSIENT_4XX = frozenset({408, 429})


@functools.cache
def _tls() -> ssl.SSLContext:
    """The certificates to check HTTPS targets against, loaded once per process (loading
    them takes 20 to 100 ms, and each call on one connection makes a client)."""
    return httpx.create_ssl_context(trust_env=False)


def make_client(timeout: float, max_connections: int) -> httpx.AsyncClient:
    """The shared client: connection reuse, timeouts, no redirects, no proxies from the
    environment (a proxy would bypass the address check)."""
    return httpx.AsyncClient(
        verify=_tls(),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(
            max_connections=max_connections + 4,
            max_keepalive_connections=max_connections + 4,
            keepalive_expiry=30.0,
        ),
        headers={"User-Agent": USER_AGENT},
    )


def classify(status: int) -> str:
    if 200 <= status < 300:
        return "delivered"
    if status >= 500 or status in TRANSIENT_4XX:
        return "retry"
    return "failed"


async def send(
    client: httpx.AsyncClient,
    claimed: Claimed,
    now: Callable[[], datetime],
    *,
    timeout: float,
    allow_private: bool,
    resolver: guard.Resolver = guard.system_resolver,
) -> Outcome:
    """Send one attempt of `claimed`; never raises for anything the network or the
    receiver does."""
    started = now()
    at = to_micros(started)
    t0 = monotonic()

    def elapsed() -> int:
        return int((monotonic() - t0) * 1000)

    try:
        target = await asyncio.wait_for(
            guard.resolve_target(claimed.url, allow_private=allow_private, resolver=resolver),
            timeout,
        )
    except guard.InvalidURL as exc:
        return Outcome(kind="failed", at=at, error=f"invalid URL: {exc}")
    except guard.BlockedAddress as exc:
        return Outcome(
            kind="failed",
            at=at,
            error=f"blocked address: {exc} (see webhooks.allow_private_addresses)",
        )
    except (OSError, TimeoutError) as exc:
        return Outcome(
            kind="retry",
            at=at,
            latency_ms=elapsed(),
            error=f"cannot resolve host: {exc or type(exc).__name__}",
        )

    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": claimed.id,
        "Shopevents-Topic": claimed.topic,
        "Shopevents-Attempt": str(claimed.attempts + 1),
        HEADER: sign(claimed.secret, int(started.timestamp()), claimed.body),
    }
    if target.host_header:
        headers["Host"] = target.host_header
    extensions = {"sni_hostname": target.sni} if target.sni else None

    async def attempt() -> tuple[httpx.Response, bytes]:
        request = client.build_request(
            "POST", target.url, content=claimed.body, headers=headers, extensions=extensions
        )
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= READ_LIMIT:
                    break
            return response, b"".join(chunks)[:READ_LIMIT]
        finally:
            await response.aclose()

    remaining = max(timeout - (monotonic() - t0), 0.05)  # one budget for the whole attempt
    try:
        response, raw = await asyncio.wait_for(attempt(), remaining)
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(
            kind="retry", at=at, latency_ms=elapsed(), error=f"timed out after {timeout:g} s"
        )
    except httpx.TransportError as exc:
        return Outcome(
            kind="retry",
            at=at,
            latency_ms=elapsed(),
            error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        )
    except httpx.InvalidURL as exc:
        return Outcome(kind="failed", at=at, latency_ms=elapsed(), error=f"invalid URL: {exc}")
    except Exception as exc:  # anything else the client raises: retry, it is logged
        return Outcome(
            kind="retry", at=at, latency_ms=elapsed(), error=f"{type(exc).__name__}: {exc}"
        )

    latency = elapsed()
    status = response.status_code
    kind = classify(status)
    text = raw.decode("utf-8", "replace")
    error: str | None = None
    retry_after: float | None = None
    if kind == "retry" and status in (429, 503):
        retry_after = backoff.parse_retry_after(response.headers.get("retry-after"), now())
    if 300 <= status < 400:
        where = response.headers.get("location", "")
        error = f"HTTP {status}: redirects are not followed" + (
            f" (Location: {where})" if where else ""
        )
    elif kind != "delivered":
        error = f"HTTP {status}"
    return Outcome(
        kind=kind,
        at=at,
        status_code=status,
        latency_ms=latency,
        error=error,
        response=text,
        retry_after=retry_after,
    )
