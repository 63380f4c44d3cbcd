"""Custom event types and how a server-side body is mapped through one, on plain values.

A type has an id (Connectif's 24-hex ids, or any id a migrating store brings; minted if not
given), an alias unique in its store, the JSON pointer (RFC 6901) of the contact's e-mail in
the body, and an optional payload mapping `{field: pointer}`; without one the whole body is
the payload. Mapping a body gives the e-mail (normalised to lower case) and the payload, or
the list of problems, each `{code, path, message}` with `path` the pointer in the body.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from shopevents.errors import issue
from shopevents.ids import new_id
from shopevents.schema.emails import is_email

MAX_FIELDS = 100
MAX_POINTER = 500
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
ALIAS_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
POINTER_PATTERN = r"^(/([^~\x00]|~[01])*)*$"
"""An RFC 6901 JSON pointer, as `parse_pointer` reads it."""
_ID = re.compile(ID_PATTERN)
_ALIAS = re.compile(ALIAS_PATTERN)
_INDEX = re.compile(r"^(0|[1-9][0-9]{0,8})$")


class Definition(msgspec.Struct, kw_only=True):
    """A checked custom event type, before it is stored."""

    id: str
    alias: str
    contact_email: str
    payload: dict[str, str] | None = None


class PointerError(ValueError):
    pass


def parse_pointer(text: str) -> list[str]:
    """The reference tokens of an RFC 6901 JSON pointer ("" is the whole document)."""
    if text == "":
        return []
    if not text.startswith("/"):
        raise PointerError("a JSON pointer starts with '/' (or is empty, for the whole body)")
    if "\x00" in text:
        raise PointerError("a JSON pointer holds no NUL (U+0000) character")
    tokens = []
    for raw in text[1:].split("/"):
        if re.search(r"~(?![01])", raw):
            raise PointerError("'~' must be followed by 0 or 1 ('~0' is '~', '~1' is '/')")
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tokens


_MISSING = object()


def resolve(doc: Any, tokens: list[str]) -> Any:
    """The value the pointer names in `doc`, or `_MISSING`."""
    cur = doc
    for tok in tokens:
        if isinstance(cur, dict):
            if tok not in cur:
                return _MISSING
            cur = cur[tok]
        elif isinstance(cur, list):
            if not _INDEX.match(tok) or int(tok) >= len(cur):
                return _MISSING
            cur = cur[int(tok)]
        else:
            return _MISSING
    return cur


def _pointer_problem(value: Any, path: str, *, allow_root: bool) -> dict[str, str] | None:
    if not isinstance(value, str):
        return issue(
            "invalid_type", path, f"Expected a JSON pointer (text); received {_shown(value)}"
        )
    if len(value) > MAX_POINTER:
        return issue(
            "invalid_value",
            path,
            f"Expected a JSON pointer of at most {MAX_POINTER} characters; received {len(value)}",
        )
    if value == "" and not allow_root:
        return issue(
            "invalid_value",
            path,
            "Expected a JSON pointer to a field such as /email; received '' (the whole body)",
        )
    try:
        parse_pointer(value)
    except PointerError as exc:
        return issue(
            "invalid_value", path, f"Expected an RFC 6901 JSON pointer ({exc}); received {value!r}"
        )
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_definition(obj: Any, now_us: int) -> tuple[Definition | None, list[dict[str, str]]]:
    """A type from `{"eventId"?, "alias", "contactEmail", "payload"?}`: the definition, or
    the problems (paths in that object)."""
    if not isinstance(obj, dict):
        return None, [issue("not_an_object", "", "Expected a JSON object")]
    problems: list[dict[str, str]] = []
    type_id = obj.get("eventId")
    if type_id is None:
        type_id = new_id(now_us)
    elif not isinstance(type_id, str) or not _ID.match(type_id):
        problems.append(
            issue(
                "invalid_value",
                "/eventId",
                "Expected an id of 1 to 64 letters, digits, '_', '.', ':' or '-' (such as "
                f"Connectif's 24-hex ids); received {_shown(type_id)}",
            )
        )
    alias = obj.get("alias")
    if alias is None:
        problems.append(issue("missing_field", "/alias", "Expected an alias such as form-sent"))
    elif not isinstance(alias, str) or not _ALIAS.match(alias):
        problems.append(
            issue(
                "invalid_value",
                "/alias",
                "Expected an alias of 1 to 100 letters, digits, '_', '.' or '-'; "
                f"received {_shown(alias)}",
            )
        )
    email = obj.get("contactEmail")
    if email is None:
        problems.append(
            issue(
                "missing_field",
                "/contactEmail",
                "Expected the JSON pointer of the contact's e-mail in the body, such as /email",
            )
        )
    else:
        p = _pointer_problem(email, "/contactEmail", allow_root=False)
        if p:
            problems.append(p)
    payload = obj.get("payload")
    if payload is not None:
        if not isinstance(payload, dict):
            problems.append(
                issue(
                    "invalid_type",
                    "/payload",
                    "Expected an object of field -> JSON pointer; received " + _shown(payload),
                )
            )
        elif len(payload) > MAX_FIELDS:
            problems.append(
                issue(
                    "invalid_value",
                    "/payload",
                    f"Expected at most {MAX_FIELDS} fields; received {len(payload)}",
                )
            )
        else:
            for field, pointer in payload.items():
                path = "/payload/" + field.replace("~", "~0").replace("/", "~1")
                if not field or len(field) > 100 or "\x00" in field:
                    problems.append(
                        issue(
                            "invalid_value",
                            path,
                            "Expected a field name of 1 to 100 characters",
                        )
                    )
                    continue
                p = _pointer_problem(pointer, path, allow_root=True)
                if p:
                    problems.append(p)
    if problems or not isinstance(alias, str) or not isinstance(email, str):
        return None, problems
    return Definition(
        id=type_id,
        alias=alias,
        contact_email=email,
        payload=dict(payload) if payload is not None else None,
    ), []


def check_email(value: Any, path: str, what: str) -> tuple[str | None, dict[str, str] | None]:
    """The e-mail normalised (trimmed, lower case), or the problem."""
    if not isinstance(value, str):
        return None, issue(
            "invalid_type", path, f"Expected {what} (an e-mail address); received {_shown(value)}"
        )
    email = value.strip().lower()
    if not is_email(email):
        return None, issue(
            "invalid_email",
            path,
            f"Expected {what} to be an e-mail address; received {_shown(value)}",
        )
    return email, None


def map_body(
    contact_email: str, payload_map: dict[str, str] | None, doc: Any
) -> tuple[str | None, dict[str, Any], list[dict[str, str]]]:
    """Map a body through a type: (e-mail, payload, problems); problems empty when mapped."""
    if not isinstance(doc, dict):
        return None, {}, [issue("not_an_object", "", "Expected a JSON object body")]
    problems: list[dict[str, str]] = []
    email = None
    found = resolve(doc, parse_pointer(contact_email))
    if found is _MISSING:
        problems.append(
            issue(
                "missing_field",
                contact_email,
                f"Expected the contact's e-mail at {contact_email} (the type's contactEmail); nothing is there",
            )
        )
    else:
        email, p = check_email(found, contact_email, "the contact's e-mail")
        if p:
            problems.append(p)
    payload: dict[str, Any] = {}
    if payload_map is None:
        payload = doc
    else:
        for field, pointer in payload_map.items():
            value = resolve(doc, parse_pointer(pointer))
            if value is _MISSING:
                problems.append(
                    issue(
                        "missing_field",
                        pointer,
                        f"Expected a value at {pointer or '/'} for payload field {field!r}; nothing is there",
                    )
                )
            else:
                payload[field] = value
    return email, payload, problems
