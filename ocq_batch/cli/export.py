"""``ocq-batch export``: score and rank the event over a window and write the archive."""

from __future__ import annotations

from typing import Annotated

import typer

from ocq_batch.cli.options import RunOptions, command, say, with_export_options
from ocq_batch.report.terminal import err, out, print_ranking, print_verdict, progress_bar
from ocq_batch.timeutil import local, zone


@command
@with_export_options
def export(
    show_all: Annotated[
        bool,
        typer.Option(
            "--all", help="Print every participant's place, not only the prizes and the contested places."
        ),
    ] = False,
    xlsx: Annotated[
        bool,
        typer.Option(
            "--xlsx",
            help="Also write ranking.xlsx, the ranking as a spreadsheet (needs the xlsx extra: "
            "pip install 'ocq-batch[xlsx]').",
        ),
    ] = False,
    *,
    run: RunOptions,
) -> None:
    """Score and rank the event over a window and write the archive.

    With a URL as --source, the history is pulled from the server (and recorded in
    <out>/replay, so an interrupted run resumes where it stopped). The ranking printed shows
    the prize winners, the contested places around the cut-off and a few more (--all: everyone).
    Every answer is accounted for in manifest.json (families); a scoring family that answered
    nothing, or scoring data that do not reach --from/--to, stop the run.

    Exit codes: 0 the archive is written; 1 bad input or data (one line on stderr, the
    previous archive left as it was); 2 usage error; 130 interrupted.

    Example: ocq-batch export --from 2024-10-04T13:15:00Z --to 2024-10-04T15:45:00Z --out results/ocq2024
    """
    from ocq_batch.jobs.export import run_export

    request = run.request(xlsx=xlsx)
    with progress_bar(not run.quiet) as bar:
        result = run_export(request, bar, say)
    config, window = result.config, result.window
    if not run.quiet:
        at = local(window.end, zone(config.timezone))
        title = f"{config.name} · {config.env} · {config.model} · scores at {at} · ★ = top {config.top}"
        print_ranking(result.ranking, result.audit, config, title, show_all)
    stats = result.stats
    out.print(
        f"{result.participants} participants ranked ({len(result.excluded)} excluded: "
        f"{', '.join(result.excluded) or 'none'}); {stats.samples_added} new samples, "
        + (f"{stats.samples_superseded} superseded by a newer answer, " if stats.samples_superseded else "")
        + f"{stats.responses_skipped}/{stats.responses} responses already in the store"
    )
    out.print(f"archive: {result.out} (manifest.json, {len(result.manifest['files'])} files)")
    out.print(f"store:   {result.store}")
    print_verdict(result.audit)
    out.print(
        f"see {result.out / 'report.html'} (the ceremony: ceremony.html), or run "
        "'ocq-batch verify --archive' on it"
    )
    warnings = result.manifest["warnings"]
    if warnings:  # those of the answers the store holds now, as the manifest and the audit count them
        err.print(f"warning: the source reported {len(warnings)} warning(s); see manifest.json")
    empty = [k for k, f in result.manifest["families"].items() if f["empty_responses"] and not f["optional"]]
    if empty:
        more = f" and {len(empty) - 5} more" if len(empty) > 5 else ""
        err.print(
            f"warning: queries answered empty: {', '.join(empty[:5])}{more}; see the empty_family and "
            "empty_answer findings (ocq-batch audit --archive) and manifest.json families",
            markup=False,
            highlight=False,
        )
