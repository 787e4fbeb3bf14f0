"""The ``ocq-batch`` application: the command group, its global options and the entry point.

Commands are declared one module each (``cli/export.py`` ...) and registered here, in the
order ``--help`` lists them. :func:`run` is the console script: a usage error is one line
on stderr and exit code 2, like every other error of ours (exit 1).
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from ocq_batch import __version__, signals
from ocq_batch.cli import audit, config, export, fetch, simulate, verify
from ocq_batch.cli.help import Command, Group
from ocq_batch.errors import Terminated
from ocq_batch.report.terminal import err, out

app = typer.Typer(
    name="ocq-batch",
    help=(
        "Decide who really won an Open Code Quest: pull completion history from Thanos or "
        "Prometheus, detect completions in DuckDB, score, rank and archive as Parquet.\n\n"
        "Quick start (bundled demo event): ocq-batch export\n\n"
        "Exit codes: 0 success; 1 bad input or data (one line on stderr saying what to change); "
        "2 usage error; 3 (audit, verify) the prize cut-off is not decided or an error finding "
        "touches the top N; 130 interrupted.\n\n"
        "Shell completion: ocq-batch --install-completion (bash, zsh, fish, PowerShell)."
    ),
    cls=Group,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"ocq-batch {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every HTTP request and retry to stderr.")
    ] = False,
) -> None:
    """ocq-batch: the authoritative post-event ranking of an Open Code Quest."""
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)


app.command("export", cls=Command)(export.export)
app.command("fetch", cls=Command)(fetch.fetch)
app.command("simulate", cls=Command)(simulate.simulate)
app.command("config", cls=Command)(config.show_config)
app.command("audit", cls=Command)(audit.audit)
app.command("verify", cls=Command)(verify.verify)


def _is(exc: BaseException, name: str) -> bool:
    """Whether ``exc`` is a click exception of class ``name`` (click's own, or the copy of it
    that recent typer versions carry)."""
    return any(cls.__name__ == name for cls in type(exc).__mro__)


def run() -> None:
    """Console entry point: the application, with its usage errors as one line and exit code 2,
    SIGINT and SIGTERM as exceptions (:mod:`ocq_batch.signals`) that the guard turns into one
    line and exit code 130 or 143."""
    signals.install()
    try:
        command = typer.main.get_command(app)
        code = command.main(standalone_mode=False)
        signals.hold()
        if code == 130 and signals.received() is not None:
            # typer turns a KeyboardInterrupt outside the command's guard (its context's
            # teardown, the options' parsing) into exit code 130 without a word
            signals.announce(err.print)
    except (Terminated, KeyboardInterrupt) as exc:  # while the command line was read, before the guard
        signals.announce(err.print)
        sys.exit(signals.exit_code(exc) or 130)
    except Exception as exc:
        if _is(exc, "NoArgsIsHelpError"):  # no command given: the help, as --help shows it
            out.print(exc.ctx.get_help(), markup=False, highlight=False)  # type: ignore[attr-defined]
            sys.exit(0)
        if _is(exc, "UsageError"):
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "ocq-batch"
            message = exc.format_message()  # type: ignore[attr-defined]
            err.print(f"error: {message} (see '{where} --help')", markup=False, highlight=False)
            sys.exit(2)
        if _is(exc, "Abort"):  # Ctrl-C or end of input while the command line was being read
            signals.announce(err.print)
            sys.exit(signals.exit_code(exc) or 130)
        raise
    sys.exit(code if isinstance(code, int) else 0)
