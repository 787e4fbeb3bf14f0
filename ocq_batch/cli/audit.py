"""``ocq-batch audit``: findings per participant, live board vs batch, and the verdict."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from ocq_batch.cli.options import ArchiveOpt, RunOptions, command, say, with_run_options
from ocq_batch.report.terminal import out, progress_bar

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


@command
@with_run_options
def audit(
    archive: ArchiveOpt = None,
    show_info: Annotated[bool, typer.Option("--info", help="Also list findings of severity info.")] = False,
    *,
    run: RunOptions,
) -> None:
    """Audit the result: findings per participant, live board vs batch, and whether the prize cut-off
    is decidable at the data's resolution. Takes the options of export, or --archive.

    Exit codes: 0 the top N is decided and clean; 3 an error finding touches the top N or the
    prize cut-off is not decidable; 1 bad input or data; 2 usage error.

    Example: ocq-batch audit --archive results/ocq2024
    """
    from ocq_batch.audit.run import summary_counts, verdict_exit_code
    from ocq_batch.jobs.audit import audited

    request = None if archive is not None else run.request()
    with progress_bar(not run.quiet) as bar, audited(archive, request, bar, say=say, **run.overrides) as done:
        result, where = done.result, done.where
    findings = result.findings
    shown = findings if show_info else findings[findings.severity != "info"]
    for f in shown.itertuples():
        who = " ".join(str(x) for x in (f.user, f.exercise, f.env) if isinstance(x, str))
        out.print(
            f"[{SEVERITY_STYLE[f.severity]}]{f.severity:<7}[/] {f.check:<24} {escape(who):<22} "
            f"{escape(f.message)}",
            markup=True,
        )
    counts = summary_counts(result.tables["findings"])
    by_check = findings.groupby(["severity", "check"]).size()
    out.print(
        f"\n{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s) in {where}: "
        + ", ".join(f"{check} {n}" for (_sev, check), n in by_check.items())
    )
    for sentence in result.live_summary():
        out.print(f"live board: {sentence}")
    style = "bold green" if result.clean else "bold red"
    out.print(f"[{style}]verdict:[/] {escape(result.cutoff.sentence())}", markup=True)
    raise typer.Exit(verdict_exit_code(result))
