"""``report.html``: the jury's report as one self-contained page (no external assets).

Responsive: a viewport tag, a fluid width, text of at least 16 px, charts as inline SVG
with a viewBox at 100 % width (``svg.py``), wide tables and charts scrolling inside their
own box on a phone, a print stylesheet. Charts are drawn here, so the page works offline on
the projector. The verdict says what to do; contested places are marked; the uncertainty
bars are zoomed on the scores around the cut-off; findings are grouped by participant in
rank order, info notes folded; the footer says where the report comes from.
"""

from __future__ import annotations

import html
import math
from typing import Any

from ocq_batch.audit.run import AuditResult, summary_counts
from ocq_batch.config.model import Config, Window
from ocq_batch.report import axis
from ocq_batch.report.content import Provenance, by_rank, lowest_winner, when, with_bounds, zoom
from ocq_batch.report.svg import PALETTE, Plot
from ocq_batch.rows import Rows
from ocq_batch.timeutil import local, zone

LEADERS = 10
STYLE = """
:root{font-size:18px}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;padding:1rem clamp(1rem,3vw,3rem);
color:#1b1f24;line-height:1.45}
h1{font-size:clamp(1.5rem,4vw,2.2rem);margin:.4rem 0}h2{margin-top:2.2rem;border-bottom:2px solid #d0d7de}
nav a{margin-right:1rem}
.verdict{padding:.8rem 1rem;border-radius:6px;font-size:1.15rem}
.verdict p{margin:.35rem 0}.verdict .headline{font-weight:700}
.ok{background:#dafbe1;border:1px solid #1a7f37}.bad{background:#ffebe9;border:1px solid #cf222e}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:1rem}th,td{padding:.3rem .5rem;text-align:left}
th{white-space:nowrap}
tr:nth-child(even){background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.top td:first-child{font-weight:700}tr.cut td{border-bottom:3px solid #cf222e}
tr.contested{background:#fff4ce!important}
.sev-error{color:#cf222e;font-weight:700}.sev-warning{color:#9a6700;font-weight:600}.sev-info{color:#57606a}
.bar{position:relative;height:16px;background:#eaeef2;border-radius:3px;min-width:10rem}
.bar span{position:absolute;top:0;height:16px;background:#54aeff;border-radius:3px}
tr.contested .bar span{background:#d4a72c}
.bar i{position:absolute;top:-3px;height:22px;width:3px;background:#0a3069}
.bar b{position:absolute;top:-4px;height:24px;border-left:2px dashed #cf222e}
.bar .clip{position:absolute;top:-3px;font-size:1rem;line-height:1;color:#0a3069}
.range{font-size:1rem;color:#57606a;white-space:nowrap}
.chart{overflow-x:auto;max-width:100%}
.chart svg{display:block;width:100%;height:auto;min-width:36rem;max-width:1400px}
.chart.square svg{max-width:760px}
.cell{display:flex;align-items:center;gap:.6rem}.cell .bar{flex:1}
details{margin:.4rem 0}summary{cursor:pointer}details details{margin-left:1.2rem}
.quiet{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));column-gap:1rem}
.quiet details[open]{grid-column:1/-1}
.note{font-size:1rem;color:#57606a}
footer{margin-top:3rem;border-top:2px solid #d0d7de;padding-top:.8rem;font-size:1rem;color:#57606a}
code{overflow-wrap:anywhere}
@media print{
  :root{font-size:11pt}body{padding:0;color:#000}nav{display:none}
  .scroll,.chart{overflow:visible}.chart svg{min-width:0}
  h2{break-after:avoid}tr,details{break-inside:avoid}
  details>*{display:block}
  tr.contested{background:#fff4ce!important;-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""


def timeline_chart(timeline: Rows, ranking: Rows, config: Config, window: Window) -> str:
    """Points over time for the leaders, expected ends marked (inline SVG; the axis of
    :mod:`ocq_batch.report.axis`: clock time in the event's zone)."""
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
        480,
        (min(x, default=0.0), max(x, default=1.0)),
        (0.0, top * 1.05),
        f"Points over time: the top {len(leaders)} ({config.model} model)",
        axis.title(config.timezone),
        "points",
    )
    for i, user in enumerate(leaders):
        line = sorted(lines.get(user, []), key=lambda point: point[0])
        points = [((ts.timestamp() - t0) / 60, sc) for ts, sc in line]
        plot.line(points, PALETTE[i % len(PALETTE)], str(user))
    for ex in config.exercises:
        plot.vline(ex.expected_s / 60, label=axis.expected_label(ex.name))
    lo, hi = min(x, default=0.0), max(x, default=1.0)
    return plot.render(axis.ticks(lo, hi), lambda m: axis.label(config.start, m, config.timezone))


def live_chart(live: Rows, top: int) -> str:
    """Batch rank across against live rank down, rank 1 at the top left; the cut-off on both."""
    data = [r for r in live.rows if r["live_rank"] is not None]
    if not data:
        return "<p>No live board series in the source.</p>"
    edge = float(max(max(r["batch_rank"] for r in data), max(r["live_rank"] for r in data))) + 1
    plot = Plot(
        640,
        640,
        (0.0, edge),
        (0.0, edge),
        "Live board vs batch",
        axis.BATCH_RANK,
        axis.LIVE_RANK,
        invert_y=True,
    )
    plot.line([(1, 1), (edge, edge)], "#d0d7de")
    plot.vline(top + 0.5, "#cf222e")
    plot.hline(top + 0.5, "#cf222e")
    same = [r for r in data if bool(r["batch_in_top"]) == bool(r["live_in_top"])]
    plot.points([(r["batch_rank"], r["live_rank"]) for r in same], "#0969da", "same prize status", r=5)
    differ = [r for r in data if bool(r["batch_in_top"]) != bool(r["live_in_top"])]
    plot.points([(r["batch_rank"], r["live_rank"]) for r in differ], "#cf222e", "prize differs", r=7)
    for row in differ:
        plot.text(float(row["batch_rank"]), float(row["live_rank"]), str(row["user"]), color="#cf222e")
    return plot.render()


def _esc(value: Any) -> str:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return html.escape("" if missing else str(value))


def _pct(value: float, lo: float, hi: float) -> float:
    return (value - lo) / max(hi - lo, 1e-9) * 100


def score_bar(row: dict[str, Any], lo: float, hi: float, line: float | None) -> str:
    """The interval a score can lie in, on the zoomed scale ``[lo, hi]``; an interval that runs
    past the scale is cut with an arrow; ``line``: the lowest score a prize winner can have."""
    low, high = float(row["score_min"]), float(row["score_max"])
    left = min(max(_pct(low, lo, hi), 0.0), 100.0)
    right = min(max(_pct(min(high, hi), lo, hi), 0.0), 100.0)
    parts = []
    if high >= lo and low <= hi:  # some of the interval is on the scale
        parts.append(f'<span style="left:{left:.2f}%;width:{max(right - left, 0.6):.2f}%"></span>')
    if lo <= low <= hi:
        parts.append(f'<i style="left:{left:.2f}%"></i>')
    if low < lo:
        parts.append('<em class="clip" style="left:0">◀</em>')
    if high > hi:
        parts.append('<em class="clip" style="right:0">▶</em>')
    if line is not None and lo <= line <= hi:
        parts.append(f'<b style="left:{_pct(line, lo, hi):.2f}%"></b>')
    return f'<div class="bar">{"".join(parts)}</div>'


def verdict_box(result: AuditResult) -> str:
    counts = summary_counts(result.tables["findings"])
    lines = []
    for kind, text in result.verdict_lines():
        mark = ("✔ " if result.clean else "✘ ") if kind == "headline" else ""
        lines.append(
            f'<p class="{kind}">{mark}{_esc(text)}.</p>' if kind == "headline" else f"<p>{_esc(text)}</p>"
        )
    lines.append(
        f'<p class="note">{counts["error"]} error(s), {counts["warning"]} warning(s), '
        f"{counts['info']} note(s): see the findings below.</p>"
    )
    return f'<div class="verdict {"ok" if result.clean else "bad"}" id="verdict">{"".join(lines)}</div>'


def ranking_rows(
    ranking: Rows, result: AuditResult, config: Config
) -> tuple[str, float, float, float | None]:
    """The ranking table's rows (contested ones marked), and the bars' scale and winner line."""
    merged = with_bounds(ranking, result)
    cut = result.cutoff
    lo, hi = zoom(merged, cut)
    line = lowest_winner(merged)
    contested = cut.contested_users
    rows = []
    for i, row in enumerate(merged):
        in_top = bool(row["in_top"])
        last_in = in_top and (i + 1 == len(merged) or not merged[i + 1]["in_top"])
        mine = row["user"] in contested
        cls = " ".join(c for c, on in (("top", in_top), ("cut", last_in), ("contested", mine)) if on)
        mark = ("★" if in_top else "") + ("?" if mine else "")
        score_max = row["score_max"]
        rows.append(
            f'<tr class="{cls}"><td title="{"contested" if mine else ""}">{mark}</td>'
            f'<td class="num">{row["rank"]}</td><td>{_esc(row["user"])}</td>'
            f'<td class="num">{row["score"]:.1f}</td>'
            f'<td><div class="cell">{score_bar(row, lo, hi, line)}'
            f'<span class="range">{row["score_min"]:.1f} – '
            f"{'∞' if score_max == float('inf') else f'{score_max:.1f}'}</span></div></td>"
            f'<td class="num">{row["exercises_completed"]}</td>'
            f"<td>{_esc(when(row['last_completed_at'], config))}</td></tr>"
        )
    return "".join(rows), lo, hi, line


def findings_html(result: AuditResult, ranking: Rows) -> str:
    """Findings by participant in rank order; errors and warnings shown, info notes folded.
    Participants with notes only sit side by side (a grid), still in rank order."""
    out: list[str] = []
    quiet: list[str] = []

    def flush() -> None:
        if quiet:
            out.append(f'<div class="quiet">{"".join(quiet)}</div>')
            quiet.clear()

    for group in by_rank(result.tables["findings"], ranking):
        who = _esc(group.user) if group.rank is None else f"#{group.rank} {_esc(group.user)}"
        counts = [
            f'<span class="sev-{s}">{n} {label}</span>'
            for s, label in (("error", "error(s)"), ("warning", "warning(s)"), ("info", "note(s)"))
            if (n := group.count(s))
        ]
        items = "".join(_finding(f) for f in group.serious)
        notes = ""
        if group.notes:
            notes = (
                f"<details><summary>{len(group.notes)} note(s)</summary><ul>"
                + "".join(_finding(f) for f in group.notes)
                + "</ul></details>"
            )
        if not group.serious:
            quiet.append(f"<details><summary><b>{who}</b> {' · '.join(counts)}</summary><ul>"
                         + "".join(_finding(f) for f in group.notes) + "</ul></details>")  # fmt: skip
            continue
        flush()
        out.append(
            f"<details open><summary><b>{who}</b> {' · '.join(counts)}</summary>"
            f"{f'<ul>{items}</ul>' if items else ''}{notes}</details>"
        )
    flush()
    return "".join(out) or "<p>No findings.</p>"


def _finding(f: dict[str, Any]) -> str:
    series = f.get("series") or []
    listed = (
        f"<details><summary>its {len(series)} series</summary><ul>"
        + "".join(f"<li><code>{_esc(s)}</code></li>" for s in series)
        + "</ul></details>"
        if len(series) > 1
        else ""
    )
    return (
        f'<li><span class="sev-{_esc(f["severity"])}">{_esc(f["severity"])}</span> '
        f"<code>{_esc(f['check'])}</code> {_esc(f['message'])}{listed}</li>"
    )


def footer(provenance: Provenance) -> str:
    p = provenance
    return (
        '<footer id="provenance"><p><b>Provenance.</b> '
        f"ocq-batch {_esc(p.tool_version)} · source <code>{_esc(p.source)}</code></p>"
        f"<p>Config sha256 <code>{_esc(p.config_digest)}</code> (the manifest's config digest).</p>"
        f"<p>Data sha256 <code>{_esc(p.data_digest)}</code>: the sha256 of the manifest's lines "
        f"<code>name sha256</code> of its data files ({_esc(', '.join(p.data_files))}), sorted by name, "
        "one per line. The reports are not in it: the manifest lists this page's own sha256, which "
        "the page cannot contain.</p></footer>"
    )


def render_html(
    config: Config,
    window: Window,
    ranking: Rows,
    timeline: Rows,
    result: AuditResult,
    provenance: Provenance,
) -> str:
    """The whole report as one self-contained HTML page."""
    rows, lo, hi, line = ranking_rows(ranking, result, config)
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
    tz = zone(config.timezone)
    scale = (
        f"Scale: {lo:.1f} to {hi:.1f} points, zoomed on the scores around the cut-off (an interval "
        "that runs past it ends in an arrow)."
    )
    if line is not None:
        scale += (
            f" The red dashes mark {line:.1f}, the lowest score a prize winner can have: a bar below "
            "the cut-off that reaches past them overlaps a winner's."
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(config.name)} — ocq-batch report</title>
<style>{STYLE}</style></head><body>
<nav><a href="ceremony.html">ceremony view</a><a href="#ranking">ranking</a><a href="#findings">findings</a>
<a href="#provenance">provenance</a></nav>
<h1>{_esc(config.name)}: final ranking</h1>
<p>Scoring env <b>{_esc(config.env)}</b>, model <b>{_esc(config.model)}</b>, window
{_esc(local(window.start, tz))} to {_esc(local(window.end, tz))}; top {config.top} win a prize.
Source: <code>{_esc(provenance.source)}</code>.</p>
{verdict_box(result)}
<h2 id="ranking-heading">Ranking</h2>
<p class="note">★ prize winner · ? contested (amber): the score's interval overlaps someone's across the
cut-off. The bar shows the interval each final score can lie in at the data's resolution (completion
between the previous sample, or one collection interval earlier, and the first sample at 1).
{_esc(scale)} The red line under a row is the prize cut-off.</p>
<div class="scroll"><table id="ranking"><thead><tr><th></th><th>rank</th><th>user</th><th>score</th>
<th>could be</th><th>done</th><th>last completion</th></tr></thead><tbody>
{rows}
</tbody></table></div>
<h2>Points over time</h2>
<div class="chart">{timeline_chart(timeline, ranking, config, window)}</div>
<h2>Live board vs batch</h2>
<div class="chart square">{live_chart(result.tables["live"], config.top)}</div>
<ul>{"".join(f"<li>{_esc(s)}</li>" for s in result.live_summary())}</ul>
<details><summary>The table: {len(live_rows)} participant(s) on the live board</summary>
<div class="scroll"><table><thead><tr><th></th><th>user</th><th>batch rank</th><th>batch score</th>
<th>live rank</th><th>live points</th><th>live, normalised</th><th>likely cause</th></tr></thead><tbody>
{"".join(live_rows) or "<tr><td colspan=8>no live board series in the source</td></tr>"}
</tbody></table></div></details>
<h2 id="findings">Findings by participant</h2>
<p class="note">In rank order (the whole event first); errors and warnings shown, notes folded.</p>
{findings_html(result, ranking)}
{footer(provenance)}
</body></html>
"""
