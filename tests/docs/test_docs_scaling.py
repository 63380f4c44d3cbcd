"""What README.md and docs/scaling.md say of `bash scripts/cluster.sh`: both show the command,
every option the script takes is documented in docs/scaling.md, and the script's own help
is its header (it answers `--help` and refuses an unknown option before starting anything)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cluster.sh"


def script_options() -> set[str]:
    """The options the script's argument loop accepts."""
    return set(re.findall(r"^\s+(--[a-z-]+)\)", SCRIPT.read_text(), re.M)) - {"--help"}


def test_readme_and_scaling_show_the_one_command() -> None:
    readme = (ROOT / "README.md").read_text()
    scaling = (ROOT / "docs" / "scaling.md").read_text()
    for text in (readme, scaling):
        assert "\nbash scripts/cluster.sh\n" in text
    assert "docs/scaling.md" in readme


def test_every_option_of_the_script_is_documented() -> None:
    options = script_options()
    assert {"--database", "--dir", "--port", "--nats-port"} <= options
    scaling = (ROOT / "docs" / "scaling.md").read_text()
    header = SCRIPT.read_text().split("set -euo pipefail")[0]
    for option in options:
        assert f"`{option}" in scaling, option
        assert option in header, option


def test_help_and_unknown_options_start_nothing() -> None:
    shown = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True)
    assert shown.returncode == 0
    for option in script_options():
        assert option in shown.stdout
    bad = subprocess.run(["bash", str(SCRIPT), "--no-such"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "unknown option --no-such" in bad.stderr
    port = subprocess.run(["bash", str(SCRIPT), "--port", "80x"], capture_output=True, text=True)
    assert port.returncode == 2
    assert "expected a port number, got '80x'" in port.stderr
