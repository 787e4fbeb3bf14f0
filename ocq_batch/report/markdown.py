"""``report.md``: the jury's report as Markdown (verdict, ranking with intervals, live board,
findings by participant)."""

from __future__ import annotations

from ocq_batch.audit.run import AuditResult, summary_counts
from ocq_batch.config.model import Config, Window
from ocq_batch.report.content import grouped, when, with_bounds
from ocq_batch.rows import Rows
from ocq_batch.timeutil import local, zone


def render_markdown(config: Config, window: Window, ranking: Rows, result: AuditResult) -> str:
    """The same report as Markdown: verdict, ranking with intervals, live differences, findings."""
    tz = zone(config.timezone)
    counts = summary_counts(result.tables["findings"])
    lines = [
        f"# {config.name}: final ranking",
        "",
        f"Scoring env {config.env}, model {config.model}, window {local(window.start, tz)} to "
        f"{local(window.end, tz)}, top {config.top}.",
        "",
        f"**{'OK' if result.clean else 'NOT DECIDED'}**: {result.cutoff.sentence()}. "
        f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s).",
        "",
        "## Ranking",
        "",
        "| | rank | user | score | possible range | done | last completion |",
        "|---|---:|---|---:|---|---:|---|",
    ]
    for row in with_bounds(ranking, result):
        top = "★" if row["in_top"] else ""
        hi = "∞" if row["score_max"] == float("inf") else f"{row['score_max']:.1f}"
        lines.append(
            f"| {top} | {row['rank']} | {row['user']} | {row['score']:.1f} | {row['score_min']:.1f} – {hi} | "
            f"{row['exercises_completed']} | {when(row['last_completed_at'], config)} |"
        )
    lines += ["", "## Live board vs batch", ""]
    lines += [f"- {sentence}" for sentence in result.live_summary()]
    lines += ["", "## Findings by participant", ""]
    for user, group in grouped(result.tables["findings"]):
        lines.append(f"### {user}")
        lines += [f"- {f['severity']} `{f['check']}`: {f['message']}" for f in group]
        lines.append("")
    return "\n".join(lines) + "\n"
