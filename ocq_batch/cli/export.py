"""``ocq-batch export``: score and rank the event over a window and write the archive."""

from __future__ import annotations

from rich.markup import escape

from ocq_batch.cli.options import RunOptions, command, say, with_run_options
from ocq_batch.report.terminal import err, out, progress_bar, ranking_table
from ocq_batch.timeutil import local, zone


@command
@with_run_options
def export(*, run: RunOptions) -> None:
    """Score and rank the event over a window and write the archive.

    With a URL as --source, the history is pulled from the server (and recorded in
    <out>/replay, so an interrupted run resumes where it stopped).

    Example: ocq-batch export --from 2024-10-04T13:15:00Z --to 2024-10-04T15:45:00Z --out results/ocq2024
    """
    from ocq_batch.jobs.export import run_export

    request = run.request()
    with progress_bar(not run.quiet) as bar:
        result = run_export(request, bar, say)
    config, window = result.config, result.window
    if not run.quiet:
        at = local(window.end, zone(config.timezone))
        title = f"{config.name} · {config.env} · {config.model} · scores at {at} · ★ = top {config.top}"
        out.print(ranking_table(result.ranking, config.top, config.timezone, title))
    stats = result.stats
    out.print(
        f"{result.participants} participants ranked ({len(result.excluded)} excluded: "
        f"{', '.join(result.excluded) or 'none'}); {stats.samples_added} new samples, "
        f"{stats.responses_skipped}/{stats.responses} responses already in the store"
    )
    out.print(f"archive: {result.out} (manifest.json, {len(result.manifest['files'])} files)")
    out.print(f"store:   {result.store}")
    style = "bold green" if result.audit.clean else "bold red"
    out.print(
        f"[{style}]audit:[/] {escape(result.audit.cutoff.sentence())}; see {result.out / 'report.html'} "
        "or run 'ocq-batch verify --archive' on it",
        markup=True,
    )
    if stats.warnings:
        err.print(f"warning: the source reported {len(stats.warnings)} warning(s); see manifest.json")
