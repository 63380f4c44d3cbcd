"""docs/client-script.md's sizes are the script's: computed here from
src/shopevents/client/shopevents.js as shipped and gzipped (`gzip -9`), and with a store's
configuration filled in."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from types import SimpleNamespace

from shopevents.client.conf import client_conf
from shopevents.client.script import CONF_PLACEHOLDER, render_script, script_source

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "src" / "shopevents" / "client" / "shopevents.js"
SIZE_LINE = re.compile(
    r"\*\*Size:\*\* ([\d.]+) kB as shipped, \*\*([\d.]+) kB gzipped\*\* \(`gzip -9`, comments"
    r" included\); the store's\nconfiguration adds about (\d+) bytes\."
)


def kb(n: int) -> str:
    return f"{n / 1000:.1f}"


def test_the_documented_sizes_are_the_script_s() -> None:
    text = (ROOT / "docs" / "client-script.md").read_text()
    mt = SIZE_LINE.search(text)
    assert mt, "docs/client-script.md no longer states the sizes in the expected sentence"
    raw = SCRIPT.read_bytes()
    assert raw.decode() == script_source()  # what is shipped is this file
    packed = gzip.compress(raw, compresslevel=9, mtime=0)
    assert (mt.group(1), mt.group(2)) == (kb(len(raw)), kb(len(packed))), (
        f"the script is {kb(len(raw))} kB, {kb(len(packed))} kB gzipped: update the docs"
    )
    store = SimpleNamespace(
        id="6f1c2a9e-3b7d-4c1e-9a55-2f8e0d4b7c31",  # a store id is a UUID
        domains=["shop.example"],
        tag_mode=False,
        tracking_enabled=True,
        excluded_paths=[],
    )
    served = render_script(client_conf(store, "https://events.myshop.com")).body
    added = len(served) - len(raw) + len(CONF_PLACEHOLDER) - len("null")
    said = int(mt.group(3))
    assert abs(added - said) <= said * 0.25, f"the configuration adds {added} bytes, not ~{said}"
