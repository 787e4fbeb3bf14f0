"""One response body (a matrix: stored samples, or a ``query_range``) into columns: its series
and every sample, kept to its request's range.

:func:`parse_response` takes the fast path of :mod:`ocq_batch.pull.scan` (no Python object
per sample) whenever it applies, and :func:`parse_response_plain` (orjson, one object per
sample) decides everything else: it keeps every check and error message, and it is the
reference the tests compare the fast path with.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from ocq_batch.errors import SourceError
from ocq_batch.pull.scan import MAX_TS_S, scan_matrix
from ocq_batch.pull.source import Response
from ocq_batch.timeutil import from_epoch, iso

SERIES_SCHEMA = pa.schema(
    [
        ("series_id", pa.int64()),
        ("query", pa.string()),
        ("query_key", pa.string()),
        ("metric", pa.string()),
        ("component", pa.string()),
        ("exercise", pa.string()),
        ("env", pa.string()),
        ("user", pa.string()),
        ("cluster", pa.string()),
        ("labels", pa.string()),
    ]
)


def hash64(*parts: str) -> int:
    """A stable signed 64-bit id of a tuple of strings."""
    return _int64(hashlib.sha256("\x00".join(parts).encode()))


def hash64_after(first: str) -> Callable[[bytes], int]:
    """``hash64(first, rest)`` for many a ``rest`` (given UTF-8 encoded), with ``first``'s part
    of the hash computed once."""
    head = hashlib.sha256((first + "\x00").encode())

    def of(rest: bytes) -> int:
        digest = head.copy()
        digest.update(rest)
        return _int64(digest)

    return of


def _int64(digest: Any) -> int:
    """The first eight bytes of a finished hash, as a signed 64-bit integer."""
    return int.from_bytes(digest.digest()[:8], "big", signed=True)


@dataclass
class Parsed:
    """One response as columns: its series (one row each, body order) and every sample.

    ``counts[i]`` samples belong to series ``i``; ``ts_us`` (int64 microseconds) and
    ``values`` (float64) hold them series after series, in body order.
    """

    fetch_id: int
    body_sha256: str
    series: dict[str, list[Any]]
    counts: np.ndarray
    ts_us: np.ndarray
    values: np.ndarray
    warnings: list[str]
    outside: int = 0  # samples of the body outside its request's range, not kept (chunk edges)

    @property
    def n_samples(self) -> int:
        return len(self.ts_us)

    def sample_series_ids(self) -> np.ndarray:
        return np.repeat(np.asarray(self.series["series_id"], dtype=np.int64), self.counts)


def _where(resp: Response) -> str:
    return f"query {resp.spec.query!r} ({resp.origin})"


def _fetch_id(resp: Response, body_sha: str) -> int:
    return hash64(resp.spec.query, repr(resp.start), repr(resp.end), repr(resp.step), body_sha)


# the label holding a raw series' namespace, and the regex whose first group is its user
Namespace = tuple[str, str]


@functools.cache
def _user_of(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _series_columns(
    resp: Response,
    metrics: list[Any],
    user_label: str,
    cluster_label: str,
    namespace: Namespace | None = None,
) -> dict[str, list[Any]]:
    """The series columns of one response, a row per ``metric`` object of its body.

    Raises KeyError, TypeError, ValueError or AttributeError for a ``metric`` that is not
    a label object. The id is :func:`hash64` of the query and the canonical labels, with the
    query's part of the hash computed once per response.
    """
    spec = resp.spec
    raw_family = spec.component.startswith("raw_")
    series_id = hash64_after(spec.query)
    dumps, sort = orjson.dumps, orjson.OPT_SORT_KEYS
    ids: list[int] = []
    names: list[str] = []
    users: list[str | None] = []
    clusters: list[str | None] = []
    canonicals: list[str] = []
    for metric in metrics:
        labels = {str(k): str(v) for k, v in metric.items()}
        canonical = dumps(labels, option=sort)
        ids.append(series_id(canonical))
        names.append(labels.get("__name__", spec.query))
        user = labels.get(user_label)
        if raw_family:  # kube-state-metrics have no user label: the user is in the namespace
            found = _user_of(namespace[1]).match(labels.get(namespace[0], "")) if namespace else None
            user = found.group(1) if found else None
        users.append(user)
        clusters.append(labels.get(cluster_label))
        canonicals.append(canonical.decode())
    n = len(ids)
    return {
        "series_id": ids,
        "query": [spec.query] * n,
        "query_key": [spec.key] * n,
        "metric": names,
        "component": [spec.component] * n,
        "exercise": [spec.exercise] * n,
        "env": [spec.env] * n,
        "user": users,
        "cluster": clusters,
        "labels": canonicals,
    }


def parse_response(
    resp: Response, user_label: str, cluster_label: str, namespace: Namespace | None = None
) -> Parsed:
    """Parse one matrix body; the fast path of :mod:`ocq_batch.pull.scan` when it applies.

    Gives exactly what :func:`parse_response_plain` gives, and raises the same errors
    (the plain parser decides every body the fast path does not accept).
    """
    scanned = resp.scanned if resp.scanned is not None else scan_matrix(resp.body)
    if scanned is None:
        return parse_response_plain(resp, user_label, cluster_label, namespace)
    try:
        metrics = [item["metric"] for item in scanned.result]
        ser = _series_columns(resp, metrics, user_label, cluster_label, namespace)
    except (KeyError, TypeError, ValueError, AttributeError):
        return parse_response_plain(resp, user_label, cluster_label, namespace)
    sha = resp.body_sha256()
    return _within_request(
        resp,
        Parsed(
            _fetch_id(resp, sha), sha, ser, scanned.counts, scanned.ts_us, scanned.values, scanned.warnings
        ),
    )


def parse_response_plain(
    resp: Response, user_label: str, cluster_label: str, namespace: Namespace | None = None
) -> Parsed:
    """The reference parser: orjson, then one Python object per sample.

    Raises SourceError naming the query when the body is not a successful matrix.
    """
    where = _where(resp)
    try:
        doc = orjson.loads(resp.body)
    except orjson.JSONDecodeError as exc:
        raise SourceError(f"{where}: the response is not JSON ({exc}); fetch it again") from None
    if not isinstance(doc, dict) or doc.get("status") != "success":
        err = doc.get("error") if isinstance(doc, dict) else None
        kind = doc.get("errorType") if isinstance(doc, dict) else None
        raise SourceError(f"{where}: the server answered {kind or 'an error'}: {err or str(doc)[:200]}")
    data = doc.get("data")
    if (
        not isinstance(data, dict)
        or data.get("resultType") != "matrix"
        or not isinstance(data.get("result"), list)
    ):
        got = data.get("resultType") if isinstance(data, dict) else type(data).__name__
        raise SourceError(f"{where}: expected a matrix result, got {got!r}")
    warnings = [str(w) for w in doc.get("warnings") or []]
    body_sha = resp.body_sha256()
    metrics: list[Any] = []
    counts: list[int] = []
    all_ts: list[int] = []
    all_values: list[float] = []
    malformed = SourceError(f"{where}: a series in the response is malformed; fetch it again")
    for item in data["result"]:
        try:
            values = item["values"]
            ts = [_timestamp_us(v[0]) for v in values]
            vals = [_number(v[1]) for v in values]
            metrics.append(item["metric"])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            raise malformed from None
        except _NotANumber:
            bad = next(v for v in values if not _is_number(v[1]))
            raise SourceError(_not_a_number(resp, item, bad)) from None
        counts.append(len(ts))
        all_ts.extend(ts)
        all_values.extend(vals)
    try:
        ser = _series_columns(resp, metrics, user_label, cluster_label, namespace)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise malformed from None
    parsed = Parsed(
        _fetch_id(resp, body_sha),
        body_sha,
        ser,
        np.array(counts, dtype=np.int64),
        np.array(all_ts, dtype=np.int64),
        np.array(all_values, dtype=np.float64),
        warnings,
    )
    return _within_request(resp, parsed)


def _within_request(resp: Response, parsed: Parsed) -> Parsed:
    """The samples of a raw response that belong to its request, ``(start, end]``.

    Range selectors are closed at both ends in Prometheus 2 (left-open in 3), so two
    consecutive chunks can both answer the sample at their shared edge: the later one drops
    it (counted in ``outside``). A ``query_range`` answer is kept whole.
    """
    if not resp.raw or parsed.n_samples == 0:
        return parsed
    lo, hi = round(resp.start * 1_000_000), round(resp.end * 1_000_000)
    keep = (parsed.ts_us > lo) & (parsed.ts_us <= hi)
    if keep.all():
        return parsed
    series_of = np.repeat(np.arange(len(parsed.counts)), parsed.counts)
    counts = np.bincount(series_of[keep], minlength=len(parsed.counts)).astype(np.int64)
    outside = int(parsed.n_samples - np.count_nonzero(keep))
    return Parsed(
        parsed.fetch_id, parsed.body_sha256, parsed.series, counts, parsed.ts_us[keep], parsed.values[keep],
        parsed.warnings, outside,
    )  # fmt: skip


def _timestamp_us(value: Any) -> int:
    """A sample's timestamp in microseconds; ValueError beyond year 5000 (or not a number)."""
    seconds = float(value)
    if not abs(seconds) < MAX_TS_S:  # also NaN and the infinities
        raise ValueError(f"timestamp {value!r} out of range")
    return round(seconds * 1_000_000)


def selector(metric: str, labels: Mapping[str, Any]) -> str:
    """A series as PromQL writes it, ``metric{label="value", ...}``: the labels sorted, without
    ``__name__``, quotes and backslashes escaped, matchers separated by ", " (the form of the
    findings' ``selector`` macro in ``sql/audit/10_findings.sql``)."""
    inner = ", ".join(f'{k}="{_promql_str(str(v))}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{metric}{{{inner}}}"


def _promql_str(value: str) -> str:
    """``value`` inside a PromQL double-quoted string."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


class _NotANumber(Exception):
    """A sample value that is no number (Prometheus writes ``"1"``, ``"0.5"``, ``"NaN"``)."""


def _number(text: Any) -> float:
    """Prometheus sends values as strings of numbers (``NaN`` is a gap); a value such as
    ``"one"`` is not one of them (:class:`_NotANumber`), never read as a gap."""
    if not isinstance(text, str):
        raise _NotANumber
    try:
        return float(text)
    except ValueError:
        raise _NotANumber from None


def _is_number(text: Any) -> bool:
    try:
        _number(text)
    except _NotANumber:
        return False
    return True


def _not_a_number(resp: Response, item: dict[str, Any], sample: Any) -> str:
    """The one line for a sample whose value is not a number: the series, the time, the value."""
    found = item.get("metric")
    metric: dict[str, Any] = found if isinstance(found, dict) else {}
    name = str(metric.get("__name__", resp.spec.query))
    try:
        at = iso(from_epoch(float(sample[0])))
    except (TypeError, ValueError, IndexError, OverflowError):
        at = repr(sample[0])
    return (
        f"{_where(resp)}: series {selector(name, metric)} has the value {sample[1]!r} at {at}, which is "
        "not a number; the source answered something no Prometheus sends: fix it, then fetch again "
        "(with --refetch when the answer was recorded)"
    )
