"""``report.html``: the jury's report as one self-contained page (no external assets).

Charts are drawn as inline SVG (``svg.py``), so the HTML works offline on the
projector at the prize ceremony. The tables arrive as :class:`~ocq_batch.rows.Rows` and
the loops run over their plain Python rows, without building a DataFrame.
"""

from __future__ import annotations

import html
import math
from datetime import timedelta
from typing import Any

from ocq_batch.audit.run import AuditResult, summary_counts
from ocq_batch.config.model import Config, Window
from ocq_batch.report.content import grouped, when, with_bounds
from ocq_batch.report.svg import PALETTE, Plot
from ocq_batch.rows import Rows
from ocq_batch.timeutil import local, zone

LEADERS = 10
STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;
color:#1b1f24}
h1{font-size:1.8rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #d0d7de}
.verdict{padding:.8rem 1rem;border-radius:6px;font-size:1.15rem;font-weight:600}
.ok{background:#dafbe1;border:1px solid #1a7f37}.bad{background:#ffebe9;border:1px solid #cf222e}
table{border-collapse:collapse;width:100%;font-size:.95rem}th,td{padding:.25rem .5rem;text-align:left}
tr:nth-child(even){background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.top td:first-child{font-weight:700}tr.cut td{border-bottom:3px solid #cf222e}
.sev-error{color:#cf222e;font-weight:700}.sev-warning{color:#9a6700;font-weight:600}.sev-info{color:#57606a}
.bar{position:relative;height:14px;background:#eaeef2;border-radius:3px;min-width:220px}
.bar span{position:absolute;top:0;height:14px;background:#54aeff;border-radius:3px}
.bar i{position:absolute;top:-2px;height:18px;width:2px;background:#0a3069}
details{margin:.3rem 0}summary{cursor:pointer}small{color:#57606a}
"""


def timeline_chart(timeline: Rows, ranking: Rows, config: Config, window: Window) -> str:
    """Points over time for the leaders, expected ends marked (inline SVG)."""
    tz = zone(config.timezone)
    leaders = [r["user"] for r in sorted(ranking.rows, key=lambda r: (r["rank"], r["user"]))[:LEADERS]]
    chosen = set(leaders)
    data = [r for r in timeline.rows if r["user"] in chosen]
    t0 = config.start.timestamp()
    lines: dict[str, list[tuple[Any, float]]] = {}
    for row in data:
        lines.setdefault(row["user"], []).append((row["ts"], row["score"]))
    x = [(row["ts"].timestamp() - t0) / 60 for row in data]  # minutes after the start
    top = float(max(row["score"] for row in data)) if data else 1.0
    plot = Plot(
        960,
        460,
        (min(x, default=0.0), max(x, default=1.0)),
        (0.0, top * 1.05),
        f"Points over time: the top {len(leaders)} ({config.model} model)",
        f"time ({config.timezone})",
        "points",
    )
    for i, user in enumerate(leaders):
        line = sorted(lines.get(user, []), key=lambda point: point[0])
        points = [((ts.timestamp() - t0) / 60, sc) for ts, sc in line]
        plot.line(points, PALETTE[i % len(PALETTE)], str(user))
    for ex in config.exercises:
        plot.vline(ex.expected_s / 60, label=f"{ex.name} expected")
    lo, hi = min(x, default=0.0), max(x, default=1.0)
    first = math.ceil(lo / 30) * 30
    ticks = [first + 30 * k for k in range(int((hi - first) // 30) + 1)]

    def clock(minutes: float) -> str:
        return (config.start + timedelta(minutes=minutes)).astimezone(tz).strftime("%H:%M")

    return plot.render(ticks, clock)


def live_chart(live: Rows, top: int) -> str:
    """Batch rank against live rank; the prize cut-off on both axes (inline SVG)."""
    data = [r for r in live.rows if r["live_rank"] is not None]
    if not data:
        return "<p>No live board series in the source.</p>"
    edge = float(max(max(r["batch_rank"] for r in data), max(r["live_rank"] for r in data))) + 1
    plot = Plot(
        560,
        560,
        (0.0, edge),
        (0.0, edge),
        "Live board vs batch",
        "batch rank (authoritative)",
        "live board rank",
        invert=True,
    )
    plot.line([(1, 1), (edge, edge)], "#d0d7de")
    plot.vline(top + 0.5, "#cf222e")
    plot.hline(top + 0.5, "#cf222e")
    same = [r for r in data if bool(r["batch_in_top"]) == bool(r["live_in_top"])]
    plot.points([(r["batch_rank"], r["live_rank"]) for r in same], "#0969da", "same prize status")
    differ = [r for r in data if bool(r["batch_in_top"]) != bool(r["live_in_top"])]
    plot.points([(r["batch_rank"], r["live_rank"]) for r in differ], "#cf222e", "prize differs", r=6)
    for row in differ:
        plot.text(float(row["batch_rank"]), float(row["live_rank"]), str(row["user"]), color="#cf222e")
    return plot.render()


def _esc(value: Any) -> str:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return html.escape("" if missing else str(value))


def _score_bar(row: dict[str, Any], lo: float, hi: float) -> str:
    span = max(hi - lo, 1e-9)
    score_min, score_max = row["score_min"], row["score_max"]
    top = score_max if score_max != float("inf") else hi
    left = max((score_min - lo) / span * 100, 0.0)
    width = max((min(top, hi) - score_min) / span * 100, 0.6)
    return (
        f'<div class="bar"><span style="left:{left:.2f}%;width:{width:.2f}%"></span>'
        f'<i style="left:{left:.2f}%"></i></div>'
    )


def render_html(
    config: Config,
    window: Window,
    ranking: Rows,
    timeline: Rows,
    result: AuditResult,
    source: str,
) -> str:
    """The whole report as one self-contained HTML page."""
    rob = result.tables["robustness"].rows
    finite_max = [r["score_max"] for r in rob if r["score_max"] != float("inf")]
    scored = [r["score_min"] for r in rob if r["score_min"] > 0]
    lo = max(float(min(scored)) - 2.0, 0.0) if scored else 0.0  # zero scores would squash the bars
    hi = float(max(max(finite_max) if finite_max else 0.0, max(r["score_min"] for r in rob) if rob else 1.0))
    ok = result.clean
    counts = summary_counts(result.tables["findings"])
    rows = []
    merged = with_bounds(ranking, result)
    for i, row in enumerate(merged):
        in_top = row["in_top"]
        last_in = in_top and (i + 1 == len(merged) or not merged[i + 1]["in_top"])
        cls = " ".join(c for c in ("top" if in_top else "", "cut" if last_in else "") if c)
        score_max = row["score_max"]
        rows.append(
            f'<tr class="{cls}"><td>{"★" if in_top else ""}</td><td class="num">{row["rank"]}</td>'
            f"<td>{_esc(row['user'])}</td><td class=num>{row['score']:.1f}</td>"
            f"<td>{_score_bar(row, lo, hi)}<small>{row['score_min']:.1f} – "
            f"{'∞' if score_max == float('inf') else f'{score_max:.1f}'}</small></td>"
            f"<td class=num>{row['exercises_completed']}</td>"
            f"<td>{when(row['last_completed_at'], config)}</td></tr>"
        )
    live_rows = []
    for row in result.tables["live"].rows:
        if row["live_rank"] is None:
            continue
        flag = "⚠" if bool(row["batch_in_top"]) != bool(row["live_in_top"]) else ""
        live_rows.append(
            f"<tr><td>{flag}</td><td>{_esc(row['user'])}</td><td class=num>{row['batch_rank']}</td>"
            f"<td class=num>{row['batch_score']:.1f}</td><td class=num>{int(row['live_rank'])}</td>"
            f"<td class=num>{row['live_score_raw']:.1f}</td><td class=num>{row['live_normalised']:.1f}</td>"
            f"<td>{_esc(row['cause'])}</td></tr>"
        )
    by_user = []
    for user, group in grouped(result.tables["findings"]):
        worst = group[0]["severity"]
        items = "".join(
            f'<li><span class="sev-{_esc(f["severity"])}">{_esc(f["severity"])}</span> '
            f"<code>{_esc(f['check'])}</code> {_esc(f['message'])}</li>"
            for f in group
        )
        by_user.append(
            f"<details{' open' if worst == 'error' else ''}><summary><b>{_esc(user)}</b> "
            f'<span class="sev-{worst}">{len(group)} finding(s), worst: {worst}</span></summary>'
            f"<ul>{items}</ul>"
            "</details>"
        )
    tz = zone(config.timezone)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(config.name)} — ocq-batch report</title>
<style>{STYLE}</style></head><body>
<h1>{_esc(config.name)}: final ranking</h1>
<p>Scoring env <b>{_esc(config.env)}</b>, model <b>{_esc(config.model)}</b>, window
{_esc(local(window.start, tz))} to {_esc(local(window.end, tz))}; top {config.top} win a prize.
Source: <code>{_esc(source)}</code>.</p>
<p class="verdict {"ok" if ok else "bad"}">{"✔" if ok else "✘"} {_esc(result.cutoff.sentence())}.
{counts["error"]} error(s), {counts["warning"]} warning(s), {counts["info"]} note(s).</p>
<h2>Ranking</h2>
<p><small>The bar shows the interval each final score can lie in at the data's resolution
(completion between the previous sample, or one collection interval earlier, and the first sample at 1).
The red line is the prize cut-off.</small></p>
<table id="ranking"><thead><tr><th></th><th>rank</th><th>user</th><th>score</th><th>uncertainty</th>
<th>done</th><th>last completion</th></tr></thead><tbody>
{"".join(rows)}
</tbody></table>
<h2>Points over time</h2>
{timeline_chart(timeline, ranking, config, window)}
<h2>Live board vs batch</h2>
{live_chart(result.tables["live"], config.top)}
<table><thead><tr><th></th><th>user</th><th>batch rank</th><th>batch score</th><th>live rank</th>
<th>live points</th><th>live, normalised</th><th>likely cause</th></tr></thead><tbody>
{"".join(live_rows) or "<tr><td colspan=8>no live board series in the source</td></tr>"}
</tbody></table>
<h2>Findings by participant</h2>
{"".join(by_user) or "<p>No findings.</p>"}
</body></html>
"""
