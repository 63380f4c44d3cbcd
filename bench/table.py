"""Render the medians as text (terminal) or Markdown (docs/performance.md)."""

from __future__ import annotations

REFS = [("raw-asgi", "raw ASGI"), ("nginx", "nginx")]

HTTP_ROWS = [
    # label, key, format, show ratios
    ("requests/s at saturation", "sat_rps", "{:,.0f}", True),
    ("events/s at saturation", "sat_eps", "{:,.0f}", True),
    ("p50 ack at saturation (ms)", "sat_p50_ms", "{:.2f}", True),
    ("p99 ack at saturation (ms)", "sat_p99_ms", "{:.2f}", True),
    ("req/s achieved at fixed rate", "fixed_rps", "{:,.0f}", False),
    ("p50 ack at fixed rate (ms)", "fixed_p50_ms", "{:.2f}", True),
    ("p99 ack at fixed rate (ms)", "fixed_p99_ms", "{:.2f}", True),
    ("p99.9 ack at fixed rate (ms)", "fixed_p999_ms", "{:.2f}", True),
    ("offered at 50% of own saturation (req/s)", "half_rate", "{:,.0f}", False),
    ("p50 ack at 50% of own saturation (ms)", "half_p50_ms", "{:.2f}", False),
    ("p99 ack at 50% of own saturation (ms)", "half_p99_ms", "{:.2f}", False),
    ("CPU per event (µs), server + db", "cpu_us_per_event", "{:.1f}", True),
    ("  of which PostgreSQL backends (µs)", "db_cpu_us_per_event", "{:.1f}", False),
    ("req/s one busy core carries (from CPU/event)", "core_rps", "{:,.0f}", True),
    ("server core busy at saturation", "server_cpu_util", "{:.0%}", False),
    ("load generator core busy", "loadgen_cpu_util", "{:.0%}", False),
    ("other processes' CPU at saturation (cores)", "other_cpu_cores", "{:.2f}", False),
    ("peak RSS of the server (MiB)", "peak_rss_mb", "{:.0f}", True),
    ("requests per transaction at saturation (/metrics)", "sat_req_per_txn", "{:.1f}", False),
    ("requests per transaction at fixed rate (/metrics)", "fixed_req_per_txn", "{:.1f}", False),
]


def _fmt(fmt: str, value) -> str:
    if value is None:
        return "–"
    try:
        return fmt.format(value)
    except (TypeError, ValueError):
        return str(value)


LG_BOUND = 0.9


def _cell(result: dict, key: str, fmt: str) -> str:
    text = _fmt(fmt, result.get(key))
    if key in ("sat_rps", "sat_eps") and (result.get("loadgen_cpu_util") or 0) >= LG_BOUND:
        text += "*"
    return text


def _ratio(a, b) -> str:
    if a is None or b in (None, 0):
        return "–"
    r = a / b
    return f"{r:.2f}×" if r < 10 else f"{r:.1f}×"


def grid(headers: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        out = ["| " + " | ".join(headers) + " |"]
        out.append("|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|")
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(
        c.ljust(w) if i == 0 else c.rjust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def http_table(block: dict, markdown: bool = False) -> str:
    res = block["results"]
    for r in res.values():
        cpu = r.get("cpu_us_per_event")
        # throughput a fully owned core would give at this CPU cost: robust to machine noise
        r["core_rps"] = 1e6 / (cpu * block["events_per_request"]) if cpu else None
    ours = [name for name in res if name.startswith("shopevents-")]
    refs = [(k, label) for k, label in REFS if k in res]
    headers = ["metric"] + [n.removeprefix("shopevents-") for n in ours] + [lab for _, lab in refs]
    for n in ours:
        for _k, lab in refs:
            headers.append(f"{n.removeprefix('shopevents-')} ÷ {lab}")
    rows = []
    for label, key, fmt, ratios in HTTP_ROWS:
        if label.startswith("req/s achieved") or "fixed rate" in label:
            label = label.replace("fixed rate", f"{block['fixed_rate']:,.0f} req/s")
        if all(res[n].get(key) is None for n in res):
            continue
        row = [label]
        row += [_cell(res[n], key, fmt) for n in ours]
        row += [_cell(res[k], key, fmt) for k, _ in refs]
        for n in ours:
            for k, _ in refs:
                row.append(_ratio(res[n].get(key), res[k].get(key)) if ratios else "")
        rows.append(row)
    row = ["stored = acknowledged (every run)"]
    for n in ours:
        ok = res[n].get("durability_ok")
        row.append({True: "yes", False: "**NO**" if markdown else "NO", None: "n/a"}[ok])
    row += [""] * (len(headers) - len(row))
    rows.append(row)
    row = ["non-200 answers / socket errors"]
    for n in ours:
        row.append(f"{res[n].get('non200', 0)} / {res[n].get('socket_errors', 0)}")
    for k, _ in refs:
        row.append(f"{res[k].get('non200', 0)} / {res[k].get('socket_errors', 0)}")
    row += [""] * (len(headers) - len(row))
    rows.append(row)
    title = (
        f"{block['scenario']}: {block['description']} "
        f"(median of {block['options']['runs']} runs × {block['options']['duration']:g} s)"
    )
    text = grid(headers, rows, markdown)
    extra = []
    for name, err in block.get("errors", {}).items():
        extra.append(f"{name} failed: {err[:400]}")
    goals = goal_lines(block)
    if any((r.get("loadgen_cpu_util") or 0) >= LG_BOUND for r in res.values()):
        goals.append(
            f"* the load generator's core was ≥ {LG_BOUND:.0%} busy: that figure is bounded by "
            "wrk, not by the server"
        )
    if markdown:
        parts = [f"### {block['scenario']}", "", title, "", text]
        if goals:
            parts += ["", *[f"- {g}" for g in goals]]
        if extra:
            parts += ["", *[f"- {e}" for e in extra]]
        return "\n".join(parts)
    return "\n".join([title, text, *goals, *extra])


def goal_lines(block: dict) -> list[str]:
    out = []
    res = block["results"]
    raw = res.get("raw-asgi", {})
    for backend, goals in (block.get("goals") or {}).items():
        mine = res.get(f"shopevents-{backend}")
        if not mine:
            continue
        for key, goal in goals.items():
            if key == "sat_rps":
                v = mine.get("sat_rps")
                ok = v is not None and v >= goal
                out.append(
                    f"goal {block['scenario']} {backend}: ≥ {goal:,} req/s → {_fmt('{:,.0f}', v)} {_mark(ok)}"
                )
            elif key == "sat_eps":
                v = mine.get("sat_eps")
                ok = v is not None and v >= goal
                out.append(
                    f"goal {block['scenario']} {backend}: ≥ {goal:,} events/s → {_fmt('{:,.0f}', v)} {_mark(ok)}"
                )
            elif key == "ratio_raw_rps":
                v, r = mine.get("sat_rps"), raw.get("sat_rps")
                ratio = v / r if v and r else None
                ok = ratio is not None and ratio >= goal
                out.append(
                    f"goal {block['scenario']} {backend}: ≥ {goal:.2f} × raw ASGI → "
                    f"{_fmt('{:.2f}', ratio)} {_mark(ok)}"
                )
            elif key == "fixed_p99_ms":
                v = mine.get("fixed_p99_ms")
                ok = (
                    v is not None
                    and v <= goal
                    and (mine.get("fixed_rps") or 0) >= 0.98 * block["fixed_rate"]
                )
                out.append(
                    f"goal {block['scenario']} {backend}: p99 ≤ {goal} ms at {block['fixed_rate']:,.0f} req/s → "
                    f"{_fmt('{:.2f}', v)} ms {_mark(ok)}"
                )
    return out


def _mark(ok: bool) -> str:
    return "(met)" if ok else "(missed)"


def bulk_table(block: dict, markdown: bool = False) -> str:
    """abandonment / reports blocks carry their own rows."""
    headers = block["headers"]
    rows = block["rows"]
    text = grid(headers, rows, markdown) if rows else "(no results)"
    notes = block.get("notes", [])
    errors = [f"{k} failed: {v[:400]}" for k, v in block.get("errors", {}).items()]
    goals = block.get("goal_lines", [])
    if markdown:
        parts = [f"### {block['scenario']}", "", block["description"], "", text]
        for group in (goals, notes, errors):
            if group:
                parts += ["", *[f"- {x}" for x in group]]
        return "\n".join(parts)
    return "\n".join([block["description"], text, *goals, *notes, *errors])


def render(block: dict, markdown: bool = False) -> str:
    if block.get("kind") == "http":
        return http_table(block, markdown)
    return bulk_table(block, markdown)
