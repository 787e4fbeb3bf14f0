"""``ceremony.html``: the winners in order, for the projector at the prize ceremony.

One self-contained page sized to the screen: the prize winners in rank order, large enough
to read from the back of a room at 1920x1080 (columns of ten, type scaled to the viewport),
in one column on a phone. Contested places are shown as such, with who outside the prize
they cannot be separated from and what the jury can do; shared ranks share their number;
an error touching a winner is named. Nothing is loaded from outside the file.
"""

from __future__ import annotations

import html
import math
from typing import Any

from ocq_batch.audit.run import AuditResult
from ocq_batch.config.model import Config, Window
from ocq_batch.report.content import Provenance, with_bounds
from ocq_batch.rows import Rows
from ocq_batch.timeutil import local, zone

STYLE = """
:root{font-size:clamp(16px,1.6vw,40px)}
*{box-sizing:border-box}
html,body{margin:0;background:#0d1117;color:#f0f6fc}
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;padding:1.2rem 2rem;min-height:100vh}
h1{font-size:2.2rem;margin:0 0 .2rem}
.sub{font-size:1rem;color:#9da7b3;margin:0 0 1rem}
ol{list-style:none;margin:0;padding:0;display:grid;grid-auto-flow:column;
grid-template-rows:repeat(10,auto);grid-auto-columns:minmax(0,1fr);column-gap:2.5rem;row-gap:.15rem}
li{display:flex;gap:.6rem;align-items:baseline;font-size:1.25em;line-height:1.3;min-width:0}
.rank{min-width:2.2em;text-align:right;color:#9da7b3;font-variant-numeric:tabular-nums}
.name{font-weight:700;overflow-wrap:anywhere}
.score{margin-left:auto;color:#9da7b3;font-variant-numeric:tabular-nums;font-size:1rem}
li.first .name{color:#f2cc60}
li.contested .name::after{content:" ?";color:#f0883e}
li.contested{background:#3d2a0f;border-radius:.2rem}
.doubt{margin-top:1rem;padding:.6rem .9rem;border:2px solid #f0883e;border-radius:.4rem;font-size:1rem}
.doubt p{margin:.25rem 0}
.ok{margin-top:1rem;font-size:1rem;color:#7ee787}
footer{margin-top:1rem;font-size:max(16px,.8rem);color:#9da7b3}
a{color:#79c0ff}
@media (max-width:700px){
  :root{font-size:16px}body{padding:1rem}
  ol{grid-auto-flow:row;grid-template-rows:none!important;grid-template-columns:1fr;font-size:1rem!important}
}
@media print{html,body{background:#fff;color:#000}.rank,.score,.sub,footer{color:#333}}
"""


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def layout(n: int) -> str:
    """Columns of ten up to 30 winners; beyond, three columns in smaller type."""
    rows = max(1, min(10, n)) if n <= 30 else math.ceil(n / 3)
    return f"grid-template-rows:repeat({rows},auto);font-size:{min(1.0, 10 / rows):.3f}rem"


def render_ceremony(
    config: Config, window: Window, ranking: Rows, result: AuditResult, provenance: Provenance
) -> str:
    """The ceremony page: the prize winners in rank order, contested places shown honestly."""
    cut = result.cutoff
    rows = with_bounds(ranking, result)
    winners = [r for r in rows if r["in_top"]]
    contested = cut.contested_users
    items = []
    for row in winners:
        cls = " ".join(
            c for c, on in (("first", row["rank"] == 1), ("contested", row["user"] in contested)) if on
        )
        items.append(
            f'<li class="{cls}"><span class="rank">{row["rank"]}</span>'
            f'<span class="name">{_esc(row["user"])}</span><span class="score">{row["score"]:.1f}</span></li>'
        )
    if cut.everyone_wins:
        note = f'<p class="ok">{_esc(cut.sentence())}.</p>'
    elif cut.decidable:
        note = f'<p class="ok">✔ {_esc(cut.sentence())}.</p>'
    else:
        outside = [p for p in cut.contested if not p.in_top]
        inside = [p for p in cut.contested if p.in_top]
        places = cut.range_text().removeprefix("ranks ").removeprefix("rank ")
        them = "they" if len(inside) > 1 else _esc(inside[0].label()) if inside else "they"
        parts = [
            f"<p><b>Places {_esc(places)} are contested</b> (marked ?): at the data's resolution "
            f"{them} cannot be separated from "
            f"{_esc(', '.join(p.label() for p in outside) or 'each other')}, outside the prize.</p>"
        ]
        if cut.tied:
            parts.append(f"<p>{_esc(', '.join(cut.tied))} share the last prize rank.</p>")
        decided = cut.nearest()
        other = f" (a prize list of the top {decided[0]} would be decided)" if decided else ""
        parts.append(f"<p>The jury decides these places{_esc(other)}.</p>")
        note = f'<div class="doubt">{"".join(parts)}</div>'
    concerns = [
        (f"{f['user']} " if f["user"] is not None else "") + f"({f['check']})"
        for f in result.concern_findings()
    ]  # one line on the projector: the sentences are in the jury's report
    if concerns:  # in the verdict's box when there is one: the page must fit the projector
        warn = (
            f'<p>⚠ Before announcing, read the <a href="report.html">jury\'s report</a> '
            f"on {_esc(', '.join(concerns))}: an error finding touches the prize.</p>"
        )
        box = '<div class="doubt">'
        note = (
            note[: -len("</div>")] + warn + "</div>" if note.startswith(box) else note + box + warn + "</div>"
        )
    tz = zone(config.timezone)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(config.name)} — the winners</title>
<style>{STYLE}</style></head><body>
<h1>{_esc(config.name)}: the winners</h1>
<p class="sub">The top {config.top} of {cut.ranked} participants · scores at {_esc(local(window.end, tz))} ·
{_esc(config.model)} model, {_esc(config.env)}</p>
<ol id="winners" style="{layout(len(items))}">{"".join(items)}</ol>
{note}
<footer>ocq-batch {_esc(provenance.tool_version)} · data sha256 {_esc(provenance.data_digest[:16])}… ·
<a href="report.html">the jury's report</a></footer>
</body></html>
"""
