"""Webhook endpoints per store: register, list (with delivery statistics), remove.

These are the functions the dashboard, the REST API and the CLI call. Each takes an open
connection; the ones that write expect to run inside a transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shopevents import ids
from shopevents.domain.outbox import TOPICS
from shopevents.errors import FieldError
from shopevents.storage import webhook_endpoints as stored
from shopevents.storage.database import Conn
from shopevents.storage.reads import iso
from shopevents.webhooks import guard

MAX_DESCRIPTION = 200
DAY_US = 86_400 * 1_000_000


class EndpointError(FieldError):
    """A field of a new endpoint is invalid: `path` is a JSON pointer, `message` says why."""

    def __init__(self, code: str, path: str, message: str) -> None:
        super().__init__(path, message, code=code)


class ValidationErrors(ValueError):
    def __init__(self, errors: list[EndpointError]) -> None:
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))
        self.errors = errors

    def issues(self) -> list[dict[str, str]]:
        return [e.entry() for e in self.errors]


class EndpointLimitError(ValueError):
    """The store already has `limit` endpoints (`webhooks.max_endpoints_per_store`)."""

    def __init__(self, store_id: str, limit: int) -> None:
        self.store_id = store_id
        self.limit = limit
        self.message = (
            f"This store already has {limit} webhook endpoints, the most allowed "
            f"(webhooks.max_endpoints_per_store = {limit}); remove one before adding another"
        )
        super().__init__(self.message)


Endpoint = stored.Endpoint


def endpoint_count(conn: Conn, store_id: str) -> int:
    return stored.count(conn, store_id)


def check_endpoint_limit(conn: Conn, store_id: str, limit: int | None) -> None:
    """Raise EndpointLimitError when the store cannot register one more endpoint."""
    if limit is not None and endpoint_count(conn, store_id) >= limit:
        raise EndpointLimitError(store_id, limit)


def validate(
    url: Any, topics: Any, description: Any = "", *, allow_private: bool
) -> tuple[str, list[str], str]:
    """Check a new endpoint's fields; give them cleaned, or raise ValidationErrors listing
    every wrong field."""
    errors: list[EndpointError] = []
    clean_url = ""
    if not isinstance(url, str) or not url.strip():
        errors.append(EndpointError("missing_field", "/url", "An http or https URL is required"))
    else:
        clean_url = url.strip()
        try:
            guard.check_url(clean_url)
        except guard.InvalidURL as exc:
            errors.append(EndpointError("invalid_value", "/url", f"Invalid URL: {exc}"))
        else:
            if not allow_private and guard.obviously_private(clean_url):
                errors.append(
                    EndpointError(
                        "invalid_value",
                        "/url",
                        "The URL points to a private, loopback or link-local address; the "
                        "server refuses those unless webhooks.allow_private_addresses is set",
                    )
                )
    clean_topics: list[str] = []
    if not isinstance(topics, list | tuple) or not topics:
        errors.append(
            EndpointError(
                "missing_field",
                "/topics",
                "At least one topic is required: " + ", ".join(TOPICS),
            )
        )
    else:
        for i, topic in enumerate(topics):
            if not isinstance(topic, str) or topic not in TOPICS:
                errors.append(
                    EndpointError(
                        "invalid_value",
                        f"/topics/{i}",
                        f"Unknown topic {topic!r}; expected one of: " + ", ".join(TOPICS),
                    )
                )
            elif topic not in clean_topics:
                clean_topics.append(topic)
    if description is None:
        description = ""
    if not isinstance(description, str):
        errors.append(EndpointError("invalid_type", "/description", "Expected a text"))
        description = ""
    elif len(description) > MAX_DESCRIPTION:
        errors.append(
            EndpointError(
                "invalid_value",
                "/description",
                f"At most {MAX_DESCRIPTION} characters are allowed",
            )
        )
    if errors:
        raise ValidationErrors(errors)
    return clean_url, clean_topics, description.strip()


def create_endpoint(
    conn: Conn,
    store_id: str,
    url: str,
    topics: Iterable[str],
    now: int,
    *,
    description: str = "",
    allow_private: bool,
    max_endpoints: int | None = None,
) -> tuple[Endpoint, str]:
    """Register an endpoint; give it and its signing secret (shown once). Raises
    ValidationErrors (with `issues()` for a 422), or EndpointLimitError (before writing
    anything) when the store already has `max_endpoints`. Pass the server's
    `settings.webhooks.allow_private_addresses` as `allow_private` and
    `settings.webhooks.max_endpoints_per_store` as `max_endpoints`."""
    clean_url, clean_topics, desc = validate(
        url, list(topics), description, allow_private=allow_private
    )
    if max_endpoints is not None:
        stored.lock_store(conn, store_id)
        check_endpoint_limit(conn, store_id, max_endpoints)
    endpoint = Endpoint(
        id=ids.endpoint_id(),
        store_id=store_id,
        url=clean_url,
        topics=clean_topics,
        enabled=True,
        description=desc,
        created_at=now,
    )
    secret = ids.webhook_secret()
    stored.insert(conn, endpoint, secret, now)
    return endpoint, secret


def get_endpoint(conn: Conn, endpoint_id: str, store_id: str | None = None) -> Endpoint | None:
    """One endpoint (only if it belongs to `store_id`, when given)."""
    return stored.get(conn, endpoint_id, store_id)


def endpoint_secret(conn: Conn, endpoint_id: str) -> str | None:
    return stored.secret(conn, endpoint_id)


def remove_endpoint(conn: Conn, endpoint_id: str, store_id: str | None = None) -> bool:
    """Delete an endpoint with its deliveries and their log; False if there is none."""
    found = get_endpoint(conn, endpoint_id, store_id)
    if found is None:
        return False
    stored.delete(conn, endpoint_id)
    return True


def set_enabled(
    conn: Conn, endpoint_id: str, enabled: bool, now: int, store_id: str | None = None
) -> bool:
    """Pause or resume an endpoint. A paused one gets no new deliveries and its pending ones
    wait; give False if there is no such endpoint."""
    return stored.set_enabled(conn, endpoint_id, enabled, now, store_id)


def endpoint_stats(conn: Conn, endpoint_ids: list[str], now: int) -> dict[str, dict[str, Any]]:
    """Per endpoint: deliveries by status, success rate of finished deliveries, and the last
    24 hours of attempts (count, failures, mean latency), plus the last attempt."""
    out: dict[str, dict[str, Any]] = {}
    if not endpoint_ids:
        return out
    for eid in endpoint_ids:
        out[eid] = {
            "pending": 0,
            "delivered": 0,
            "failed": 0,
            "dead": 0,
            "successRate": None,
            "attempts24h": 0,
            "failedAttempts24h": 0,
            "meanLatencyMs24h": None,
            "lastAttemptAt": None,
            "lastStatusCode": None,
            "lastError": None,
        }
    for eid, status, count in stored.delivery_counts(conn, endpoint_ids):
        if status in out[eid]:
            out[eid][status] = count
    for fig in stored.attempt_figures(conn, endpoint_ids, now - DAY_US):
        s = out[fig.endpoint_id]
        s["attempts24h"] = fig.total
        s["failedAttempts24h"] = fig.failed
        s["meanLatencyMs24h"] = (
            None if fig.mean_latency_ms is None else round(fig.mean_latency_ms, 1)
        )
    for eid in endpoint_ids:
        last = stored.last_attempt(conn, eid)
        if last is not None:
            out[eid]["lastAttemptAt"] = iso(last.at)
            out[eid]["lastStatusCode"] = last.status_code
            out[eid]["lastError"] = last.error
        s = out[eid]
        finished = s["delivered"] + s["failed"] + s["dead"]
        s["successRate"] = round(s["delivered"] / finished, 4) if finished else None
    return out


def endpoint_view(endpoint: Endpoint, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """An endpoint as the API, the CLI and the dashboard show it (never the secret)."""
    view: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "topics": endpoint.topics,
        "enabled": endpoint.enabled,
        "description": endpoint.description,
        "createdAt": iso(endpoint.created_at),
    }
    if stats is not None:
        view["stats"] = stats
    return view


def list_endpoints(conn: Conn, store_id: str, now: int | None = None) -> list[dict[str, Any]]:
    """The store's endpoints, oldest first, each with `stats` (see `endpoint_stats`)."""
    found = stored.of_store(conn, store_id)
    if now is None:
        from shopevents.clock import SystemClock, to_micros

        now = to_micros(SystemClock().now())
    stats = endpoint_stats(conn, [e.id for e in found], now)
    return [endpoint_view(e, stats[e.id]) for e in found]
