"""Where settings come from: defaults < TOML file < SHOPEVENTS_* environment < flags, each
value checked against its setting's rule; an unknown key, section or `SHOPEVENTS_*` variable
stops the command with one line naming it and its source."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from shopevents.config.rules import (
    ENV_PREFIX,
    SettingsError,
    check,
    env_name,
    rules,
    section_types,
    shown_value,
)
from shopevents.config.settings import Settings

# SHOPEVENTS_* variables that are not settings: the settings file, the password
# `users create` reads, the CLI's traceback switch, and the test and benchmark tools' own
# (SHOPEVENTS_TEST_*, ...). tests/config/test_settings.py finds any other the code reads.
OTHER_ENV = frozenset(
    {
        "SHOPEVENTS_CONFIG",
        "SHOPEVENTS_NEW_PASSWORD",
        "SHOPEVENTS_DEBUG",
        "SHOPEVENTS_UPDATE_SCREENSHOTS",
        "SHOPEVENTS_CHROMIUM",
        "SHOPEVENTS_FUZZ_EXAMPLES",
        "SHOPEVENTS_OPENAPI_EXAMPLES",
    }
)
OTHER_ENV_PREFIXES = ("SHOPEVENTS_TEST_",)
# The flags that set a setting, for messages.
FLAGS = {
    "database_url": "--database",
    "host": "serve --host",
    "port": "serve --port",
    "cluster.nats_urls": "--nats",
    "cluster.prefix": "--prefix",
    "cluster.replicas": "cluster init --replicas",
}


def _did_you_mean(word: str, choices: list[str], shown: str = "{}") -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {shown.format(close[0])}?" if close else ""


def _file_values(path: str | Path) -> dict[str, Any]:
    where = f"file {path}"
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise SettingsError(
            f"cannot read the settings file {path}: {exc.strerror or exc}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"invalid settings file {path}: {exc}") from None
    table = rules()
    sections = section_types()
    top = [n for n in table if "." not in n]
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in sections:
            if not isinstance(value, dict):
                raise SettingsError(
                    f"invalid setting {key} ({where}): expected a section [{key}], "
                    f"got {shown_value(value, False)}"
                )
            keys = [n.split(".", 1)[1] for n in table if n.startswith(key + ".")]
            for sub, subvalue in value.items():
                name = f"{key}.{sub}"
                if name not in table:
                    hint = _did_you_mean(sub, keys)
                    raise SettingsError(
                        f"invalid setting {name} ({where}): expected a setting of "
                        f"[{key}], got the unknown key {sub}{hint}"
                    )
                out[name] = check(table[name], subvalue, where)
        elif key in top:
            out[key] = check(table[key], value, where)
        elif isinstance(value, dict):
            hint = _did_you_mean(key, list(sections), "[{}]")
            raise SettingsError(
                f"invalid setting [{key}] ({where}): expected one of the sections "
                f"{', '.join(sections)}, got the unknown section [{key}]{hint}"
            )
        else:
            hint = _did_you_mean(key, top + [n for n in table if "." in n])
            raise SettingsError(
                f"invalid setting {key} ({where}): expected a setting or a section, "
                f"got the unknown key {key}{hint}"
            )
    return out


def _env_values(env: Mapping[str, str]) -> dict[str, Any]:
    table = rules()
    by_env = {env_name(n): n for n in table}
    out: dict[str, Any] = {}
    for var, value in env.items():
        if not var.startswith(ENV_PREFIX):
            continue
        if var in by_env:
            name = by_env[var]
            out[name] = check(table[name], value, f"env {var}", raw_text=True)
        elif var.endswith("_FILE") and var[: -len("_FILE")] in by_env:
            name = by_env[var[: -len("_FILE")]]
            try:
                text = Path(value).read_text().strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise SettingsError(
                    f"invalid setting {name} (env {var}): expected a readable file holding "
                    f"the value, got {value} ({getattr(exc, 'strerror', None) or exc})"
                ) from None
            out[name] = check(table[name], text, f"env {var}", raw_text=True)
        elif var in OTHER_ENV or var.startswith(OTHER_ENV_PREFIXES):
            continue
        else:
            hint = _did_you_mean(var, sorted(by_env))
            raise SettingsError(
                f"invalid setting {var} (environment): expected the variable of a setting "
                f"(docs/configuration.md), got an unknown SHOPEVENTS_ name{hint}"
            )
    return out


def _flag_values(values: Mapping[str, Any], source: str | None) -> dict[str, Any]:
    """Flat (`"ingest.max_events"`) or nested (`{"ingest": {...}}`) values; None is unset."""
    table = rules()
    out: dict[str, Any] = {}

    def walk(prefix: str, items: Mapping[str, Any]) -> None:
        for key, value in items.items():
            name = prefix + key
            if isinstance(value, Mapping) and name in section_types():
                walk(name + ".", value)
            elif value is not None:
                where = source or f"flag {FLAGS.get(name, name)}"
                if name not in table:
                    raise SettingsError(f"invalid setting {name} ({where}): no such setting")
                out[name] = check(table[name], value, where)

    walk("", values)
    return out


def _build(values: Mapping[str, Any], base: Settings | None = None) -> Settings:
    data: dict[str, Any] = msgspec.to_builtins(base) if base is not None else {}
    for name, value in values.items():
        if "." in name:
            section, key = name.split(".", 1)
            data.setdefault(section, {})[key] = value
        else:
            data[name] = value
    return msgspec.convert(data, Settings, strict=False)


def load_settings(
    *,
    env: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    overrides_source: str | None = None,
) -> Settings:
    """Build the settings: defaults, then a TOML file, then SHOPEVENTS_* variables, then flags
    (`overrides`, by name, flat or nested; None leaves a setting alone). Every value from every
    source is checked against its setting's rule; SettingsError says which and why."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = config_file or env.get("SHOPEVENTS_CONFIG")
    if path:
        values.update(_file_values(path))
    values.update(_env_values(env))
    if overrides:
        values.update(_flag_values(overrides, overrides_source))
    return _build(values)


def override(settings: Settings, values: Mapping[str, Any], source: str | None = None) -> Settings:
    """`settings` with some values replaced (a command's flags), checked like every other
    source; None leaves a setting alone."""
    return _build(_flag_values(values, source), settings)
