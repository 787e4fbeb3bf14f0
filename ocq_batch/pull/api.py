"""The Prometheus HTTP API without a transport: how a window is split into requests, and
what an answer means.

A plain selector is read as the samples the TSDB stores: an instant query of the range
selector ``<selector>[<range>]`` at the end of each chunk answers every stored sample of
the chunk, at its own time, with no lookback (a gap stays a gap). :func:`raw_chunks` splits
a window into such chunks: consecutive, each ``(start, end]``, the first one reaching 1 ms
before the window so that a sample at its very start is included (range selectors are
closed in Prometheus 2, left-open in 3: the loader keeps exactly ``(start, end]`` either way).
An expression has no stored samples: :func:`chunk_range` plans its ``query_range`` requests
(no overlap, no hole, under the 11,000 points per series limit). :func:`plan_requests` is the
whole plan of a window. :func:`check_body` decides whether a 200 body is a usable answer, a
failure worth retrying (:class:`TransientError`) or one that stops the run (SourceError).
:mod:`ocq_batch.pull.client` sends the requests; the simulator plans its bodies with the
same functions, without importing an HTTP client.
"""

from __future__ import annotations

import email.utils
import itertools
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from ocq_batch.errors import ConfigError, SourceError, TransientError, WindowError
from ocq_batch.pull.http_options import COMPRESSIONS
from ocq_batch.pull.queries import QuerySpec
from ocq_batch.pull.scan import Scanned, scan_matrix

RAW = 0.0  # the step of a raw request: every stored sample, no grid
DEFAULT_CHUNK_S = 6 * 3600.0  # a raw request's range: 6 h is 10,800 samples per series at 2 s


@dataclass(frozen=True)
class Request:
    """One request of a plan: ``spec`` over ``(start, end]`` (unix s, ms precision).

    ``step == RAW``: the stored samples of the range (an instant query of
    ``<selector>[<end - start>]`` at ``end``). ``step > 0``: a ``query_range`` of the closed
    range ``[start, end]`` on that grid (an expression).
    """

    spec: QuerySpec
    start: float
    end: float
    step: float

    @property
    def raw(self) -> bool:
        return self.step == RAW

    @property
    def key(self) -> tuple[str, float, float, float]:
        """What identifies the request in a replay folder."""
        return (self.spec.query, self.start, self.end, self.step)


def _ms(t: float) -> float:
    return round(t * 1000) / 1000


def raw_chunks(start: float, end: float, chunk_s: float = DEFAULT_CHUNK_S) -> list[tuple[float, float]]:
    """Consecutive ``(a, b]`` ranges covering the window ``[start, end]`` (unix s), each at most
    ``chunk_s`` long (the first 1 ms longer: it starts 1 ms before the window), on whole ms."""
    if not chunk_s > 0 or not math.isfinite(chunk_s):
        raise ConfigError(f"the chunk length {chunk_s!r} s must be a positive number of seconds")
    if end < start:
        raise WindowError(f"the window ends ({end:g}) before it starts ({start:g}); swap --from and --to")
    first, last = _ms(start - 0.001), _ms(end)
    bounds = [first]
    while bounds[-1] + chunk_s < last - 1e-6:
        bounds.append(_ms(bounds[-1] + chunk_s))
    bounds.append(last)
    return list(itertools.pairwise(bounds))


def plan_requests(
    specs: list[QuerySpec], start: float, end: float, step_s: float, chunk_s: float = DEFAULT_CHUNK_S,
    max_points: int = 11000,
) -> list[Request]:  # fmt: skip
    """Every request of a window, raw queries first (in spec order), then the expressions
    (``query_range`` at ``step_s``)."""
    raw = [
        Request(s, a, b, RAW) for s in specs if s.mode == "raw" for a, b in raw_chunks(start, end, chunk_s)
    ]
    grid = [
        Request(s, a, b, step_s)
        for s in specs
        if s.mode != "raw"
        for a, b in chunk_range(start, end, step_s, max_points)
    ]
    return raw + grid


def range_selector(query: str, start: float, end: float) -> str:
    """The range selector reading ``query``'s stored samples in ``(start, end]`` at ``end``."""
    return f"{query}[{round((end - start) * 1000)}ms]"


def num(x: float) -> str:
    """A number as Prometheus reads it: ``1700000000`` on whole seconds, else the float."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def wire_form(query: str, start: float, end: float, step: float) -> tuple[str, dict[str, str]]:
    """The HTTP API path and form of one request (Thanos' parameters aside): for ``step ==
    RAW`` an instant query of the range selector at ``end``, else a ``query_range``. The client
    sends these; the benchmarks' curl and httpx baselines send the very same."""
    if step == RAW:
        return "/api/v1/query", {"query": range_selector(query, start, end), "time": num(end)}
    return "/api/v1/query_range", {"query": query, "start": num(start), "end": num(end), "step": num(step)}


def check_compression(compression: str) -> str:
    """``compression`` when it is one of :data:`COMPRESSIONS`; ConfigError naming it otherwise."""
    if compression not in COMPRESSIONS:
        raise ConfigError(f"--compression {compression!r} is unknown; use one of {', '.join(COMPRESSIONS)}")
    return compression


def chunk_range(start: float, end: float, step: float, max_points: int = 11000) -> list[tuple[float, float]]:
    """Split the ``query_range`` window ``[start, end]`` (unix s, both included) into requests.

    The single request would return the points ``start + k*step`` for
    ``k = 0 .. floor((end - start) / step)``. Each chunk ``(a, b)`` returns at
    most ``max_points`` of them per series (``(b - a) / step <= max_points - 1``,
    safely under Prometheus' ``(end - start) / step > 11000`` rejection). Chunk
    starts sit on that grid, the next chunk starts one step after the previous
    one ends, and the last chunk ends at ``end`` itself, so the union of the
    chunks' points is exactly the single request's points, without duplicates.
    """
    if not step > 0 or not math.isfinite(step):
        raise ConfigError(
            f"the query step {step!r} s must be a positive number of seconds; fix [source] step"
        )
    if max_points < 1:
        raise ConfigError(f"max_points {max_points!r} must be at least 1")
    if end < start:
        raise WindowError(f"the window ends ({end:g}) before it starts ({start:g}); swap --from and --to")
    n_points = math.floor((end - start) / step + 1e-9) + 1
    chunks: list[tuple[float, float]] = []
    for first in range(0, n_points, max_points):
        last = first + max_points - 1
        chunk_end = end if last >= n_points - 1 else start + last * step
        chunks.append((start + first * step, chunk_end))
    return chunks


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_text(body: bytes) -> tuple[str, str] | None:
    """``(errorType, error)`` of a Prometheus error body, or None when it is not one."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(doc, dict) and doc.get("status") == "error":
        return str(doc.get("errorType", "unknown")), str(doc.get("error", ""))
    return None


def looks_like_html(body: bytes) -> bool:
    """Whether a body is an HTML page (a login form, a proxy's error page), not JSON."""
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<?xml"))


def check_body(
    body: bytes, query: str, result_types: frozenset[str], allow_partial: bool
) -> tuple[list[str], Scanned | None]:
    """Validate a successful API body; return its ``warnings``, and the scanned matrix.

    Raises :class:`TransientError` for a body that is not JSON (a truncated answer)
    and SourceError for an error status, an unexpected result type, or
    warnings when partial answers are not allowed.
    """
    # a well-formed matrix is validated by the streaming scanner, without a Python object per
    # sample, and the loader reuses the scan; anything the scanner does not fully accept goes
    # through the complete parse below
    scanned = scan_matrix(body) if "matrix" in result_types else None
    if scanned is not None:
        return _allowed(scanned.warnings, query, allow_partial), scanned
    if looks_like_html(body):  # not a truncated answer: asking again gets the same page
        raise SourceError(
            f"the server answered HTML, not the Prometheus API, to query {query!r}: a login page? "
            "check the URL (the querier's base URL) and the token"
        )
    try:
        doc: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise TransientError(
            f"HTTP 200 with a body that is not valid JSON ({len(body)} bytes, truncated?: {exc})"
        ) from None
    if not isinstance(doc, dict):
        raise SourceError(f"the answer to query {query!r} is not a Prometheus API response")
    if doc.get("status") != "success":
        kind, text = str(doc.get("errorType", "unknown")), str(doc.get("error", ""))
        if kind in ("bad_data", "execution"):
            raise SourceError(
                f"the server rejected query {query!r}: {kind}: {text}; fix the query in [queries]"
            )
        raise TransientError(f"status {doc.get('status')!r}: {kind}: {text}")
    data = doc.get("data")
    result_type = data.get("resultType") if isinstance(data, dict) else None
    if result_type not in result_types:
        expected = " or ".join(sorted(result_types))
        raise SourceError(
            f"the answer to query {query!r} has resultType {result_type!r}, expected {expected}; "
            "is the base URL a Prometheus or Thanos querier?"
        )
    return _allowed([str(w) for w in doc.get("warnings") or []], query, allow_partial), None


def _allowed(warnings: list[str], query: str, allow_partial: bool) -> list[str]:
    """The warnings of an answer, or SourceError when partial answers are not allowed."""
    if warnings and not allow_partial:
        raise SourceError(
            f"the answer to query {query!r} is partial: {warnings[0]}; make every store reachable "
            "or, knowing data may be missing, allow partial answers (--allow-partial)"
        )
    return warnings
