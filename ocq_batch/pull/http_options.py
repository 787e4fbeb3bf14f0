"""How to reach a Prometheus or Thanos server: :class:`HttpOptions`, with no HTTP client.

The command line declares its HTTP options from these fields (:mod:`ocq_batch.cli.options`),
and ``--help`` must not import httpx, so the settings live apart from
:mod:`ocq_batch.pull.client`, which sends the requests. No secret is ever held here, only
where to find it (an environment variable's name, a file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_SECRET_PARAM = re.compile(r"(?i)([?&](?:access_token|token|password|passwd|secret|api_?key)=)[^&#\s]*")


COMPRESSIONS = ("auto", "gzip", "none")  # what --compression takes (checked by pull.api too)


def _option(flag: str, help: str, **limits: Any) -> dict[str, Any]:
    """How a setting is given on the command line (:mod:`ocq_batch.cli.options` reads it):
    its flag, its help text, ``min``/``max`` bounds, its ``metavar`` and its ``choices``."""
    return {"option": {"flag": flag, "help": help, **limits}}


@dataclass(frozen=True, repr=False)
class HttpOptions:
    """How to reach and query the server; times in seconds. Holds no secret, only where to find it.

    The fields with an ``option`` in their metadata are the command line's HTTP options, in
    this order; ``base_url`` is the ``--source`` URL (empty until the source is known).
    """

    base_url: str = ""
    token_env: str | None = field(default=None, metadata=_option(
        "--token-env",
        "Environment variable holding the bearer token (default: OCQ_TOKEN when it is set). "
        "Example: --token-env OCQ_TOKEN  (export OCQ_TOKEN=$(oc whoami -t))",
        metavar="NAME",
    ))  # fmt: skip
    token_file: Path | None = field(default=None, metadata=_option(
        "--token-file", "File holding the bearer token. Example: --token-file ~/.ocq-token", metavar="FILE"
    ))  # fmt: skip
    ca_file: Path | None = field(default=None, metadata=_option(
        "--ca-file",
        "CA bundle to verify the server's TLS certificate (e.g. the OpenShift router CA). "
        "Example: --ca-file router-ca.crt",
        metavar="FILE",
    ))  # fmt: skip
    insecure: bool = field(default=False, metadata=_option(
        "--insecure", "Do not verify the server's TLS certificate (prints a warning)."
    ))  # fmt: skip
    allow_partial: bool = field(default=False, metadata=_option(
        "--allow-partial",
        "Accept responses carrying Thanos warnings (partial data), from the server or recorded in a "
        "replay folder; they are listed in the manifest and marked in the replay index, and a later "
        "run against the server without this option fetches them again.",
    ))  # fmt: skip
    dedup: bool | None = field(default=None, metadata=_option(
        "--dedup/--no-dedup", "Send Thanos dedup=true/false (default: not sent, the querier's default)."
    ))  # fmt: skip
    concurrency: int = field(default=4, metadata=_option(
        "--concurrency", "Requests in flight at once. Example: --concurrency 4", min=1, max=32, metavar="N"
    ))  # fmt: skip
    request_timeout_s: float = field(default=60.0, metadata=_option(
        "--timeout", "Seconds allowed for one request. Example: --timeout 60", min=1, metavar="SECONDS"
    ))  # fmt: skip
    refetch: bool = field(default=False, metadata=_option(
        "--refetch",
        "Fetch every chunk again, even those already recorded and settled (chunks recorded "
        "less than 15 minutes after their end are always fetched again).",
    ))  # fmt: skip
    basic_user: str | None = field(default=None, metadata=_option(
        "--basic-user", "User for HTTP basic auth (instead of a token). Example: --basic-user jury",
        metavar="NAME",
    ))  # fmt: skip
    basic_password_env: str | None = field(default=None, metadata=_option(
        "--basic-password-env",
        "Environment variable holding the basic-auth password. Example: --basic-password-env OCQ_PASSWORD",
        metavar="NAME",
    ))  # fmt: skip
    compression: str = field(default="auto", metadata=_option(
        "--compression",
        "Ask the server for gzip or none. auto: none on a loopback address (127.0.0.1, "
        "localhost), where compressing only costs CPU; gzip elsewhere. Example: --compression gzip",
        choices=COMPRESSIONS,
    ))  # fmt: skip
    partial_response: bool = False
    max_source_resolution: str = "0s"
    total_timeout_s: float = 1800.0
    max_retries: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_points: int = 11000
    settle_s: float = 900.0

    def __repr__(self) -> str:
        return f"HttpOptions(base_url={redact_url(self.base_url)!r}, token_env={self.token_env!r})"


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` and secret-looking query parameters replaced by ``***``."""
    return _SECRET_PARAM.sub(r"\1***", _USERINFO.sub(r"\1***@", url))
