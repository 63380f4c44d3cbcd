"""The one error catalog: stable machine codes, readable messages, and the only place that
chooses HTTP statuses. Every code here is documented in docs/errors.md (a test checks it)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Kind = Literal["request", "rejection", "warning"]


class Code(msgspec.Struct, frozen=True):
    code: str
    kind: Kind
    status: int
    summary: str


def _c(code: str, kind: Kind, status: int, summary: str) -> Code:
    return Code(code, kind, status, summary)


CATALOG: dict[str, Code] = {
    c.code: c
    for c in [
        # Whole-request errors
        _c(
            "invalid_json",
            "request",
            400,
            "The body is not JSON; the message gives line and column.",
        ),
        _c("invalid_envelope", "request", 400, "The body is JSON but not an ingest envelope."),
        _c("unsupported_encoding", "request", 415, "Content-Encoding other than gzip or identity."),
        _c("unknown_store", "request", 403, "No store has this id."),
        _c(
            "origin_not_allowed",
            "request",
            403,
            "The Origin is not among the store's authorised domains.",
        ),
        _c("payload_too_large", "request", 413, "The body is over the size limit."),
        _c("too_many_events", "request", 413, "The request holds more events than allowed."),
        _c(
            "too_many_lines",
            "request",
            413,
            "A purchase sent to the REST API holds more product lines than allowed.",
        ),
        _c("rate_limited", "request", 429, "Too many requests; retry after Retry-After seconds."),
        _c("request_timeout", "request", 408, "The request head or body was not sent in time."),
        _c(
            "too_many_connections",
            "request",
            503,
            "The server is at its connection cap, every connection busy; retry after Retry-After seconds.",
        ),
        _c(
            "storage_unavailable",
            "request",
            503,
            "Storage cannot be reached; retry after Retry-After seconds.",
        ),
        _c(
            "outcome_unknown",
            "request",
            503,
            "The database stopped answering while this request was being committed: it may "
            "have been stored. Retry it unchanged (with the same requestId).",
        ),
        _c("unauthorized", "request", 401, "Missing, malformed, unknown or revoked API key."),
        _c(
            "invalid_write_key",
            "request",
            401,
            "Segment ingest: the write key (HTTP Basic user or `writeKey`) is missing, unknown or revoked.",
        ),
        _c(
            "message_too_large",
            "request",
            400,
            "Segment ingest: a single message is over Segment's 32 KB limit.",
        ),
        _c("forbidden", "request", 403, "The credentials do not allow this."),
        _c("not_found", "request", 404, "No such resource in this store."),
        _c("method_not_allowed", "request", 405, "The path exists but not with this method."),
        _c(
            "validation_failed",
            "request",
            422,
            "The body was read but a field is invalid; see validationErrors.",
        ),
        _c(
            "purchase_conflict",
            "request",
            409,
            "A purchase with this purchaseId and a different content is recorded; this one is kept for review, not counted.",
        ),
        _c(
            "adjustment_conflict",
            "request",
            409,
            "A refund or cancellation with this id and a different content is recorded for the purchase; this one is not applied.",
        ),
        _c(
            "adjustment_refused",
            "request",
            409,
            "A refund or cancellation would take the purchase below zero or refund a line more than was bought; the message says what is left.",
        ),
        _c(
            "too_many_webhook_endpoints",
            "request",
            409,
            "The store already has webhooks.max_endpoints_per_store endpoints.",
        ),
        _c(
            "unknown_custom_event_type",
            "request",
            404,
            "The eventId (ingest) or the alias or event id (REST) names no custom event type of this store.",
        ),
        _c(
            "unmappable_custom_event",
            "request",
            422,
            "A custom event's body cannot be mapped through its type (not a JSON object, a pointer "
            "names nothing, the e-mail is not valid); `errors` says where.",
        ),
        _c(
            "contact_not_found",
            "request",
            422,
            "createContact is false and no contact of the store has this e-mail.",
        ),
        _c(
            "custom_event_type_conflict",
            "request",
            409,
            "The store already has a custom event type with this eventId or alias.",
        ),
        _c("csrf_failed", "request", 403, "The form's CSRF token is missing or wrong."),
        _c("http_error", "request", 400, "Another HTTP-level refusal (the status says which)."),
        _c("internal_error", "request", 500, "A server fault; nothing a client sent causes it."),
        # Event rejections (the event is quarantined)
        _c(
            "unknown_type",
            "rejection",
            200,
            "The event's `type` is missing or not a known event type.",
        ),
        _c(
            "contact_erased",
            "rejection",
            200,
            "The identification came from the tracker of a contact that was erased: a new "
            "tracker was given and the e-mail was not linked (identify again from a new tracker).",
        ),
        _c(
            "no_consent",
            "rejection",
            200,
            "The visitor has not given consent (the store requires it, the request says "
            "`consent: false`, or the browser's privacy signal is honoured): nothing of the "
            "request was recorded and no tracker was given.",
        ),
        _c(
            "not_an_object",
            "rejection",
            200,
            "The event, or a model inside it, is not a JSON object.",
        ),
        _c("missing_field", "rejection", 200, "A required field is missing."),
        _c("invalid_type", "rejection", 200, "A required field cannot be read as its type."),
        _c(
            "invalid_value",
            "rejection",
            200,
            "A required field has a value outside what it allows.",
        ),
        _c("negative_value", "rejection", 200, "A required amount or quantity is negative."),
        _c("not_whole_number", "rejection", 200, "A quantity is not a whole number."),
        _c("empty_value", "rejection", 200, "A required text is empty."),
        _c("too_large", "rejection", 200, "The event is over the per-event size limit."),
        _c("too_deep", "rejection", 200, "The event is nested too deeply to be read."),
        # Warnings (the event is kept)
        _c(
            "coerced_number",
            "warning",
            200,
            "A number arrived as a string and was read as a number.",
        ),
        _c(
            "coerced_boolean",
            "warning",
            200,
            "A boolean arrived as a string or number and was read as a boolean.",
        ),
        _c(
            "coerced_text", "warning", 200, "A text field arrived as a number and was read as text."
        ),
        _c(
            "normalized_value",
            "warning",
            200,
            "A value was respelled to its canonical form (e.g. `InStock` to `instock`).",
        ),
        _c(
            "renamed_field",
            "warning",
            200,
            "A field arrived under another spelling (e.g. `sourceType`) and was read as the canonical one.",
        ),
        _c(
            "invalid_enum",
            "warning",
            200,
            "An optional field is not one of its allowed values; it was dropped.",
        ),
        _c(
            "invalid_date",
            "warning",
            200,
            "An optional date is not ISO 8601; it was dropped (the received time is used).",
        ),
        _c(
            "invalid_field",
            "warning",
            200,
            "An optional field cannot be read as its type; it was dropped.",
        ),
        _c(
            "invalid_email",
            "warning",
            200,
            "`primaryKey` is not an e-mail address; the visitor stays anonymous.",
        ),
        _c(
            "invalid_currency",
            "warning",
            200,
            "`currency` is not an ISO 4217 code; the store's currency is used.",
        ),
        _c(
            "rounded_amount",
            "warning",
            200,
            "An amount had more than 6 decimals and was rounded (half even).",
        ),
        _c(
            "quantity_mismatch",
            "warning",
            200,
            "`totalQuantity` differs from the sum of the lines' quantities.",
        ),
        _c(
            "price_mismatch",
            "warning",
            200,
            "A line's `price` differs from `quantity × unitPrice` by more than a cent.",
        ),
        _c("empty_products", "warning", 200, "A purchase has no product lines."),
        _c("future_date", "warning", 200, "`purchaseDate` is more than a day in the future."),
        _c(
            "url_not_authorized",
            "warning",
            200,
            "A product URL is outside the store's authorised domains.",
        ),
    ]
}


HTTP_STATUS_CODES: dict[int, str] = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
}
"""The catalog code of an HTTP-level refusal by its status (any other status is `http_error`)."""


def code_for_status(status: int) -> str:
    """The catalog code answering an HTTP-level refusal with this status."""
    return HTTP_STATUS_CODES.get(status, "http_error")


class FieldError(ValueError):
    """One field refused, as data: `path` (a JSON pointer in the REST API's names), `code` (a
    catalog code), `message`; `expected` and `got` when the rule knows them. Every surface
    reads these attributes (REST problem body, CLI one-line error, dashboard form error); the
    exception's text is only for logs and is never parsed."""

    def __init__(
        self,
        path: str,
        message: str,
        *,
        code: str = "invalid_value",
        expected: str | None = None,
        got: Any = None,
    ) -> None:
        assert code in CATALOG, code
        self.path = path
        self.code = code
        self.message = message
        self.expected = expected
        self.got = got
        super().__init__(f"{path}: {message}")

    @property
    def field(self) -> str:
        """The first name of the path (`domains` for `/domains/1`; empty for the whole body)."""
        return self.path.split("/")[1] if self.path.startswith("/") else self.path

    def entry(self) -> dict[str, str]:
        """The `{code, path, message}` entry of a problem body's `errors`."""
        return issue(self.code, self.path, self.message)


def validation_error(
    errors: list[dict[str, Any]] | list[FieldError],
    message: str | None = None,
    extra: dict[str, Any] | None = None,
) -> ApiError:
    """`422 validation_failed` for these field errors (entries or `FieldError`s), the one
    shape of every surface: the message names the first five (unless given), `errors` and
    `validationErrors` list them all."""
    items = [e.entry() if isinstance(e, FieldError) else e for e in errors]
    return ApiError(
        "validation_failed",
        message or "; ".join(f"{e['path'] or '/'}: {e['message']}" for e in items[:5]),
        errors=items,
        extra={
            "validationErrors": [{"path": e["path"], "reason": e["message"]} for e in items],
            **(extra or {}),
        },
    )


class ApiError(Exception):
    """An error answered to a client, in the one shape:
    `{"status", "code", "message", "errors": [...]}`."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        entry = CATALOG[code]
        assert entry.kind == "request", code
        self.code = code
        self.status = entry.status
        self.message = message or entry.summary
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "errors": self.errors,
        }
        out.update(self.extra)
        return out


class PageProblem(Exception):
    """A dashboard page that cannot be shown: the status and the catalog code it answers
    with, and a title and message for the error page."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code_for_status(status)
        self.title = title
        self.message = message


class StorageUnavailable(Exception):
    """The database cannot be reached, did not answer in time, or is locked beyond the busy
    timeout. Nothing of the write was stored."""


class StorageBusy(StorageUnavailable):
    """SQLite: another connection holds the write lock; the transaction did not start."""


class OutcomeUnknown(StorageUnavailable):
    """The database stopped answering after the write's COMMIT may have reached it, and did
    not come back in time to tell whether it was applied."""


def storage_error(exc: StorageUnavailable, retry_after_seconds: int) -> ApiError:
    """The answer to a write or read that storage could not serve: `503` with
    `Retry-After`, `outcome_unknown` when the write may have been stored."""
    code = "outcome_unknown" if isinstance(exc, OutcomeUnknown) else "storage_unavailable"
    return ApiError(code, headers={"Retry-After": str(retry_after_seconds)})


class NotFound(Exception):
    """A record the caller asked for does not exist (in this store)."""


def issue(code: str, path: str, message: str) -> dict[str, str]:
    """A warning or rejection entry: `{code, path, message}`."""
    assert code in CATALOG, code
    return {"code": code, "path": path, "message": message}
