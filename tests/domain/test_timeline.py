"""The timeline rules on plain values: rows of activities, their ids, pages and cursors."""

from __future__ import annotations

from shopevents.domain import timeline
from shopevents.storage.timeline import ActivityRow


def test_activities_of_one_contact_and_instant_share_a_row_split_at_the_row_size() -> None:
    many = [("search", None, {"n": i}) for i in range(timeline.ITEMS_PER_ROW + 1)]
    rows = timeline.row_items({("s", "c", 1): many, ("s", "d", 1): many[:2]})
    assert [(key, len(items)) for key, items in rows] == [
        (("s", "c", 1), timeline.ITEMS_PER_ROW),
        (("s", "c", 1), 1),
        (("s", "d", 1), 2),
    ]


def test_an_activity_id_is_its_row_id_times_the_row_size_plus_its_position_newest_first() -> None:
    got = timeline.expand(3, [["a", 1, {}], ["b", None, {"x": 1}]])
    base = 3 * timeline.ITEMS_PER_ROW
    assert got == [(base + 1, "b", None, {"x": 1}), (base, "a", 1, {})]


def test_a_page_stops_at_the_limit_and_skips_what_the_cursor_has_shown() -> None:
    rows = [
        ActivityRow(2, 200, [["a", None, {}], ["b", None, {}]]),
        ActivityRow(1, 100, [["c", None, {}]]),
    ]
    first = timeline.activities(rows, 2)
    assert [a["type"] for a in first] == ["b", "a"]
    last = first[-1]
    rest = timeline.activities(rows, 2, (last["_at"], last["id"]))
    assert [a["type"] for a in rest] == ["c"]


def test_a_cursor_is_two_decimal_integers_within_64_bits() -> None:
    assert timeline.parse_cursor("10-20") == (10, 20)
    assert timeline.parse_cursor("10") is None
    assert timeline.parse_cursor("-1-2") is None
    assert timeline.parse_cursor(f"{2**63}-1") is None
