"""What README.md says of `scripts/demo.sh`: it installs only when needed (a stamp of
pyproject.toml and scripts/setup.sh in .venv), and the demo store's API key is printed once,
with the way to make another on later runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from click.testing import CliRunner

from shopevents.cli.env import Env
from shopevents.cli.server import print_demo
from shopevents.config import Settings
from shopevents.storage.database import Database

ROOT = Path(__file__).resolve().parents[2]


def fake_checkout(tmp: Path) -> Path:
    """A checkout with setup.sh and a .venv whose python imports shopevents and whose pip and
    uv only record that they were called."""
    repo = tmp / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "scripts" / "setup.sh").write_text((ROOT / "scripts" / "setup.sh").read_text())
    (repo / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    bin_ = repo / ".venv" / "bin"
    bin_.mkdir(parents=True)
    real = ROOT / ".venv" / "bin" / "python"
    (bin_ / "python").write_text(f'#!/bin/sh\nexec "{real}" "$@"\n')
    for f in ("pip", "uv"):
        (bin_ / f).write_text(f'#!/bin/sh\necho "{f} $*" >> "{repo}/pip-calls"\n')
    for f in ("python", "pip", "uv"):
        (bin_ / f).chmod(0o755)
    return repo


def setup(repo: Path, *args: str) -> list[str]:
    """Run setup.sh; the installs of shopevents it made (by uv, or by pip, not of uv itself)."""
    calls = repo / "pip-calls"
    calls.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHON"}
    out = subprocess.run(
        ["bash", "scripts/setup.sh", *args], cwd=repo, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    made = calls.read_text().splitlines() if calls.exists() else []
    return [call for call in made if not call.endswith(" uv")]


def test_setup_installs_only_when_pyproject_or_setup_changed(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "installs shopevents (the first time only, or after `pyproject.toml`" in readme
    assert "bash scripts/setup.sh" in (ROOT / "scripts" / "demo.sh").read_text()
    repo = fake_checkout(tmp_path)
    assert len(setup(repo)) == 1  # a fresh checkout installs
    assert setup(repo) == []  # the next start does not
    with open(repo / "pyproject.toml", "a") as fh:
        fh.write("\n# a changed dependency\n")
    assert len(setup(repo)) == 1  # a changed pyproject.toml installs again
    assert setup(repo) == []
    (repo / ".venv" / ".installed").write_text("stale user\n")
    assert len(setup(repo)) == 1


def test_the_demo_store_key_is_printed_once_then_how_to_make_one(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "`.venv/bin/shopevents stores keys STORE_ID --create NAME`" in readme
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    Database(url).migrate()
    runner = CliRunner()
    outputs = []
    for _ in range(2):
        with runner.isolation() as (out, _err, _):
            print_demo(Env(Settings(database_url=url)))
            outputs.append(out.getvalue().decode())
    first, second = outputs
    assert "demo API key:  key_" in first and "shown once" in first
    store = next(line.split()[-1] for line in second.splitlines() if "demo store id:" in line)
    assert "demo API key:  key_" not in second
    assert f"shopevents stores keys {store} --create NAME" in second
