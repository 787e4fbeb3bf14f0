"""Option declarations shared by the commands, how they become library objects, and the guard
that turns a library error into one line and exit code 1."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from ocq_batch.errors import OcqError
from ocq_batch.render import err

if TYPE_CHECKING:
    from ocq_batch.http import HttpOptions  # httpx: imported only when the source is a URL

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
TokenEnvOpt = Annotated[
    str | None,
    typer.Option(
        "--token-env",
        help="Environment variable holding the bearer token (default: OCQ_TOKEN when it is set). "
        "Example: --token-env OCQ_TOKEN  (export OCQ_TOKEN=$(oc whoami -t))",
    ),
]
TokenFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help="File holding the bearer token. Example: --token-file ~/.ocq-token",
        dir_okay=False,
    ),
]
CaFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca-file",
        help="CA bundle to verify the server's TLS certificate (e.g. the OpenShift router CA). "
        "Example: --ca-file router-ca.crt",
        dir_okay=False,
    ),
]
InsecureOpt = Annotated[
    bool, typer.Option("--insecure", help="Do not verify the server's TLS certificate (prints a warning).")
]
AllowPartialOpt = Annotated[
    bool,
    typer.Option(
        "--allow-partial",
        help="Accept responses carrying Thanos warnings (partial data); they are recorded in the manifest.",
    ),
]
DedupOpt = Annotated[
    bool | None,
    typer.Option(
        "--dedup/--no-dedup",
        help="Send Thanos dedup=true/false (default: not sent, the querier's default).",
    ),
]
ConcurrencyOpt = Annotated[
    int,
    typer.Option("--concurrency", min=1, max=32, help="Requests in flight at once. Example: --concurrency 4"),
]
RefetchOpt = Annotated[
    bool,
    typer.Option(
        "--refetch",
        help="Fetch every chunk again, even those already recorded and settled (chunks recorded "
        "less than 15 minutes after their end are always fetched again).",
    ),
]
BasicUserOpt = Annotated[
    str | None,
    typer.Option(
        "--basic-user", help="User for HTTP basic auth (instead of a token). Example: --basic-user jury"
    ),
]
BasicPasswordEnvOpt = Annotated[
    str | None,
    typer.Option(
        "--basic-password-env",
        help="Environment variable holding the basic-auth password. "
        "Example: --basic-password-env OCQ_PASSWORD",
    ),
]
TimeoutOpt = Annotated[
    float,
    typer.Option("--timeout", min=1, help="Seconds allowed for one request. Example: --timeout 60"),
]
CompressionOpt = Annotated[
    str,
    typer.Option(
        "--compression",
        help="Ask the server for gzip or none. auto: none on a loopback address (127.0.0.1, "
        "localhost), where compressing only costs CPU; gzip elsewhere. Example: --compression gzip",
    ),
]
ArchiveOpt = Annotated[
    Path | None,
    typer.Option(
        "--archive",
        help="Audit an existing archive (the --out of an export) instead of pulling from a source; "
        "its samples are re-scored with its own settings. Example: --archive results/ocq2024",
        file_okay=False,
    ),
]


@dataclass(frozen=True)
class HttpArgs:
    """The HTTP source options as typed, before the source is known to be a URL."""

    token_env: str | None = None
    token_file: Path | None = None
    ca_file: Path | None = None
    insecure: bool = False
    allow_partial: bool = False
    dedup: bool | None = None
    concurrency: int = 4
    timeout: float = 60.0
    refetch: bool = False
    basic_user: str | None = None
    basic_password_env: str | None = None
    compression: str = "auto"


# how each HttpArgs field is declared on the command line, in --help order
_HTTP_OPTIONS: dict[str, Any] = {
    "token_env": TokenEnvOpt,
    "token_file": TokenFileOpt,
    "ca_file": CaFileOpt,
    "insecure": InsecureOpt,
    "allow_partial": AllowPartialOpt,
    "dedup": DedupOpt,
    "concurrency": ConcurrencyOpt,
    "timeout": TimeoutOpt,
    "refetch": RefetchOpt,
    "basic_user": BasicUserOpt,
    "basic_password_env": BasicPasswordEnvOpt,
    "compression": CompressionOpt,
}


def with_http_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` the HTTP source options, which it receives together as ``http_args``.

    typer reads a command's options from its signature, so the wrapper shows the command's
    own parameters (without ``http_args``) followed by one parameter per HttpArgs field.
    """
    own = inspect.signature(command, eval_str=True)  # the Annotated aliases, not their names
    defaults = HttpArgs()
    params = [p for name, p in own.parameters.items() if name != "http_args"]
    params += [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=_HTTP_OPTIONS[f.name],
            default=getattr(defaults, f.name),
        )
        for f in fields(HttpArgs)
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        http_args = HttpArgs(**{f.name: kwargs.pop(f.name) for f in fields(HttpArgs)})
        command(**kwargs, http_args=http_args)

    wrapper.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
    return wrapper


def http_options(url: str | None, args: HttpArgs) -> HttpOptions | None:
    """HTTP options from the command line, or None when the source is not a URL.

    OCQ_TOKEN is used when it is set and no other credential is named. A bad --compression
    is refused whatever the source, as every other bad option is.
    """
    from ocq_batch.promapi import check_compression

    check_compression(args.compression)
    if url is None or not is_url(url):
        return None
    from ocq_batch.http import HttpOptions

    token_env = args.token_env
    if (
        token_env is None
        and args.token_file is None
        and args.basic_user is None
        and os.environ.get(DEFAULT_TOKEN_ENV, "").strip()
    ):
        token_env = DEFAULT_TOKEN_ENV
    if args.insecure:
        err.print("warning: --insecure: the server's TLS certificate is not verified")
    return HttpOptions(
        base_url=url,
        token_env=token_env,
        token_file=args.token_file,
        ca_file=args.ca_file,
        insecure=args.insecure,
        allow_partial=args.allow_partial,
        dedup=args.dedup,
        concurrency=args.concurrency,
        request_timeout_s=args.timeout,
        refetch=args.refetch,
        basic_user=args.basic_user,
        basic_password_env=args.basic_password_env,
        compression=args.compression,
    )


def is_url(text: str | None) -> bool:
    return bool(text) and str(text).startswith(("http://", "https://"))


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
