"""Every setting is checked by its one declared rule, wherever its value comes from (the TOML
file, a SHOPEVENTS_* variable, a flag): a valid value is read, a value out of range, of the
wrong type or not among the allowed words is refused with one line naming the setting and
its source; unknown sections, keys and variables are refused too."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner

from shopevents.cli import main
from shopevents.config import (
    Settings,
    SettingsError,
    documented_settings,
    env_name,
    load_settings,
    override,
    rules,
)

ROOT = Path(__file__).resolve().parents[2]
NAMES = [n for n, _, _ in documented_settings()]

# Text settings whose rule is a pattern: a value that fits and one that does not.
TEXT_EXAMPLES: dict[str, tuple[str, str | None]] = {
    "database_url": ("postgresql://shop@db:5432/shop", "mysql://shop@db/shop"),
    "public_url": ("https://events.myshop.com", "events.myshop.com"),
    "host": ("0.0.0.0", ""),
    "dashboard.secret_key": ("a-long-random-secret", None),  # any text is a key
    "metrics_token": ("s3cret-Token_1", "has a space"),
    "cluster.nats_urls": ("nats://n1:4222,nats://n2:4222", "n1:4222"),
    "cluster.prefix": ("shop_2", "Shop.events"),
}


def info(name: str) -> Any:
    t = msgspec.inspect.type_info(rules()[name].type)
    return t.type if isinstance(t, msgspec.inspect.Metadata) else t


def default(name: str) -> Any:
    return dict((n, d) for n, _, d in documented_settings())[name]


def good_value(name: str) -> Any:
    """A valid value other than the default (so reading it is seen)."""
    t = info(name)
    if name in TEXT_EXAMPLES:
        return TEXT_EXAMPLES[name][0]
    if isinstance(t, msgspec.inspect.BoolType):
        return not default(name)
    if isinstance(t, msgspec.inspect.LiteralType):
        return next(v for v in reversed(t.values) if v != default(name))
    if isinstance(t, msgspec.inspect.IntType):
        return t.le if t.le != default(name) else t.ge
    if isinstance(t, msgspec.inspect.FloatType):
        return float(t.le) if t.le != default(name) else float(t.le) / 2
    raise AssertionError(f"{name}: no example for {t}: add one to TEXT_EXAMPLES")


def bad_values(name: str) -> list[Any]:
    """Values the rule refuses: past each bound, the wrong type, a word not allowed."""
    t = info(name)
    if name in TEXT_EXAMPLES:
        bad = TEXT_EXAMPLES[name][1]
        return ([bad] if bad is not None else []) + [123]
    if isinstance(t, msgspec.inspect.BoolType):
        return ["maybe", 2]
    if isinstance(t, msgspec.inspect.LiteralType):
        return ["BANANA", 1]
    if isinstance(t, msgspec.inspect.IntType):
        assert t.ge is not None and t.le is not None, f"{name} needs both bounds"
        return [t.ge - 1, t.le + 1, "many", 1.5]
    if isinstance(t, msgspec.inspect.FloatType):
        assert t.le is not None and (t.ge is not None or t.gt is not None), f"{name}: bounds"
        low = t.gt if t.gt is not None else t.ge - 1
        return [low, t.le * 2, "soon", "nan"]
    raise AssertionError(f"{name}: no bad values for {t}: add some to TEXT_EXAMPLES")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def toml_for(name: str, value: Any) -> str:
    if "." in name:
        section, key = name.split(".", 1)
        return f"[{section}]\n{key} = {toml_value(value)}\n"
    return f"{name} = {toml_value(value)}\n"


def read(settings: Settings, name: str) -> Any:
    obj: Any = settings
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def test_every_setting_has_a_rule_with_bounds() -> None:
    assert list(rules()) == NAMES
    for name in NAMES:
        bad_values(name)  # asserts the bounds exist


@pytest.mark.parametrize("name", NAMES)
def test_a_valid_value_is_read_from_the_file_and_the_environment(name: str, tmp_path: Path) -> None:
    value = good_value(name)
    path = tmp_path / "shopevents.toml"
    path.write_text(toml_for(name, value))
    assert read(load_settings(env={}, config_file=path), name) == value
    assert read(load_settings(env={env_name(name): env_value(value)}), name) == value
    assert read(load_settings(env={}, overrides={name: value}), name) == value


@pytest.mark.parametrize("name", NAMES)
def test_a_value_breaking_the_rule_is_refused_naming_the_setting(name: str, tmp_path: Path) -> None:
    path = tmp_path / "shopevents.toml"
    for value in bad_values(name):
        path.write_text(toml_for(name, value))
        with pytest.raises(SettingsError) as exc:
            load_settings(env={}, config_file=path)
        msg = str(exc.value)
        assert msg.startswith(f"invalid setting {name} (file {path}): expected "), msg
        assert "\n" not in msg and f", got {toml_value(value)}" in msg, msg
        if isinstance(value, str) or not isinstance(info(name), msgspec.inspect.StrType):
            var = env_name(name)
            with pytest.raises(SettingsError) as exc:
                load_settings(env={var: env_value(value)})
            msg = str(exc.value)
            assert msg.startswith(f"invalid setting {name} (env {var}): expected "), msg
        with pytest.raises(SettingsError, match=re.escape(f"invalid setting {name} (flag ")):
            load_settings(env={}, overrides={name: value})


def test_the_issue_s_examples_are_refused() -> None:
    with pytest.raises(SettingsError, match=r"ingest\.max_events .*from 1 to 100000, got -5$"):
        load_settings(env={"SHOPEVENTS_INGEST_MAX_EVENTS": "-5"})
    with pytest.raises(SettingsError, match=r"one of `NORMAL`, `FULL`, `EXTRA`, got BANANA$"):
        load_settings(env={"SHOPEVENTS_STORAGE_SQLITE_SYNCHRONOUS": "BANANA"})


def test_allowed_words_are_read_in_any_case_and_booleans_as_1_or_0() -> None:
    s = load_settings(
        env={
            "SHOPEVENTS_STORAGE_SQLITE_SYNCHRONOUS": "full",
            "SHOPEVENTS_INGEST_GROUP_COMMIT_THREAD": "ON",
            "SHOPEVENTS_WORKER_ENABLED": "0",
            "SHOPEVENTS_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "1",
        }
    )
    assert s.storage.sqlite_synchronous == "FULL" and s.ingest.group_commit_thread == "on"
    assert s.worker.enabled is False and s.webhooks.allow_private_addresses is True


def test_a_value_file_named_by_a_FILE_variable(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("from-a-file\n")
    s = load_settings(env={"SHOPEVENTS_DASHBOARD_SECRET_KEY_FILE": str(key)})
    assert s.dashboard.secret_key == "from-a-file"
    (tmp_path / "n").write_text("-5")
    with pytest.raises(SettingsError, match=r"ingest\.max_events \(env SHOPEVENTS_INGEST_MAX"):
        load_settings(env={"SHOPEVENTS_INGEST_MAX_EVENTS_FILE": str(tmp_path / "n")})
    with pytest.raises(SettingsError, match=r"a readable file holding the value, got /no/such"):
        load_settings(env={"SHOPEVENTS_DASHBOARD_SECRET_KEY_FILE": "/no/such/file"})


def test_the_environment_wins_over_the_file_and_flags_over_both(tmp_path: Path) -> None:
    path = tmp_path / "shopevents.toml"
    path.write_text("port = 9000\n[ingest]\nmax_events = 3\n")
    env = {"SHOPEVENTS_INGEST_MAX_EVENTS": "7", "SHOPEVENTS_PORT": "9001"}
    s = load_settings(env=env, config_file=path, overrides={"port": 9002})
    assert s.ingest.max_events == 7 and s.port == 9002
    assert override(s, {"port": 9003, "host": None}, "serve --port").port == 9003
    with pytest.raises(SettingsError, match=r"^invalid setting port \(serve --port\): "):
        override(s, {"port": -5}, "serve --port")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[ingset]\nmax_events = 3\n",
            "invalid setting [ingset] (file {p}): expected one of the sections ingest, http, "
            "storage, worker, webhooks, dashboard, cluster, got the unknown section [ingset]; "
            "did you mean [ingest]?",
        ),
        (
            "[ingest]\nmax_event = 3\n",
            "invalid setting ingest.max_event (file {p}): expected a setting of [ingest], "
            "got the unknown key max_event; did you mean max_events?",
        ),
        (
            "databse_url = 'sqlite:///x.db'\n",
            "invalid setting databse_url (file {p}): expected a setting or a section, "
            "got the unknown key databse_url; did you mean database_url?",
        ),
        (
            "[nothing_alike]\nx = 1\n",
            "invalid setting [nothing_alike] (file {p}): expected one of the sections ingest, "
            "http, storage, worker, webhooks, dashboard, cluster, got the unknown section "
            "[nothing_alike]",
        ),
        (
            "ingest = 3\n",
            "invalid setting ingest (file {p}): expected a section [ingest], got 3",
        ),
    ],
)
def test_unknown_sections_and_keys_are_refused(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "shopevents.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as exc:
        load_settings(env={}, config_file=path)
    assert str(exc.value) == message.format(p=path)


def test_a_file_that_is_not_toml_or_not_there(tmp_path: Path) -> None:
    path = tmp_path / "shopevents.toml"
    path.write_text("[ingest\n")
    with pytest.raises(SettingsError, match=rf"^invalid settings file {re.escape(str(path))}: "):
        load_settings(env={}, config_file=path)
    with pytest.raises(SettingsError, match=r"^cannot read the settings file /no/such\.toml"):
        load_settings(env={}, config_file="/no/such.toml")


def test_an_unknown_shopevents_variable_is_refused_others_are_not() -> None:
    with pytest.raises(SettingsError) as exc:
        load_settings(env={"SHOPEVENTS_INGST_MAX_EVENTS": "3"})
    assert str(exc.value) == (
        "invalid setting SHOPEVENTS_INGST_MAX_EVENTS (environment): expected the variable of a "
        "setting (docs/configuration.md), got an unknown SHOPEVENTS_ name; "
        "did you mean SHOPEVENTS_INGEST_MAX_EVENTS?"
    )
    with pytest.raises(SettingsError, match="SHOPEVENTS_PORTT"):
        load_settings(env={"SHOPEVENTS_PORTT_FILE": "/x"})
    # the variables that are not settings, and what is not ours at all
    fine = {
        "SHOPEVENTS_TEST_POSTGRES": "postgresql://postgres@127.0.0.1:5432/test",
        "SHOPEVENTS_TEST_BACKENDS": "sqlite",
        "SHOPEVENTS_NEW_PASSWORD": "x",
        "SHOPEVENTS_CHROMIUM": "/usr/bin/chromium",
        "SHOPEVENTS_FUZZ_EXAMPLES": "10",
        "SHOPEVENTS_OPENAPI_EXAMPLES": "10",
        "SHOPEVENTSX": "1",
        "PATH": "/bin",
    }
    assert load_settings(env=fine) == Settings()


def test_the_messages_in_configuration_md_are_the_real_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    block = re.search(r"```text\n(invalid setting.*?)```", text, re.S)
    assert block, "docs/configuration.md shows no example error"
    monkeypatch.chdir(tmp_path)
    real = []
    for env, toml in [
        ({"SHOPEVENTS_INGEST_MAX_EVENTS": "-5"}, None),
        ({}, '[storage]\nsqlite_synchronous = "BANANA"\n'),
        ({}, "[ingset]\nmax_events = 3\n"),
        ({"SHOPEVENTS_INGST_MAX_EVENTS": "3"}, None),
    ]:
        if toml:
            Path("shopevents.toml").write_text(toml)
        with pytest.raises(SettingsError) as exc:
            load_settings(env=env, config_file="shopevents.toml" if toml else None)
        real.append(str(exc.value))
    assert block.group(1).splitlines() == real


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["stores", "list"], {"SHOPEVENTS_INGEST_MAX_EVENTS": "-5"}),
        (["stores", "list"], {"SHOPEVENTS_STORAGE_SQLITE_SYNCHRONOUS": "BANANA"}),
        (["stores", "list"], {"SHOPEVENTS_INGST_MAX_EVENTS": "3"}),
        (["--config", "{toml}", "stores", "list"], {}),
        (["--database", "mysql://x", "stores", "list"], {}),
    ],
)
def test_the_cli_says_it_in_one_line(args: list[str], env: dict[str, str], tmp_path: Path) -> None:
    toml = tmp_path / "shopevents.toml"
    toml.write_text("[ingset]\nmax_events = 3\n")
    args = [a.format(toml=toml) for a in args]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHOPEVENTS_")}
    result = CliRunner().invoke(main, args, env={**clean, **env}, catch_exceptions=False)
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: invalid setting "), result.stderr
    assert "Traceback" not in result.output


def test_the_installed_command_says_it_without_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPEVENTS_")}
    env["SHOPEVENTS_INGEST_MAX_EVENTS"] = "-5"
    out = subprocess.run(
        [sys.executable, "-m", "shopevents", "stores", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode != 0 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "Error: invalid setting ingest.max_events (env SHOPEVENTS_INGEST_MAX_EVENTS): "
        "expected a whole number from 1 to 100000, got -5"
    ), out.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "port (flag serve --port): expected a whole number from 1 to 65535"),
        (["--port", "-5"], "port (flag serve --port): expected a whole number from 1 to 65535"),
        (["--host", ""], 'host (flag serve --host): expected non-empty text, got ""'),
    ],
)
def test_serve_s_flags_are_checked_by_the_same_rules(
    args: list[str], message: str, tmp_path: Path
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHOPEVENTS_")}
    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = CliRunner().invoke(main, ["--database", db, "serve", *args], env=clean)
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: invalid setting {message}"), lines


def test_every_shopevents_variable_the_code_reads_is_a_setting_or_known() -> None:
    """A SHOPEVENTS_* name the code, tests or tools read that is neither a setting nor in
    OTHER_ENV would stop every command with `invalid setting` when it is set."""
    from shopevents.config import OTHER_ENV, OTHER_ENV_PREFIXES

    known = {env_name(n) for n in NAMES}
    found: set[tuple[str, str]] = set()
    for folder in ("src", "tests", "bench", "scripts"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".sh") or "node_modules" in path.parts:
                continue
            if path.name == "test_settings.py":
                continue  # misspelt names on purpose
            text = path.read_text(errors="replace")
            for name in re.findall(r"[\"'](SHOPEVENTS_[A-Z0-9_]*[A-Z0-9])[\"'=]", text):
                if name != "SHOPEVENTS_NAME":  # bench's metavar SHOPEVENTS_NAME=VALUE
                    found.add((str(path.relative_to(ROOT)), name))
    assert len(found) > 10
    for where, name in sorted(found):
        base = name.removesuffix("_FILE")
        ok = base in known or name in OTHER_ENV or name.startswith(OTHER_ENV_PREFIXES)
        assert ok, (
            f"{where} reads {name}: add it to OTHER_ENV (config/sources.py) or make it a setting"
        )


def test_configuration_md_names_the_variables_that_are_not_settings() -> None:
    from shopevents.config import OTHER_ENV, OTHER_ENV_PREFIXES

    text = (ROOT / "docs" / "configuration.md").read_text()
    for name in [*OTHER_ENV, *(p + "*" for p in OTHER_ENV_PREFIXES)]:
        assert f"`{name}`" in text, f"docs/configuration.md does not name `{name}`"


def test_a_refused_url_s_password_is_not_repeated() -> None:
    with pytest.raises(SettingsError) as exc:
        load_settings(env={"SHOPEVENTS_DATABASE_URL": "mysql://shop:s3cret@db:3306/shop"})
    assert str(exc.value).endswith("got mysql://shop:***@db:3306/shop")
