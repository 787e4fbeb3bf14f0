"""``ocq-batch audit``: findings per participant, live board vs batch, and the verdict."""

from __future__ import annotations

from typing import Annotated

import typer

from ocq_batch.cli.options import ArchiveOpt, RunOptions, command, say, with_run_options
from ocq_batch.report.terminal import findings_table, out, print_verdict, progress_bar


@command
@with_run_options
def audit(
    archive: ArchiveOpt = None,
    show_info: Annotated[bool, typer.Option("--info", help="Also list findings of severity info.")] = False,
    *,
    run: RunOptions,
) -> None:
    """Audit the result: findings, live board, the cut-off verdict.

    Findings per participant, the live board against the batch, and whether the prize cut-off
    is decidable at the data's resolution: if not, which places are contested and which top N
    is decided instead. Takes the options of export, or --archive.

    Without --archive the source is exported as export does, into --out only when that folder
    does not exist yet (nor --store): an existing archive or store is never changed, whatever
    --top, --env or --model say. The export then runs in a temporary folder, removed after;
    --archive DIR re-scores an existing archive from its own samples instead.

    Exit codes: 0 the top N is decided and clean; 3 an error finding touches the top N or the
    prize cut-off is not decidable; 1 bad input or data; 2 usage error; 130 interrupted.

    Example: ocq-batch audit --archive results/ocq2024
    """
    from ocq_batch.audit.run import summary_counts, verdict_exit_code
    from ocq_batch.jobs.audit import audited

    request = None if archive is not None else run.request()
    with progress_bar(not run.quiet) as bar, audited(archive, request, bar, say=say, **run.overrides) as done:
        result, where = done.result, done.where
    rows = result.tables["findings"].rows
    shown = rows if show_info else [f for f in rows if f["severity"] != "info"]
    if shown:
        out.print(findings_table(shown))
    counts = summary_counts(result.tables["findings"])
    by_check: dict[tuple[str, str], int] = {}
    for f in rows:
        by_check[(f["severity"], f["check"])] = by_check.get((f["severity"], f["check"]), 0) + 1
    order = {"error": 0, "warning": 1, "info": 2}
    checks = sorted(by_check.items(), key=lambda kv: (order.get(kv[0][0], 3), kv[0][1]))
    out.print(
        f"\n{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s) in "
        f"{where}: " + ", ".join(f"{check} {n}" for (_sev, check), n in checks)
    )
    if not show_info and counts["info"]:
        out.print("(--info lists the notes too)")
    for sentence in result.live_summary():
        out.print(f"live board: {sentence}")
    print_verdict(result)
    raise typer.Exit(verdict_exit_code(result))
