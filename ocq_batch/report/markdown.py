"""``report.md``: the jury's report as Markdown (verdict, ranking with intervals, live board,
findings by participant in rank order, provenance)."""

from __future__ import annotations

from ocq_batch.audit.run import AuditResult, summary_counts
from ocq_batch.config.model import Config, Window
from ocq_batch.report.content import Provenance, by_rank, when, with_bounds
from ocq_batch.rows import Rows
from ocq_batch.timeutil import local, zone


def render_markdown(
    config: Config, window: Window, ranking: Rows, result: AuditResult, provenance: Provenance
) -> str:
    """The same report as Markdown: verdict, ranking with intervals, live differences, findings."""
    tz = zone(config.timezone)
    counts = summary_counts(result.tables["findings"])
    verdict = result.verdict_lines()
    lines = [
        f"# {config.name}: final ranking",
        "",
        f"Scoring env {config.env}, model {config.model}, window {local(window.start, tz)} to "
        f"{local(window.end, tz)}, top {config.top}.",
        "",
        f"**{'OK' if result.clean else 'NOT DECIDED'}**: {verdict[0][1]}. "
        f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s).",
        "",
        *(f"- {text}" for _kind, text in verdict[1:]),
        "",
        "## Ranking",
        "",
        "★ prize winner · ? contested: the score interval overlaps someone's across the cut-off",
        "",
        "| | rank | user | score | possible range | done | last completion |",
        "|---|---:|---|---:|---|---:|---|",
    ]
    contested = result.cutoff.contested_users
    for row in with_bounds(ranking, result):
        mark = ("★" if row["in_top"] else "") + ("?" if row["user"] in contested else "")
        hi = "∞" if row["score_max"] == float("inf") else f"{row['score_max']:.1f}"
        interval = f"{row['score_min']:.1f} – {hi}"
        lines.append(
            f"| {mark} | {row['rank']} | {row['user']} | {row['score']:.1f} | {interval} | "
            f"{row['exercises_completed']} | {when(row['last_completed_at'], config)} |"
        )
    lines += ["", "## Live board vs batch", ""]
    lines += [f"- {sentence}" for sentence in result.live_summary()]
    lines += ["", "## Findings by participant", ""]
    for group in by_rank(result.tables["findings"], ranking):
        lines.append(f"### {group.user}" if group.rank is None else f"### #{group.rank} {group.user}")
        for f in group.findings:
            lines.append(f"- {f['severity']} `{f['check']}`: {f['message']}")
            series = f.get("series") or []
            lines += [f"  - `{s}`" for s in series] if len(series) > 1 else []
        lines.append("")
    lines += ["## Provenance", "", provenance.sentence()]
    return "\n".join(lines) + "\n"
