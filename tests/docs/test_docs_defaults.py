"""Where README.md or a doc gives a setting's default in passing (`ingest.max_events` (500),
`storage.write_timeout_seconds` (1.5 s), `ingest.max_body_bytes` (512 KB by default)), it is
the setting's real default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shopevents.config import documented_settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
DEFAULTS = {name: value for name, _, value in documented_settings()}
UNITS = {"KB": 1024, "MB": 1024 * 1024, "days": 24 * 3600, "ms": 1, "s": 1}
MENTION = re.compile(
    r"`(?P<name>[a-z_]+\.[a-z_]+)`(?: [a-z ]{1,20}?)?(?:, | \()(?:by )?(?:default:? )?"
    r"(?P<num>\d(?:[\d,]*\d)?(?:\.\d+)?)(?!\d)(?: (?P<unit>KB|MB|days|ms|s)\b)?(?!\s*below)"
)


def stated(num: str, unit: str | None, name: str) -> float:
    value = float(num.replace(",", ""))
    if unit in ("KB", "MB") and not name.endswith("_mb"):
        value *= UNITS[unit]
    if unit == "days":
        value *= UNITS[unit]
    return value


def mentions() -> list[tuple[str, str, str, float]]:
    out = []
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for mt in MENTION.finditer(text):
            name = mt.group("name")
            if name in DEFAULTS:
                value = stated(mt.group("num"), mt.group("unit"), name)
                out.append((doc, mt.group(0), name, value))
    return out


MENTIONS = mentions()


def test_mentions_are_found() -> None:
    assert len(MENTIONS) > 25


@pytest.mark.parametrize(
    ("doc", "shown", "name", "value"), MENTIONS, ids=[f"{d}:{s}" for d, s, _, _ in MENTIONS]
)
def test_a_default_given_in_passing_is_the_real_one(
    doc: str, shown: str, name: str, value: float
) -> None:
    assert value == DEFAULTS[name], f"{doc} says {shown}; the default is {DEFAULTS[name]}"


NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}


def test_the_number_of_event_types_said_is_the_real_one() -> None:
    from shopevents.schema import models as m

    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for mt in re.finditer(r"\b([a-z]+) (?:event )?types\b|lists the ([a-z]+)\)", text, re.I):
            word = (mt.group(1) or mt.group(2)).lower()
            if word in NUMBER_WORDS:
                assert NUMBER_WORDS[word] == len(m.EVENT_TYPES), (
                    f"{doc} says “{mt.group(0)}”; there are {len(m.EVENT_TYPES)} event types"
                )
