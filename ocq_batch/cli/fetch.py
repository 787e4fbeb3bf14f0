"""``ocq-batch fetch``: record every configured query from a server into a replay folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ocq_batch.cli.options import (
    ConfigOpt,
    FromOpt,
    QuietOpt,
    ToOpt,
    WaitOpt,
    command,
    needs_url,
    say,
    wait_seconds,
    with_http_options,
)
from ocq_batch.pull.http_options import HttpOptions
from ocq_batch.report.terminal import err, out, progress_bar


@command
@with_http_options
def fetch(
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="Thanos Querier or Prometheus base URL (http:// or https://). "
            "Example: --source https://thanos.example.com",
            metavar="URL",
        ),
    ],
    config_path: ConfigOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Replay folder to record into; re-running resumes it. Example: --out recordings/ocq2024",
            file_okay=False,
            metavar="DIR",
        ),
    ] = Path("ocq-replay"),
    quiet: QuietOpt = False,
    wait: WaitOpt = None,
    *,
    http: HttpOptions,
) -> None:
    """Record a server's answers into a replay folder (resumable).

    Every configured query over the window, for replay and archiving. Resumable: after an
    interruption, the same command fetches only the missing chunks. Then: ocq-batch export
    --source <that folder>.

    Exit codes: 0 recorded; 1 bad input, or the server failed or refused (one line on stderr;
    what was recorded stays for the next run); 2 usage error; 130 interrupted.

    Example: ocq-batch fetch --source https://thanos.example.com --from 2024-10-04T13:00:00Z
    --to 2024-10-04T16:00:00Z --out recordings/ocq2024
    """
    from ocq_batch.config.toml import resolve
    from ocq_batch.jobs.export import fetch as run_fetch

    config, window = resolve(config_path, start, end)
    options = needs_url(source, http)
    wait_s = wait_seconds(wait)
    with progress_bar(not quiet) as bar:
        result = run_fetch(config, window, options, out_dir, progress=bar, wait_s=wait_s, say=say)
    out.print(
        f"recorded {result.requests - result.already_recorded} chunk(s) from {result.label} "
        f"into {result.folder} ({result.already_recorded} were already there; "
        f"{result.requests} in all)"
    )
    for warning in result.warnings:
        err.print(f"warning: {warning}")
