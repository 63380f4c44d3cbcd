"""Each setting's rule, by its dotted name (`ingest.max_events`): what it allows, in words,
and the one check every source's values go through."""

from __future__ import annotations

import functools
import re
import typing
from typing import Any

import msgspec

from shopevents.config.settings import Settings
from shopevents.jsoncodec import quoted

ENV_PREFIX = "SHOPEVENTS_"


class SettingsError(ValueError):
    """A setting that breaks its rule, or a name that is no setting: one line, the setting's
    name, where it came from, what was expected and what came."""


class Rule(msgspec.Struct, frozen=True):
    name: str  # "port", "ingest.max_events"
    type: Any  # the annotation: msgspec checks values against it


def section_types() -> dict[str, type[msgspec.Struct]]:
    """Each section of Settings (`ingest`, `http`, ...) and its Struct."""
    return {
        f.name: type(f.default)
        for f in msgspec.structs.fields(Settings)
        if isinstance(f.default, msgspec.Struct)
    }


@functools.cache
def _rules() -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    sections = section_types()
    for f in msgspec.structs.fields(Settings):
        if f.name in sections:
            for g in msgspec.structs.fields(sections[f.name]):
                out[f"{f.name}.{g.name}"] = Rule(f"{f.name}.{g.name}", g.type)
        else:
            out[f.name] = Rule(f.name, f.type)
    return out


def rules() -> dict[str, Rule]:
    """Every setting's rule, by its dotted name, in declaration order."""
    return dict(_rules())


def env_name(name: str) -> str:
    """`ingest.max_events` -> `SHOPEVENTS_INGEST_MAX_EVENTS`."""
    return ENV_PREFIX + name.replace(".", "_").upper()


def _num(v: float) -> str:
    return str(v) if isinstance(v, int) else f"{v:g}"


def describe(rule_type: Any) -> str:
    """What a rule allows, in words: the docs show it and error messages say it."""
    info = msgspec.inspect.type_info(rule_type)
    if isinstance(info, msgspec.inspect.Metadata):
        text = (info.extra_json_schema or {}).get("description")
        if text:
            return str(text)
        info = info.type
    if isinstance(info, msgspec.inspect.BoolType):
        return "`true` or `false`"
    if isinstance(info, msgspec.inspect.LiteralType):
        values = typing.get_args(rule_type) or info.values  # as declared, not sorted
        return "one of " + ", ".join(f"`{v}`" for v in values)
    if isinstance(info, msgspec.inspect.StrType):
        return "non-empty text" if info.min_length else "text"
    if isinstance(info, (msgspec.inspect.IntType, msgspec.inspect.FloatType)):
        what = "a whole number" if isinstance(info, msgspec.inspect.IntType) else "a number"
        if info.gt is not None:
            low = f"above {_num(info.gt)}"
            return (
                f"{what} {low} and at most {_num(info.le)}"
                if info.le is not None
                else f"{what} {low}"
            )
        if info.ge is not None:
            return (
                f"{what} from {_num(info.ge)} to {_num(info.le)}"
                if info.le is not None
                else f"{what} from {_num(info.ge)} up"
            )
        return f"{what} up to {_num(info.le)}" if info.le is not None else what
    return repr(info)


def shown_value(value: Any, raw_text: bool) -> str:
    if isinstance(value, str):  # a URL's password is not repeated in a message
        value = re.sub(r"(://[^:/@\s]*):[^@/\s]*@", r"\1:***@", value)
    if raw_text and isinstance(value, str):
        return value if value.strip() == value and value else quoted(value)
    return quoted(value)


def check(rule: Rule, value: Any, source: str, *, raw_text: bool = False) -> Any:
    """`value` read by `rule`, or SettingsError naming the setting and its source."""
    info = msgspec.inspect.type_info(rule.type)
    if isinstance(info, msgspec.inspect.LiteralType) and isinstance(value, str):
        # allowed words are matched regardless of case (`full` is `FULL`)
        for allowed in info.values:
            if isinstance(allowed, str) and allowed.lower() == value.strip().lower():
                value = allowed
    try:
        return msgspec.convert(value, rule.type, strict=False)
    except msgspec.ValidationError:
        raise SettingsError(
            f"invalid setting {rule.name} ({source}): expected {describe(rule.type)}, "
            f"got {shown_value(value, raw_text)}"
        ) from None
