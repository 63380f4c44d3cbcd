"""Every command README.md and docs/ show is a real one: each `shopevents …` line (in a shell
block, or quoted inline) is parsed by the CLI's own click parser, with its options and their
values; each `python -m bench …` line by the benchmark's argparse parser; each shell block
is valid bash (`bash -n`). Usage lines (`[--opt]`, `a|b`) must name real commands and
options."""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest

from shopevents.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
SHELL_LANGS = ("bash", "sh", "shell", "console", "")
# Placeholders docs use for values: a concrete stand-in, so that typed options are checked.
VARIABLES = {
    "$STORE": "STORE_ID",
    "$KEY": "KEY",
    "$PWD": "/tmp",
    "$KEY_ID": "K",
    "$KEY_SECRET": "S",
}


def text_of(doc: str) -> str:
    return (ROOT / doc).read_text()


def logical_lines(block: str) -> list[str]:
    """The block's commands: continuation lines joined, `$ ` prompts taken off, output lines
    (in a console block, those without a prompt) and comments dropped."""
    out: list[str] = []
    console = any(line.startswith("$ ") for line in block.splitlines())
    pending = ""
    for line in block.splitlines():
        if console and not pending:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        if not balanced(pending + line):
            pending += line + "\n"  # a quoted text going on to the next line
            continue
        out.append(pending + line)
        pending = ""
    assert not pending, f"unfinished command: {pending}"
    return [line for line in out if line.strip() and not line.lstrip().startswith("#")]


def balanced(line: str) -> bool:
    try:
        shlex.split(line, comments=True)
    except ValueError:
        return False
    return True


def fenced(text: str) -> list[tuple[str, str]]:
    """(language, text) of every fenced block, fences read line by line."""
    out = []
    lang: str | None = None
    body: list[str] = []
    for line in text.splitlines():
        fence = re.match(r"^\s*```(\w*)\s*$", line)
        if fence and lang is None:
            lang, body = fence.group(1), []
        elif fence or (lang is not None and line.strip() == "```"):
            out.append((lang or "", "\n".join(body) + "\n"))
            lang = None
        elif lang is not None:
            body.append(line)
    return out


def shell_blocks(doc: str) -> list[tuple[str, str]]:
    return [(lang, b) for lang, b in fenced(text_of(doc)) if lang in SHELL_LANGS]


def words(line: str) -> list[str]:
    for var, value in VARIABLES.items():
        line = line.replace(var, value)
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|;&")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return [w for w in lexer if w not in ("...", "…")]  # "and so on"


def commands_in(line: str) -> list[list[str]]:
    """Each simple command of a line (split at pipes and `&&`), its environment assignments
    and the `.venv/bin/` prefix taken off."""
    out: list[list[str]] = []
    current: list[str] = []
    for w in [*words(line), ";"]:
        if w in ("|", "||", "&&", ";", "&"):
            while current and re.match(r"^[A-Z_]+=", current[0]):
                current.pop(0)
            if current:
                current[0] = current[0].removeprefix(".venv/bin/")
                out.append(current)
            current = []
        else:
            current.append(w)
    return out


def is_usage(line: str) -> bool:
    """A synopsis (`[--from]`, `a|b`, `…`), not a command to type."""
    return bool(re.search(r"\[-|\|[a-z]|\]$|…\]|\[--", line))


def shown_commands(doc: str) -> list[tuple[str, list[str]]]:
    """(how it is shown, the command's words) of every `shopevents` and `python -m bench`
    command the document shows, in shell blocks and in inline code."""
    out = []
    for _, block in shell_blocks(doc):
        for line in logical_lines(block):
            if is_usage(line) and line.lstrip().startswith("shopevents"):
                out.append((line, ["USAGE", *line.split()]))
                continue
            for cmd in commands_in(line):
                if cmd[0] == "shopevents" or cmd[:3] == ["python", "-m", "bench"]:
                    out.append((line, cmd))
    prose = re.sub(r"```.*?```", "", text_of(doc), flags=re.S)
    for span in re.findall(r"`([^`\n]+)`", prose):
        span = span.removeprefix(".venv/bin/")
        if re.match(r"^(shopevents|python -m bench) [a-z-]", span):
            mention = re.fullmatch(r"shopevents( [a-z][a-z-]*)+", span) is not None
            cmd = ["USAGE", *span.split()] if is_usage(span) or mention else words(span)
            out.append((span, cmd))
    return out


def check_usage(tokens: list[str]) -> None:
    """A synopsis: its command path exists and every `--option` it names is one of them."""
    cmd: click.Command = main
    opts = {o for p in main.params for o in getattr(p, "opts", [])}
    for w in tokens[1:]:
        if isinstance(cmd, click.Group) and w in cmd.commands:
            cmd = cmd.commands[w]
            opts |= {o for p in cmd.params for o in getattr(p, "opts", [])}
    assert cmd is not main, f"no command in {' '.join(tokens[1:])}"
    for w in tokens:
        for opt in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", w):
            assert opt in opts, f"`{opt}` is not an option of `{cmd.name}`"


def parse_shopevents(args: list[str]) -> None:
    """Parse as `shopevents ARGS` would, down to the last subcommand, without running it."""
    cmd: click.Command = main
    parent: click.Context | None = None
    name = "shopevents"
    while True:
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                ctx = cmd.make_context(name, list(args), parent=parent)
        except click.exceptions.Exit:
            return  # --help
        except click.exceptions.Abort:
            return  # a value it would ask for (a password): the options were read
        except click.BadParameter as exc:
            if not stands_in(exc, args):
                raise
            return
        if not isinstance(cmd, click.Group):
            return
        rest = [*ctx._protected_args, *ctx.args]
        assert rest, f"`{' '.join(args)}`: the group `{name}` needs a command"
        name, sub, args = cmd.resolve_command(ctx, rest)
        assert sub is not None and name is not None
        cmd, parent = sub, ctx


def stands_in(exc: click.BadParameter, args: list[str]) -> bool:
    """The refused value is a placeholder (`MERGE_ID`, `TOPIC`) or names a file the reader
    has and the docs do not (`eurofxref-hist.csv`): the command is shown right."""
    text = exc.format_message()
    if re.search(r"does not exist|No such file", text):
        return isinstance(exc.param and exc.param.type, click.Path | click.File)
    refused = re.search(r"'([^']*)' is not", text)
    return bool(refused and re.fullmatch(r"[A-Z][A-Z_]*", refused.group(1)))


class _Parsed(Exception):
    pass


def parse_bench(args: list[str]) -> None:
    from bench.__main__ import main as bench_main

    original = argparse.ArgumentParser.parse_args

    def parse_only(self: argparse.ArgumentParser, *a: Any, **k: Any) -> Any:
        original(self, *a, **k)
        raise _Parsed

    argparse.ArgumentParser.parse_args = parse_only  # type: ignore[method-assign]
    try:
        with contextlib.redirect_stderr(io.StringIO()) as err, pytest.raises(_Parsed):
            try:
                bench_main(args)
            except SystemExit:
                raise AssertionError(err.getvalue()) from None
    finally:
        argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]


@functools.cache
def bench_parser() -> argparse.ArgumentParser:
    """The benchmark's parser, as its main builds it."""
    from bench.__main__ import main as bench_main

    seen: list[argparse.ArgumentParser] = []
    original = argparse.ArgumentParser.parse_args

    def capture(self: argparse.ArgumentParser, *a: Any, **k: Any) -> Any:
        seen.append(self)
        raise _Parsed

    argparse.ArgumentParser.parse_args = capture  # type: ignore[method-assign]
    try:
        with pytest.raises(_Parsed):
            bench_main(["--help"])
    finally:
        argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]
    return seen[0]


def check_bench_usage(tokens: list[str]) -> None:
    """A `python -m bench` synopsis: its command exists and takes every `--option` named."""
    parser = bench_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert tokens and tokens[0] in subs.choices, f"no bench command {tokens[:1]}"
    opts = set(subs.choices[tokens[0]]._option_string_actions)
    for w in tokens[1:]:
        for opt in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", w):
            assert opt in opts, f"`{opt}` is not an option of `bench {tokens[0]}`"


CASES = [(doc, shown, cmd) for doc in DOCS for shown, cmd in shown_commands(doc)]


def test_commands_are_found() -> None:
    docs = {doc for doc, _, _ in CASES}
    assert {"README.md", "docs/quickstart.md", "docs/cli.md", "docs/performance.md"} <= docs
    assert len(CASES) > 60


@pytest.mark.parametrize(("doc", "shown", "cmd"), CASES, ids=[f"{d}:{s[:60]}" for d, s, _ in CASES])
def test_every_command_shown_parses(doc: str, shown: str, cmd: list[str]) -> None:
    try:
        if cmd[:2] == ["USAGE", "python"]:
            check_bench_usage(cmd[4:])
        elif cmd[0] == "USAGE":
            check_usage(cmd[1:])
        elif cmd[0] == "shopevents":
            parse_shopevents(cmd[1:])
        else:
            parse_bench(cmd[3:])
    except (click.ClickException, AssertionError) as exc:
        message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
        raise AssertionError(f"{doc} shows `{shown}`: {message}") from None


@pytest.mark.parametrize("doc", DOCS)
def test_shell_blocks_are_valid_bash(doc: str) -> None:
    for lang, block in shell_blocks(doc):
        if lang not in ("bash", "sh", "console") and not block.lstrip().startswith(
            ("shopevents", "$ ", "curl", "python")
        ):
            continue  # a diagram or an output
        script = "\n".join(logical_lines(block))
        if any(is_usage(line) for line in script.splitlines()):
            continue  # a synopsis, checked above
        run = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        assert run.returncode == 0, f"{doc}: not valid bash:\n{script}\n{run.stderr}"
