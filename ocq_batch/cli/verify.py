"""``ocq-batch verify``: an evidence card per prize winner (or per participant named), and the verdict."""

from __future__ import annotations

from typing import Annotated

import typer

from ocq_batch.cli.options import ArchiveOpt, RunOptions, command, say, with_run_options
from ocq_batch.report.terminal import out, print_card, print_verdict, progress_bar, styled


@command
@with_run_options
def verify(
    archive: ArchiveOpt = None,
    users: Annotated[
        list[str] | None,
        typer.Option(
            "--user",
            help="Show this participant's card instead of the winners'; repeatable. "
            "Example: --user user34 --user user64",
            metavar="NAME",
        ),
    ] = None,
    *,
    run: RunOptions,
) -> None:
    """An evidence card per prize winner (or --user), and the verdict.

    A card holds completion times with their uncertainty, clusters, components and findings.
    With --user NAME (repeatable), the cards of those participants, winners or not.

    Without --archive the source is exported as export does, into --out only when that folder
    does not exist yet (nor --store): an existing archive or store is never changed, whatever
    --top, --env or --model say. The export then runs in a temporary folder, removed after;
    --archive DIR re-scores an existing archive from its own samples instead.

    Exit codes: 0 the top N is decided and clean; 3 an error finding touches the top N or the
    prize cut-off is not decidable (whichever cards are shown); 1 bad input or data (an unknown
    --user too); 2 usage error; 130 interrupted.

    Example: ocq-batch verify --top 30 --archive results/ocq2024
    """
    from ocq_batch.audit.run import verdict_exit_code
    from ocq_batch.jobs.audit import verified

    request = None if archive is not None else run.request()
    with progress_bar(not run.quiet) as bar:
        done, cards = verified(archive, request, bar, users=users, say=say, **run.overrides)
    result, config = done.result, done.config
    for card in cards:
        print_card(card, config)
    what = "participant(s)" if users else "winner(s)"
    out.print(f"\n{len(cards)} {what} checked in {done.where}")
    print_verdict(result)
    errors = result.errors_touching_top()
    if errors:
        out.print(styled((f"{len(errors)} error finding(s) touch the top {config.top}", "bold red")))
    raise typer.Exit(verdict_exit_code(result))
