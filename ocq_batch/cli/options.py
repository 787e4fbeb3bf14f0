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
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_type_hints

import typer

from ocq_batch import signals
from ocq_batch.errors import ConfigError
from ocq_batch.oserror import disk_error
from ocq_batch.pull.http_options import HttpOptions
from ocq_batch.report.terminal import err, styled
from ocq_batch.timeutil import parse_duration

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
        metavar="FILE",
    ),
]
FromOpt = Annotated[
    str | None,
    typer.Option(
        "--from",
        help="Start of the scoring window, ISO 8601 with offset (default: [event] start); the "
        "scoring data must start within one [audit] collect_interval of it (Z is UTC, not local "
        "time). Example: --from 2024-10-04T13:15:00Z",
        metavar="TIMESTAMP",
    ),
]
ToOpt = Annotated[
    str | None,
    typer.Option(
        "--to",
        help="End of the scoring window; scores are taken at this instant (default: [event] end); "
        "the scoring data must reach it within one [audit] collect_interval. "
        "Example: --to 2024-10-04T15:45:00Z",
        metavar="TIMESTAMP",
    ),
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="A Thanos/Prometheus base URL (http:// or https://), or a replay folder recorded by "
        "'ocq-batch fetch' or 'simulate' (default: the bundled demo event). "
        "Example: --source https://thanos.example.com",
        metavar="URL|DIR",
    ),
]
EnvOpt = Annotated[
    str | None,
    typer.Option(
        "--env",
        help="Environment whose completions score: one of [event] envs (dev, preprod, prod unless "
        "configured; default: [scoring] env, prod). Example: --env prod",
        metavar="ENV",
    ),
]
ModelOpt = Annotated[
    Literal["continuous", "stepped"] | None,  # config.model.MODELS (tests/test_cli_help.py)
    typer.Option(
        "--model",
        help="Scoring model: continuous (exact seconds) or stepped (5-minute ticks; default: "
        "[scoring] model). Example: --model stepped",
    ),
]
TopOpt = Annotated[
    int | None,
    typer.Option(
        "--top", help="How many win a prize (default: [scoring] top, 30). Example: --top 30", metavar="N"
    ),
]
OutOpt = Annotated[
    Path,
    typer.Option(
        "--out",
        help="Output folder: the archive (manifest.json, *.parquet, ranking.csv) and the working "
        "store.duckdb. Replaced atomically on success. Example: --out results/ocq2024",
        file_okay=False,
        metavar="DIR",
    ),
]
StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="DuckDB store to use instead of <out>/store.duckdb. Example: --store ocq.duckdb",
        dir_okay=False,
        metavar="FILE",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars and no ranking table.")]
WaitOpt = Annotated[
    str | None,
    typer.Option(
        "--wait",
        help="When another ocq-batch is writing the same --out or --store, wait up to this long for "
        "it to finish (at most 24h) instead of stopping at once. Example: --wait 10m",
        metavar="DURATION",
    ),
]
MAX_WAIT_S = 24 * 3600
FreshOpt = Annotated[
    bool,
    typer.Option(
        "--fresh",
        help="Start a new store: the old one (and a replay folder in --out recorded from another "
        "server) is kept beside it, renamed with the time, e.g. ocq-out-store-20241004T160000Z.duckdb. "
        "Needed to load another event or source into an --out or --store that holds one already.",
    ),
]
ArchiveOpt = Annotated[
    Path | None,
    typer.Option(
        "--archive",
        help="Audit an existing archive (the --out of an export) instead of pulling from a source; "
        "its samples are re-scored with its own settings. Example: --archive results/ocq2024",
        file_okay=False,
        metavar="DIR",
    ),
]


def wait_seconds(text: str | None) -> float:
    """The --wait duration in seconds (0: do not wait); ConfigError naming a bad value."""
    if text is None:
        return 0.0
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"--wait {exc}") from None
    if seconds > MAX_WAIT_S:
        raise ConfigError(f"--wait {text!r} is longer than 24h; wait less, or run the command later")
    return seconds


def say(text: str) -> None:
    """One line on stderr for the user (a wait for a lock, a dead run's lock taken over)."""
    err.print(text)


@contextmanager
def guard() -> Iterator[None]:
    """Map library errors and OS errors to one line and exit 1; SIGINT and SIGTERM (whatever
    they turned into on their way, see :mod:`ocq_batch.signals`) to one line and exit 130 or
    143. The one place that decides what the user reads when a command fails."""
    try:
        yield
    except typer.Exit:
        raise
    except BaseException as exc:
        code = signals.exit_code(exc)
        if code is not None:
            signals.announce(err.print)
            raise typer.Exit(code) from None
        mapped = disk_error(exc) if isinstance(exc, Exception) else None
        if mapped is None:
            raise
        err.print(styled(("error:", "bold red"), " ", str(mapped)))
        raise typer.Exit(1) from None


def command(body: Callable[..., None]) -> Callable[..., None]:
    """A command whose whole body runs inside :func:`guard`: options are read, the library is
    called and the result printed there, so no error of ours escapes as a traceback."""

    @functools.wraps(body)
    def guarded(*args: Any, **kwargs: Any) -> None:
        with guard():
            body(*args, **kwargs)

    return guarded


def _grouped(
    body: Callable[..., None],
    name: str,
    extra: list[inspect.Parameter],
    build: Callable[[dict[str, Any]], Any],
) -> Callable[..., None]:
    """``body`` with the options ``extra`` added after its own; it receives them together as
    one argument ``name``, ``build(values)``.

    typer reads a command's options from its signature, so the wrapper shows the command's
    own parameters (without ``name``) followed by ``extra``.
    """
    own = inspect.signature(body, eval_str=True)  # the Annotated aliases, not their names
    params = [p for key, p in own.parameters.items() if key != name] + extra

    @functools.wraps(body)
    def wrapper(**kwargs: Any) -> None:
        values = {p.name: kwargs.pop(p.name) for p in extra}
        body(**kwargs, **{name: build(values)})

    wrapper.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
    return wrapper


def _keyword(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def _http_params() -> list[inspect.Parameter]:
    """One parameter per HttpOptions field the command line offers, in order, declared from
    the field's metadata (flag, help, bounds)."""
    hints, defaults = get_type_hints(HttpOptions), HttpOptions()
    params = []
    for f in fields(HttpOptions):
        option = f.metadata.get("option")
        if option is None:
            continue
        limits = {k: option[k] for k in ("min", "max", "metavar") if k in option}
        declared = typer.Option(option["flag"], help=option["help"], **limits)
        hint = hints[f.name]
        if "choices" in option:  # listed in --help, refused by the parser (exit 2) when not one
            hint = Literal.__getitem__(tuple(option["choices"]))
        params.append(_keyword(f.name, Annotated[hint, declared], getattr(defaults, f.name)))
    return params


def _http(values: dict[str, Any]) -> HttpOptions:
    return HttpOptions(**{p.name: values[p.name] for p in _http_params()})


def with_http_options(body: Callable[..., None]) -> Callable[..., None]:
    """Give a command the HTTP source options; it receives them together as ``http``, an
    :class:`HttpOptions` whose ``base_url`` is still empty (see :func:`server_options`)."""
    return _grouped(body, "http", _http_params(), _http)


@dataclass(frozen=True)
class RunOptions:
    """The options of a run, as typed: what ``export``, ``audit`` and ``verify`` share."""

    config_path: Path | None
    start: str | None
    end: str | None
    source: str | None
    env: str | None
    model: str | None
    top: int | None
    out_dir: Path
    store: Path | None
    quiet: bool
    wait: str | None
    http: HttpOptions
    fresh: bool = False

    @property
    def overrides(self) -> dict[str, Any]:
        """What the command line overrides in the configuration (None: not given)."""
        return {"env": self.env, "model": self.model, "top": self.top}

    def request(self, xlsx: bool = False) -> RunRequest:
        """The run these options ask for: configuration, window, source, folders."""
        from ocq_batch.config.toml import resolve
        from ocq_batch.jobs.export import RunRequest

        config, window = resolve(self.config_path, self.start, self.end, **self.overrides)
        http = server_options(self.source, self.http)
        wait_s = wait_seconds(self.wait)
        return RunRequest(
            config,
            window,
            self.source,
            http,
            self.out_dir,
            self.store,
            xlsx=xlsx,
            wait_s=wait_s,
            fresh=self.fresh,
            allow_partial=self.http.allow_partial,
        )


_RUN_PARAMS = [
    _keyword("config_path", ConfigOpt, None),
    _keyword("start", FromOpt, None),
    _keyword("end", ToOpt, None),
    _keyword("source", SourceOpt, None),
    _keyword("env", EnvOpt, None),
    _keyword("model", ModelOpt, None),
    _keyword("top", TopOpt, None),
    _keyword("out_dir", OutOpt, Path("ocq-out")),
    _keyword("store", StoreOpt, None),
    _keyword("quiet", QuietOpt, False),
    _keyword("wait", WaitOpt, None),
]
_FRESH = _keyword("fresh", FreshOpt, False)  # export only: audit and verify write no existing store


def with_run_options(body: Callable[..., None], fresh: bool = False) -> Callable[..., None]:
    """Give a command the options of a run (config, window, source, overrides, folders) and
    the HTTP options; it receives them together as ``run``, a :class:`RunOptions`. With
    ``fresh``, also ``--fresh`` (export's: audit and verify never write an existing store)."""
    params = [*_RUN_PARAMS, _FRESH] if fresh else _RUN_PARAMS
    extra = params + _http_params()

    def build(values: dict[str, Any]) -> RunOptions:
        return RunOptions(**{p.name: values[p.name] for p in params}, http=_http(values))

    return _grouped(body, "run", extra, build)


def with_export_options(body: Callable[..., None]) -> Callable[..., None]:
    """:func:`with_run_options` with ``--fresh``."""
    return with_run_options(body, fresh=True)


def is_url(text: str | None) -> bool:
    return bool(text) and str(text).startswith(("http://", "https://"))


# a host name with a dot or a port, and an optional path: what a URL looks like without its scheme
_HOST = re.compile(
    r"^(?:localhost|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+|\[[0-9a-fA-F:]+\])"
    r"(?::\d{1,5})?(?:/\S*)?$"
)
_PORT = re.compile(r"^[^/]+:\d{1,5}(?:/|$)")


def scheme_hint(source: str) -> str | None:
    """'did you mean http://...?' for a --source that is no folder but looks like a server
    without its scheme (``thanos.example.com``, ``127.0.0.1:9090``); None otherwise."""
    text = source.strip()
    if is_url(text) or Path(text).exists() or not (_HOST.match(text) or _PORT.match(text)):
        return None
    host = text.split("/", 1)[0]
    plain = _PORT.match(text) or host.split(":")[0] in ("localhost", "127.0.0.1", "[::1]")
    first, other = ("http", "https") if plain else ("https", "http")
    return (
        f"--source {source!r} is neither a URL nor an existing replay folder: did you mean "
        f"{first}://{text}? (or {other}://{text}; a URL needs its scheme)"
    )


def server_options(source: str | None, http: HttpOptions) -> HttpOptions | None:
    """The HTTP options for ``source`` when it is a URL, else None (a replay folder).

    OCQ_TOKEN is used when it is set and no other credential is named. A bad --compression
    is refused whatever the source, as every other bad option is.
    """
    from ocq_batch.pull.api import check_compression

    check_compression(http.compression)
    if source is not None and (hint := scheme_hint(source)) is not None:
        raise ConfigError(hint)
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


def needs_url(source: str, http: HttpOptions) -> HttpOptions:
    """The HTTP options of a command that only reads from a server (``fetch``)."""
    options = server_options(source, http)
    if options is None:
        raise ConfigError(f"--source {source!r} is not an http(s) URL; fetch reads from a server")
    return options
