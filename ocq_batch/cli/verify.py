"""``ocq-batch verify``: an evidence card per prize winner, and the verdict."""

from __future__ import annotations

import typer
from rich.markup import escape

from ocq_batch.cli.options import ArchiveOpt, RunOptions, command, say, with_run_options
from ocq_batch.report.terminal import out, progress_bar


@command
@with_run_options
def verify(archive: ArchiveOpt = None, *, run: RunOptions) -> None:
    """Verify the prize winners: an evidence card per winner (completion times with their
    uncertainty, clusters, components, findings) and a verdict.

    Exit codes: 0 the top N is decided and clean; 3 an error finding touches the top N or the
    prize cut-off is not decidable; 1 bad input or data; 2 usage error.

    Example: ocq-batch verify --top 30 --archive results/ocq2024
    """
    from ocq_batch.audit.cards import card_lines
    from ocq_batch.audit.run import verdict_exit_code
    from ocq_batch.jobs.audit import verified

    request = None if archive is not None else run.request()
    with progress_bar(not run.quiet) as bar:
        done, cards = verified(archive, request, bar, say=say, **run.overrides)
    result, config = done.result, done.config
    for card in cards:
        lines = card_lines(card, config)
        style = {"error": "bold red", "warning": "yellow"}.get(card.worst, "bold green")
        out.print(f"[{style}]{escape(lines[0])}[/]", markup=True)
        for line in lines[1:]:
            out.print(escape(line), markup=True)
    style = "bold green" if result.clean else "bold red"
    out.print(f"\n{len(cards)} winner(s) checked in {done.where}")
    out.print(f"[{style}]verdict:[/] {escape(result.cutoff.sentence())}", markup=True)
    errors = result.errors_touching_top()
    if errors:
        out.print(f"[bold red]{len(errors)} error finding(s) touch the top {config.top}[/]", markup=True)
    raise typer.Exit(verdict_exit_code(result))
