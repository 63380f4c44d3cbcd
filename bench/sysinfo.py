"""Machine and version facts printed with every result."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sqlite3
import subprocess
from pathlib import Path

from bench.dbs import PG_ADMIN_URL

PY_PACKAGES = [
    "shopevents",
    "uvicorn",
    "uvloop",
    "httptools",
    "starlette",
    "msgspec",
    "psycopg",
    "psycopg-pool",
]


def _cmd(argv: list[str]) -> str:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (res.stdout + res.stderr).strip().splitlines()[0]
    except Exception:
        return "not found"


def _dpkg(pkg: str) -> str:
    try:
        res = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", pkg],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return res.stdout.strip() or "not installed"
    except Exception:
        return "unknown"


def collect() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    debian = (
        Path("/etc/debian_version").read_text().strip()
        if Path("/etc/debian_version").exists()
        else "?"
    )
    versions = {}
    for pkg in PY_PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    pg = "unavailable"
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            pg = conn.execute("SHOW server_version").fetchone()[0]
            settings = {
                name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("shared_buffers", "synchronous_commit", "fsync", "max_connections")
            }
            pg += " (" + ", ".join(f"{k}={v}" for k, v in settings.items()) + ")"
    except Exception:
        pass
    commit = _cmd(
        ["git", "-C", str(Path(__file__).resolve().parent.parent), "rev-parse", "--short", "HEAD"]
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "kernel": platform.release(),
        "debian": debian,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg,
        "nginx": _dpkg("nginx-light"),
        "wrk": _dpkg("wrk"),
        "packages": versions,
        "commit": commit,
        "db_core": int(os.environ.get("BENCH_DB_CORE", "0")),
    }


def describe(info: dict, markdown: bool = False) -> str:
    pk = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    lines = [
        f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, "
        f"kernel {info['kernel']}, Debian {info['debian']}",
        f"python {info['python']}; SQLite {info['sqlite']}; PostgreSQL {info['postgresql']}",
        f"nginx-light {info['nginx']}; wrk {info['wrk']}",
        f"packages: {pk}",
        f"tree: {info['commit']}",
        f"cores: servers 0, load generators 1, PostgreSQL backends {info.get('db_core', 0)}",
    ]
    if markdown:
        return "\n".join(f"- {x}" for x in lines)
    return "\n".join(lines)
