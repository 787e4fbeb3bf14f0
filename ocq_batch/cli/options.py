"""What the commands share: option declarations, the HTTP options, the request of a run, and
the guard that turns a library error into one line and an exit code.

Every command body runs inside :func:`guard` (the :func:`command` decorator), from its first
option read to its last line printed. The HTTP options are declared from the fields of
:class:`~ocq_batch.pull.http_options.HttpOptions` (their metadata holds flag and help), so
one object holds them from the command line to the client.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer
from rich.markup import escape

from ocq_batch.errors import ConfigError, OcqError
from ocq_batch.pull.http_options import HttpOptions
from ocq_batch.report.terminal import err

if TYPE_CHECKING:
    from ocq_batch.jobs.export import RunRequest

DEFAULT_TOKEN_ENV = "OCQ_TOKEN"

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Event configuration (TOML); only keys that differ from Open Code Quest 2024 are needed. "
        "Example: --config event.toml",
        dir_okay=False,
    ),
]
FromOpt = Annotated[
    str | None,
    typer.Option(
        "--from",
        help="Start of the scoring window, ISO 8601 with offset (default: [event] start). "
        "Example: --from 2024-10-04T13:15:00Z",
    ),
]
ToOpt = Annotated[
    str | None,
    typer.Option(
        "--to",
        help="End of the scoring window; scores are taken at this instant (default: [event] end). "
        "Example: --to 2024-10-04T15:45:00Z",
    ),
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="A Thanos/Prometheus URL, or a replay folder recorded by 'ocq-batch fetch' or 'simulate' "
        "(default: the bundled demo event). Example: --source https://rbac-query-proxy-open-cluster-"
        "management-observability.apps.hub.example.com",
    ),
]
EnvOpt = Annotated[
    str | None,
    typer.Option(
        "--env",
        help="Environment whose completions score (default: [scoring] env, prod). Example: --env prod",
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Scoring model: continuous (exact seconds) or stepped (5-minute ticks). "
        "Example: --model stepped",
    ),
]
TopOpt = Annotated[
    int | None,
    typer.Option("--top", help="How many win a prize (default: [scoring] top, 30). Example: --top 30"),
]
OutOpt = Annotated[
    Path,
    typer.Option(
        "--out",
        help="Output folder: the archive (manifest.json, *.parquet, ranking.csv) and the working "
        "store.duckdb. Replaced atomically on success. Example: --out results/ocq2024",
        file_okay=False,
    ),
]
StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="DuckDB store to use instead of <out>/store.duckdb. Example: --store ocq.duckdb",
        dir_okay=False,
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars and no ranking table.")]
ArchiveOpt = Annotated[
    Path | None,
    typer.Option(
        "--archive",
        help="Audit an existing archive (the --out of an export) instead of pulling from a source; "
        "its samples are re-scored with its own settings. Example: --archive results/ocq2024",
        file_okay=False,
    ),
]

INTERRUPTED = "interrupted: nothing was published; run the same command again to resume"


@contextmanager
def guard() -> Iterator[None]:
    """Map library errors to one line and exit 1; Ctrl-C to one line and exit 130."""
    try:
        yield
    except OcqError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print(INTERRUPTED)
        raise typer.Exit(130) from None


def command(body: Callable[..., None]) -> Callable[..., None]:
    """A command whose whole body runs inside :func:`guard`: options are read, the library is
    called and the result printed there, so no error of ours escapes as a traceback."""

    @functools.wraps(body)
    def guarded(*args: Any, **kwargs: Any) -> None:
        with guard():
            body(*args, **kwargs)

    return guarded


def _http_fields() -> list[tuple[str, Any, dict[str, Any]]]:
    """(name, type, option) of every HttpOptions field the command line offers, in order."""
    hints = get_type_hints(HttpOptions)
    return [
        (f.name, hints[f.name], f.metadata["option"]) for f in fields(HttpOptions) if "option" in f.metadata
    ]


def with_http_options(body: Callable[..., None]) -> Callable[..., None]:
    """Give a command the HTTP source options; it receives them together as ``http``, an
    :class:`HttpOptions` whose ``base_url`` is still empty (see :func:`server_options`).

    typer reads a command's options from its signature, so the wrapper shows the command's
    own parameters (without ``http``) followed by one parameter per HTTP option.
    """
    own = inspect.signature(body, eval_str=True)  # the Annotated aliases, not their names
    defaults = HttpOptions()
    extra = _http_fields()
    params = [p for name, p in own.parameters.items() if name != "http"]
    for name, hint, option in extra:
        limits = {k: option[k] for k in ("min", "max") if k in option}
        declared = typer.Option(option["flag"], help=option["help"], **limits)
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[hint, declared],
                default=getattr(defaults, name),
            )
        )

    @functools.wraps(body)
    def wrapper(**kwargs: Any) -> None:
        http = HttpOptions(**{name: kwargs.pop(name) for name, _hint, _option in extra})
        body(**kwargs, http=http)

    wrapper.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
    return wrapper


def is_url(text: str | None) -> bool:
    return bool(text) and str(text).startswith(("http://", "https://"))


def server_options(source: str | None, http: HttpOptions) -> HttpOptions | None:
    """The HTTP options for ``source`` when it is a URL, else None (a replay folder).

    OCQ_TOKEN is used when it is set and no other credential is named. A bad --compression
    is refused whatever the source, as every other bad option is.
    """
    from ocq_batch.pull.api import check_compression

    check_compression(http.compression)
    if source is None or not is_url(source):
        return None
    token_env = http.token_env
    if (
        token_env is None
        and http.token_file is None
        and http.basic_user is None
        and os.environ.get(DEFAULT_TOKEN_ENV, "").strip()
    ):
        token_env = DEFAULT_TOKEN_ENV
    if http.insecure:
        err.print("warning: --insecure: the server's TLS certificate is not verified")
    return replace(http, base_url=source, token_env=token_env)


def run_request(
    config_path: Path | None,
    start: str | None,
    end: str | None,
    source: str | None,
    http: HttpOptions,
    out: Path,
    store: Path | None,
    **overrides: Any,
) -> RunRequest:
    """The request of an export (or of the export behind audit and verify) from its options."""
    from ocq_batch.config.toml import resolve
    from ocq_batch.jobs.export import RunRequest

    config, window = resolve(config_path, start, end, **overrides)
    return RunRequest(config, window, source, server_options(source, http), out, store)


def needs_url(source: str, http: HttpOptions) -> HttpOptions:
    """The HTTP options of a command that only reads from a server (``fetch``)."""
    options = server_options(source, http)
    if options is None:
        raise ConfigError(f"--source {source!r} is not an http(s) URL; fetch reads from a server")
    return options
