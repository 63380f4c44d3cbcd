"""Small server-side SVG charts: stacked bars over time, lines, horizontal bars.

Every chart is plain SVG (no script), scales to its container through its viewBox, carries a
`<title>` per mark for hover details, and is paired on the page with a table of the same
numbers. Every text is escaped: labels may come from a store (product names, sources).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from decimal import Decimal

from markupsafe import Markup, escape

Number = int | float | Decimal
Fmt = Callable[[Number], str]

PALETTE = (
    "#3b6fd8",
    "#20a38a",
    "#e0a03a",
    "#9b5de5",
    "#e4572e",
    "#4fb0e0",
    "#7a8a99",
    "#c2408f",
    "#6bbf59",
    "#b0763b",
)
FIXED = {
    "accepted": "#2e9d63",
    "duplicate": "#7a8fb0",
    "conflict": "#e0a03a",
    "rejected": "#d64545",
    "unspecified": "#a3adb8",
    "created": "#3b6fd8",
    "abandoned": "#e0a03a",
    "purchased": "#2e9d63",
    "recovered": "#9b5de5",
    "other": "#a3adb8",
    "revenue": "#3b6fd8",
    "orders": "#3b6fd8",
    "digital-store": "#3b6fd8",
    "marketplace": "#20a38a",
    "point-of-sale": "#9b5de5",
    "call-center": "#4fb0e0",
    "other-channel": "#b0763b",
}
"""Series that always have the same colour, on every page and in every range."""

W = 960
PAD_L, PAD_R, PAD_T, PAD_B = 64, 16, 14, 34


def color_for(name: str) -> str:
    """A series' colour: fixed for the known ones, else derived from the name itself (not
    from its position), so a source or payment method keeps its colour between views."""
    return FIXED.get(name) or PALETTE[zlib.crc32(name.encode("utf-8")) % len(PALETTE)]


def colors(names: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    used: set[str] = set()
    for n in names:
        c = color_for(n)
        if n not in FIXED and c in used:  # two names of one chart on one colour: next free
            start = PALETTE.index(c)
            c = next(
                (
                    PALETTE[(start + k) % len(PALETTE)]
                    for k in range(1, len(PALETTE))
                    if PALETTE[(start + k) % len(PALETTE)] not in used
                ),
                c,
            )
        out[n] = c
        used.add(c)
    return out


def nice_ticks(top: float, count: int = 4, *, integer: bool = False) -> list[float]:
    """Round tick values from 0 to at least `top`; whole numbers only when `integer` (for
    counts: there is no quarter of a cart)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(s * mag for s in steps if s * mag >= raw)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    n = math.ceil(top / step - 1e-9)
    return [i * step for i in range(n + 1)]


def short_number(v: float) -> str:
    a = abs(v)
    if a >= 1_000_000:
        return f"{v / 1_000_000:.1f}M".replace(".0M", "M")
    if a >= 10_000:
        return f"{v / 1_000:.0f}k"
    if a >= 1_000:
        return f"{v / 1_000:.1f}k".replace(".0k", "k")
    if a == int(a):
        return str(int(v))
    return f"{v:.2f}"


def _label_every(n: int, width: float, chars: int) -> int:
    fits = max(1, int(width / max(chars * 7.0, 1)))
    return max(1, math.ceil(n / fits))


def _svg(height: int, body: str, label: str, width: int = W) -> Markup:
    """The chart in a frame that scrolls sideways on a narrow screen (where the chart keeps
    a readable minimum width) instead of shrinking its text to nothing."""
    kind = "wide" if width >= W else "narrow"
    return Markup(
        f'<div class="chart-frame {kind}"><svg class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">{body}</svg></div>'
    )


def _xlabel(x: float, y: float, text: str) -> str:
    """An x-axis label centred on x, kept inside the chart at both ends."""
    half = len(text) * 3.6
    anchor = "middle"
    if x + half > W - 2:
        anchor, x = "end", min(x + 6, W - 2.0)
    elif x - half < 2:
        anchor, x = "start", max(x - 6, 2.0)
    return f'<text class="xlabel" x="{x:.1f}" y="{y}" text-anchor="{anchor}">{escape(text)}</text>'


def _axis(
    top: float, height: int, fmt_tick: Fmt, integer: bool = False
) -> tuple[str, float, Callable[[float], float]]:
    ticks = nice_ticks(top, integer=integer)
    vmax = ticks[-1] or 1.0
    plot_h = height - PAD_T - PAD_B

    def y(v: float) -> float:
        return PAD_T + plot_h - (float(v) / vmax) * plot_h

    parts = []
    for t in ticks:
        yy = y(t)
        parts.append(
            f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
            f'<text class="tick" x="{PAD_L - 8}" y="{yy + 4:.1f}" text-anchor="end">{escape(fmt_tick(t))}</text>'
        )
    return "".join(parts), vmax, y


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Number]]],
    *,
    fmt: Fmt = lambda v: short_number(float(v)),
    label: str = "chart",
    height: int = 260,
    palette: dict[str, str] | None = None,
    integer: bool = False,
) -> Markup:
    """Bars per label, stacked by series (name, values); `integer` for counts."""
    n = len(labels)
    if n == 0:
        return _svg(height, "", label)
    totals = [sum(float(s[1][i]) for s in series) for i in range(n)]
    grid, _vmax, y = _axis(
        max(totals) if totals else 0, height, lambda v: short_number(float(v)), integer
    )
    pal = palette or colors([s[0] for s in series])
    plot_w = W - PAD_L - PAD_R
    slot = plot_w / n
    bar = max(1.0, slot * (0.72 if n < 60 else 0.9))
    parts = [grid]
    for i, lab in enumerate(labels):
        x = PAD_L + i * slot + (slot - bar) / 2
        base = 0.0
        tip = [f"{lab}"]
        for name, values in series:
            v = float(values[i])
            if v <= 0:
                continue
            y0, y1 = y(base), y(base + v)
            parts.append(
                f'<rect x="{x:.2f}" y="{y1:.2f}" width="{bar:.2f}" height="{max(y0 - y1, 0.5):.2f}" '
                f'fill="{pal.get(name, "#888")}"><title>{escape(lab)} · {escape(name)}: {escape(fmt(values[i]))}</title></rect>'
            )
            base += v
            tip.append(f"{name}: {fmt(values[i])}")
        if base == 0:
            parts.append(
                f'<rect class="hit" x="{x:.2f}" y="{PAD_T}" width="{bar:.2f}" height="{height - PAD_T - PAD_B}">'
                f"<title>{escape(lab)}: 0</title></rect>"
            )
    every = _label_every(n, plot_w, max(len(lab) for lab in labels))
    for i, lab in enumerate(labels):
        if i % every == 0:
            parts.append(_xlabel(PAD_L + i * slot + slot / 2, height - PAD_B + 18, lab))
    parts.append(
        f'<line class="axis" x1="{PAD_L}" x2="{W - PAD_R}" y1="{height - PAD_B}" y2="{height - PAD_B}"/>'
    )
    return _svg(height, "".join(parts), label)


def lines(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Number]]],
    *,
    fmt: Fmt = lambda v: short_number(float(v)),
    label: str = "chart",
    height: int = 220,
    palette: dict[str, str] | None = None,
    integer: bool = False,
) -> Markup:
    """One line per series, with a dot per point (a hover title on each); `integer` for
    counts."""
    n = len(labels)
    if n == 0:
        return _svg(height, "", label)
    top = max((float(v) for _, vals in series for v in vals), default=0.0)
    grid, _vmax, y = _axis(top, height, lambda v: short_number(float(v)), integer)
    pal = palette or colors([s[0] for s in series])
    plot_w = W - PAD_L - PAD_R
    step = plot_w / max(n - 1, 1)

    def x(i: int) -> float:
        return PAD_L + (i * step if n > 1 else plot_w / 2)

    parts = [grid]
    for name, values in series:
        pts = " ".join(f"{x(i):.1f},{y(float(v)):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline class="line" points="{pts}" stroke="{pal.get(name, "#888")}"/>')
        if n <= 62:
            for i, v in enumerate(values):
                parts.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(float(v)):.1f}" r="3" fill="{pal.get(name, "#888")}">'
                    f"<title>{escape(labels[i])} · {escape(name)}: {escape(fmt(v))}</title></circle>"
                )
    every = _label_every(n, plot_w, max(len(lab) for lab in labels))
    for i, lab in enumerate(labels):
        if i % every == 0:
            parts.append(_xlabel(x(i), height - PAD_B + 18, lab))
    parts.append(
        f'<line class="axis" x1="{PAD_L}" x2="{W - PAD_R}" y1="{height - PAD_B}" y2="{height - PAD_B}"/>'
    )
    return _svg(height, "".join(parts), label)


def hbars(
    items: Sequence[tuple[str, Number, str]],
    *,
    label: str = "chart",
    color: str = "#3b6fd8",
    palette: dict[str, str] | None = None,
    label_width: int = 200,
    width: int = 600,
) -> Markup:
    """Horizontal bars: (label, value, value as text) per row, largest first as given."""
    row_h = 30
    height = max(len(items), 1) * row_h + 8
    top = max((float(v) for _, v, _ in items), default=0.0) or 1.0
    plot_w = width - label_width - 110
    parts = []
    for i, (lab, v, text) in enumerate(items):
        y0 = 4 + i * row_h
        w = max(float(v) / top * plot_w, 1.0 if float(v) > 0 else 0.0)
        limit = max(8, label_width // 8)
        shown = lab if len(lab) <= limit else lab[: limit - 1] + "…"
        fill = (palette or {}).get(lab, color)
        parts.append(
            f'<text class="hlabel" x="{label_width - 10}" y="{y0 + 19}" text-anchor="end">{escape(shown)}</text>'
            f'<rect x="{label_width}" y="{y0 + 5}" width="{w:.1f}" height="{row_h - 10}" rx="3" fill="{fill}">'
            f"<title>{escape(lab)}: {escape(text)}</title></rect>"
            f'<text class="hvalue" x="{label_width + w + 8:.1f}" y="{y0 + 19}">{escape(text)}</text>'
        )
    return _svg(height, "".join(parts), label, width)


def legend(names: Sequence[str], palette: dict[str, str] | None = None) -> Markup:
    pal = palette or colors(names)
    items = "".join(
        f'<li><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="{pal.get(n, "#888")}"/></svg>{escape(n)}</li>'
        for n in names
    )
    return Markup(f'<ul class="legend">{items}</ul>')
