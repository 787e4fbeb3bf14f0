"""The ``ocq-batch`` command line: parse options, call one library function, render the result."""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from ocq_batch import __version__
from ocq_batch.cli_options import (
    ArchiveOpt,
    ConfigOpt,
    EnvOpt,
    FromOpt,
    HttpArgs,
    ModelOpt,
    OutOpt,
    QuietOpt,
    SourceOpt,
    StoreOpt,
    ToOpt,
    TopOpt,
    guard,
    http_options,
    with_http_options,
)
from ocq_batch.cli_simulate import simulate
from ocq_batch.config import MODELS, Config, describe, load_config
from ocq_batch.errors import ConfigError
from ocq_batch.malloc import keep_freed_memory
from ocq_batch.nopandas import arrow_without_pandas
from ocq_batch.paths import demo_dir
from ocq_batch.render import err, out, progress_bar, ranking_table
from ocq_batch.timeutil import iso, local, parse_instant, zone

# The heavy modules (pandas and DuckDB behind the pipeline, Arrow behind the sources, httpx
# behind the HTTP source) are imported by the command that needs them, so that --help and
# --version start at once.
if TYPE_CHECKING:
    from ocq_batch.export import ExportResult
    from ocq_batch.http import HttpOptions
    from ocq_batch.pipeline import Window
    from ocq_batch.sources import Source

app = typer.Typer(
    name="ocq-batch",
    help=(
        "Decide who really won an Open Code Quest: pull completion history from Thanos or "
        "Prometheus, detect completions in DuckDB, score, rank and archive as Parquet.\n\n"
        "Quick start (bundled demo event): ocq-batch export"
    ),
    no_args_is_help=True,
    add_completion=False,
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


def run() -> None:
    """Console entry point."""
    # httpcore imports trio, when it is installed, to serve async clients: 0.1 s of every
    # HTTP command. The command line only makes synchronous requests, so in its own process
    # the import is refused (httpcore expects trio to be missing and carries on).
    sys.modules.setdefault("trio", None)  # type: ignore[arg-type]
    keep_freed_memory()  # reuse the megabyte blocks of one body for the next (ocq_batch/malloc.py)
    arrow_without_pandas()  # pyarrow's look for pandas would import it: 0.3 s (ocq_batch/nopandas.py)
    app()


def _resolve(
    config_path: Path | None,
    env: str | None,
    model: str | None,
    top: int | None,
    start: str | None,
    end: str | None,
) -> tuple[Config, Window]:
    from ocq_batch.pipeline import Window

    config = load_config(config_path).with_overrides(env=env, model=model, top=top)
    return config, Window(_instant("--from", start, config.start), _instant("--to", end, config.end))


def _instant(option: str, text: str | None, default: datetime) -> datetime:
    if text is None:
        return default
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def make_source(text: str | None) -> Source:
    """A replay source from the --source text (default: the bundled demo event)."""
    from ocq_batch.sources import ReplaySource

    if text is None:
        return ReplaySource(demo_dir())
    return ReplaySource(Path(text))


@app.command()
@with_http_options
def export(
    config_path: ConfigOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    source: SourceOpt = None,
    env: EnvOpt = None,
    model: ModelOpt = None,
    top: TopOpt = None,
    out_dir: OutOpt = Path("ocq-out"),
    store: StoreOpt = None,
    quiet: QuietOpt = False,
    *,
    http_args: HttpArgs,
) -> None:
    """Score and rank the event over a window and write the archive.

    With a URL as --source, the history is pulled from the server (and recorded in
    <out>/replay, so an interrupted run resumes where it stopped).

    Example: ocq-batch export --from 2024-10-04T13:15:00Z --to 2024-10-04T15:45:00Z --out results/ocq2024
    """
    with guard():
        config, window = _resolve(config_path, env, model, top, start, end)
        opts = http_options(source, http_args)
        result = _run_export(config, window, source, opts, out_dir, store, quiet)
    tz = zone(config.timezone)
    if not quiet:
        title = (
            f"{config.name} · {config.env} · {config.model} · scores at {local(window.end, tz)} "
            f"· ★ = top {config.top}"
        )
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


def _run_export(
    config: Config,
    window: Window,
    source: str | None,
    http: HttpOptions | None,
    out_dir: Path,
    store: Path | None,
    quiet: bool,
) -> ExportResult:
    """The export job from a server (``http`` given) or a replay folder, with progress bars."""
    from ocq_batch.export import export as run_export

    with progress_bar(not quiet) as bar:
        if http is not None:
            return run_export(config, window, None, out_dir, store=store, progress=bar, http=http)
        return run_export(config, window, make_source(source), out_dir, store=store, progress=bar)


def _audited(
    archive: Path | None,
    config_path: Path | None,
    start: str | None,
    end: str | None,
    source: str | None,
    env: str | None,
    model: str | None,
    top: int | None,
    out_dir: Path,
    store: Path | None,
    quiet: bool,
    http: HttpOptions | None,
) -> tuple[Any, Config, Window, Any, str]:
    """Run export (or reload an archive) and the audit; return (con, config, window, audit, where)."""
    from ocq_batch.audit import run_audit
    from ocq_batch.pipeline import run_pipeline
    from ocq_batch.reload import carried_findings, load_archive
    from ocq_batch.store import open_store

    if archive is not None:
        con, archived, window, _manifest = load_archive(archive)
        config = archived.with_overrides(env=env, model=model, top=top)
        run_pipeline(con, config, window)
        carried = carried_findings(archive, archived, config)
        return con, config, window, run_audit(con, config, carried), str(archive)
    config, window = _resolve(config_path, env, model, top, start, end)
    result = _run_export(config, window, source, http, out_dir, store, quiet)
    return open_store(result.store, read_only=True), config, window, result.audit, str(result.out)


@app.command()
@with_http_options
def fetch(
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="Thanos Querier or Prometheus base URL. "
            "Example: --source https://rbac-query-proxy-open-cluster-management-observability.apps.hub.example.com",
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
        ),
    ] = Path("ocq-replay"),
    quiet: QuietOpt = False,
    *,
    http_args: HttpArgs,
) -> None:
    """Record every configured query over the window from a server, for replay and archiving.

    Resumable: after an interruption, the same command fetches only the missing chunks.
    Then: ocq-batch export --source <that folder>.

    Example: ocq-batch fetch --source https://thanos.example.com --from 2024-10-04T13:00:00Z
    --to 2024-10-04T16:00:00Z --out recordings/ocq2024
    """
    from ocq_batch.export import fetch as run_fetch

    with guard():
        config, window = _resolve(config_path, None, None, None, start, end)
        opts = http_options(source, http_args)
        if opts is None:
            raise ConfigError(f"--source {source!r} is not an http(s) URL; fetch reads from a server")
        with progress_bar(not quiet) as bar:
            result = run_fetch(config, window, opts, out_dir, progress=bar)
    out.print(
        f"recorded {result.requests - result.already_recorded} chunk(s) from {result.label} "
        f"into {result.folder} ({result.already_recorded} were already there; {result.requests} in all)"
    )
    for warning in result.warnings:
        err.print(f"warning: {escape(warning)}", markup=False)


app.command()(simulate)  # declared in cli_simulate.py; registered here to keep --help's order


@app.command("config")
def show_config(config_path: ConfigOpt = None) -> None:
    """Print the resolved configuration (defaults merged with --config) and its digest.

    Example: ocq-batch config --config event.toml
    """
    import json

    with guard():
        config = load_config(config_path)
    out.print(describe(config))
    out.print(f"window default: {iso(config.start)} to {iso(config.end)}; models: {', '.join(MODELS)}")
    out.print(json.dumps(config.as_dict(), indent=2))
    out.print(f"digest: {config.digest()}")


SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


@app.command()
@with_http_options
def audit(
    archive: ArchiveOpt = None,
    config_path: ConfigOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    source: SourceOpt = None,
    env: EnvOpt = None,
    model: ModelOpt = None,
    top: TopOpt = None,
    out_dir: OutOpt = Path("ocq-out"),
    store: StoreOpt = None,
    quiet: QuietOpt = False,
    show_info: Annotated[bool, typer.Option("--info", help="Also list findings of severity info.")] = False,
    *,
    http_args: HttpArgs,
) -> None:
    """Audit the result: findings per participant, live board vs batch, and whether the prize cut-off
    is decidable at the data's resolution. Takes the options of export, or --archive.

    Exit codes: 0 the top N is decided and clean; 3 an error finding touches the top N or the
    prize cut-off is not decidable; 1 bad input or data; 2 usage error.

    Example: ocq-batch audit --archive results/ocq2024
    """
    from ocq_batch.audit import summary_counts, verdict_exit_code

    http = http_options(source, http_args)
    with guard():
        con, _config, _window, result, where = _audited(
            archive, config_path, start, end, source, env, model, top, out_dir, store, quiet, http
        )
        con.close()
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


@app.command()
@with_http_options
def verify(
    top: Annotated[
        int | None,
        typer.Option("--top", help="How many win a prize (default: [scoring] top). Example: --top 30"),
    ] = None,
    archive: ArchiveOpt = None,
    config_path: ConfigOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    source: SourceOpt = None,
    env: EnvOpt = None,
    model: ModelOpt = None,
    out_dir: OutOpt = Path("ocq-out"),
    store: StoreOpt = None,
    quiet: QuietOpt = False,
    *,
    http_args: HttpArgs,
) -> None:
    """Verify the prize winners: an evidence card per winner (completion times with their
    uncertainty, clusters, components, findings) and a verdict.

    Exit codes: 0 the top N is decided and clean; 3 an error finding touches the top N or the
    prize cut-off is not decidable; 1 bad input or data; 2 usage error.

    Example: ocq-batch verify --top 30 --archive results/ocq2024
    """
    from ocq_batch.audit import verdict_exit_code
    from ocq_batch.verify import card_lines, evidence_cards

    http = http_options(source, http_args)
    with guard():
        con, config, _window, result, where = _audited(
            archive, config_path, start, end, source, env, model, top, out_dir, store, quiet, http
        )
        cards = evidence_cards(con, config, result)
        con.close()
    for card in cards:
        lines = card_lines(card, config)
        style = {"error": "bold red", "warning": "yellow"}.get(card.worst, "bold green")
        out.print(f"[{style}]{escape(lines[0])}[/]", markup=True)
        for line in lines[1:]:
            out.print(escape(line), markup=True)
    style = "bold green" if result.clean else "bold red"
    out.print(f"\n{len(cards)} winner(s) checked in {where}")
    out.print(f"[{style}]verdict:[/] {escape(result.cutoff.sentence())}", markup=True)
    errors = result.errors_touching_top()
    if errors:
        out.print(f"[bold red]{len(errors)} error finding(s) touch the top {config.top}[/]", markup=True)
    raise typer.Exit(verdict_exit_code(result))
