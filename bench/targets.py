"""What a load is aimed at: shopevents on a fresh database, or one of the two references."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.dbs import Database, make_database
from bench.procs import Server, free_port

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
INGEST_PATH = "/integration-type/system/scrippet-notification/{store}"


def venv_bin(name: str) -> str:
    """A console script next to the running interpreter (the project's venv)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


class Target:
    name: str
    label: str
    is_reference = False
    stores_events = False
    db: Database | None = None

    def prepare(self, logdir: Path) -> str:
        """Set up whatever the server needs; return the ingest path."""
        raise NotImplementedError

    def server(self, logdir: Path) -> Server:
        raise NotImplementedError

    def cleanup(self) -> None:
        pass

    def segment_write_key(self) -> str:
        """A write key for the Segment scenario (references accept any)."""
        return "reference"


class NginxTarget(Target):
    name = "nginx"
    label = "nginx 204"
    is_reference = True

    def prepare(self, logdir: Path) -> str:
        self.prefix = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        return INGEST_PATH.format(store="reference")

    def server(self, logdir: Path) -> Server:
        port = free_port()
        text = (BENCH_DIR / "refs" / "nginx.conf.template").read_text()
        conf = self.prefix / "nginx.conf"
        conf.write_text(text.replace("@PREFIX@", str(self.prefix)).replace("@PORT@", str(port)))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        return Server(
            "nginx",
            [nginx, "-p", str(self.prefix), "-c", str(conf), "-e", str(self.prefix / "error.log")],
            port,
            log=logdir / "nginx.log",
        )

    def cleanup(self) -> None:
        shutil.rmtree(self.prefix, ignore_errors=True)


class RawAsgiTarget(Target):
    name = "raw-asgi"
    label = "raw ASGI + msgspec"
    is_reference = True

    def prepare(self, logdir: Path) -> str:
        return INGEST_PATH.format(store="reference")

    def server(self, logdir: Path) -> Server:
        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            "bench.refs.raw_asgi:app",
        ]
        return Server("raw-asgi", argv, port, cwd=REPO, log=logdir / "raw-asgi.log")


class ShopeventsTarget(Target):
    stores_events = True

    def __init__(self, backend: str, variant: str = "", env: dict[str, str] | None = None) -> None:
        self.backend = backend
        self.variant = variant
        self.server_env = dict(env or {})
        self.name = f"shopevents-{backend}" + (f"-{variant}" if variant else "")
        self.label = f"shopevents ({backend}{', ' + variant if variant else ''})"

    def cli(self, *args: str, timeout: float = 120) -> str:
        assert self.db is not None
        argv = [venv_bin("shopevents"), "--database", self.db.url, *args]
        env = {**os.environ, **self.server_env}  # a variant's tree migrates its own database
        res = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env
        )
        if res.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv[1:])} failed ({res.returncode}): {res.stderr[-2000:]}"
            )
        return res.stdout

    def prepare(self, logdir: Path) -> str:
        self.db = make_database(self.backend)
        self.db.create()
        self.cli("migrate")
        out = self.cli("stores", "create", "bench", "--json")
        info = json.loads(out.strip().splitlines()[-1])
        self.store_id = info["storeId"]
        return INGEST_PATH.format(store=self.store_id)

    def segment_write_key(self) -> str:
        out = self.cli("stores", "write-keys", "create", self.store_id, "--json")
        return str(json.loads(out.strip().splitlines()[-1])["writeKey"])

    def server(self, logdir: Path) -> Server:
        assert self.db is not None
        port = free_port()
        argv = [
            venv_bin("shopevents"),
            "--database",
            self.db.url,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        env = dict(os.environ)
        env.update(self.server_env)
        server = Server(self.name, argv, port, cwd=REPO, env=env, log=logdir / f"{self.name}.log")
        server.extra_pids_fn = self.db.server_pids
        return server

    def cleanup(self) -> None:
        if self.db is not None and not os.environ.get("BENCH_KEEP_DB"):
            self.db.drop()


def parse_env(pairs: list[str]) -> dict[str, str]:
    """["K=V", ...] -> {K: V}; only SHOPEVENTS_* settings, and PYTHONPATH (another source
    tree of shopevents, e.g. a `git worktree` of an earlier commit, to compare trees), are
    passed to the server."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not (key.startswith("SHOPEVENTS_") or key == "PYTHONPATH"):
            raise SystemExit(f"expected SHOPEVENTS_NAME=VALUE or PYTHONPATH=DIR, got {pair!r}")
        out[key] = value
    return out


def parse_variant(spec: str) -> tuple[str, dict[str, str]]:
    """'LABEL:K=V,K=V' -> (LABEL, {K: V})."""
    label, sep, rest = spec.partition(":")
    if not sep or not label:
        raise SystemExit(f"expected LABEL:SHOPEVENTS_NAME=VALUE[,...], got {spec!r}")
    return label, parse_env([p for p in rest.split(",") if p])


def make_targets(
    backends: list[str],
    refs: bool = True,
    env: dict[str, str] | None = None,
    variants: list[tuple[str, dict[str, str]]] | None = None,
) -> list[Target]:
    """One shopevents target per backend (per variant when given: the server gets the base env
    plus the variant's); the references last. Targets are alternated run by run."""
    targets: list[Target] = []
    for b in backends:
        if variants:
            targets += [ShopeventsTarget(b, label, {**(env or {}), **v}) for label, v in variants]
        else:
            targets.append(ShopeventsTarget(b, "", env))
    if refs:
        targets += [RawAsgiTarget(), NginxTarget()]
    return targets
