"""One ``query_range`` response body into columns: its series and every sample.

:func:`parse_response` takes the fast path of :mod:`ocq_batch.ingest` (no Python object
per sample) whenever it applies, and :func:`parse_response_plain` (orjson, one object per
sample) decides everything else: it keeps every check and error message, and it is the
reference the tests compare the fast path with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from ocq_batch.errors import SourceError
from ocq_batch.ingest import MAX_TS_S, scan_matrix
from ocq_batch.sources import Response

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
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


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

    @property
    def n_samples(self) -> int:
        return len(self.ts_us)

    def sample_series_ids(self) -> np.ndarray:
        return np.repeat(np.asarray(self.series["series_id"], dtype=np.int64), self.counts)


def _where(resp: Response) -> str:
    return f"query {resp.spec.query!r} ({resp.origin})"


def _fetch_id(resp: Response, body_sha: str) -> int:
    return hash64(resp.spec.query, repr(resp.start), repr(resp.end), repr(resp.step), body_sha)


def _series_row(
    ser: dict[str, list[Any]], resp: Response, metric: Any, user_label: str, cluster_label: str
) -> None:
    """Append one series (its labels from the body's ``metric`` object) to the series columns."""
    spec = resp.spec
    labels = {str(k): str(v) for k, v in metric.items()}
    canonical = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()
    ser["series_id"].append(hash64(spec.query, canonical))
    ser["query"].append(spec.query)
    ser["query_key"].append(spec.key)
    ser["metric"].append(labels.get("__name__", spec.query))
    ser["component"].append(spec.component)
    ser["exercise"].append(spec.exercise)
    ser["env"].append(spec.env)
    ser["user"].append(labels.get(user_label))
    ser["cluster"].append(labels.get(cluster_label))
    ser["labels"].append(canonical)


def parse_response(resp: Response, user_label: str, cluster_label: str) -> Parsed:
    """Parse one ``query_range`` body; the fast path of :mod:`ocq_batch.ingest` when it applies.

    Gives exactly what :func:`parse_response_plain` gives, and raises the same errors
    (the plain parser decides every body the fast path does not accept).
    """
    scanned = resp.scanned if resp.scanned is not None else scan_matrix(resp.body)
    if scanned is None:
        return parse_response_plain(resp, user_label, cluster_label)
    ser: dict[str, list[Any]] = {name: [] for name in SERIES_SCHEMA.names}
    try:
        for item in scanned.result:
            _series_row(ser, resp, item["metric"], user_label, cluster_label)
    except (KeyError, TypeError, ValueError, AttributeError):
        return parse_response_plain(resp, user_label, cluster_label)
    sha = resp.body_sha256()
    return Parsed(
        _fetch_id(resp, sha), sha, ser, scanned.counts, scanned.ts_us, scanned.values, scanned.warnings
    )


def parse_response_plain(resp: Response, user_label: str, cluster_label: str) -> Parsed:
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
        raise SourceError(f"{where}: expected a matrix result from query_range, got {got!r}")
    warnings = [str(w) for w in doc.get("warnings") or []]
    body_sha = resp.body_sha256()
    ser: dict[str, list[Any]] = {name: [] for name in SERIES_SCHEMA.names}
    counts: list[int] = []
    all_ts: list[int] = []
    all_values: list[float] = []
    for item in data["result"]:
        try:
            values = item["values"]
            ts = [_timestamp_us(v[0]) for v in values]
            vals = [_number(v[1]) for v in values]
            _series_row(ser, resp, item["metric"], user_label, cluster_label)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            raise SourceError(f"{where}: a series in the response is malformed; fetch it again") from None
        counts.append(len(ts))
        all_ts.extend(ts)
        all_values.extend(vals)
    return Parsed(
        _fetch_id(resp, body_sha),
        body_sha,
        ser,
        np.array(counts, dtype=np.int64),
        np.array(all_ts, dtype=np.int64),
        np.array(all_values, dtype=np.float64),
        warnings,
    )


def _timestamp_us(value: Any) -> int:
    """A sample's timestamp in microseconds; ValueError beyond year 5000 (or not a number)."""
    seconds = float(value)
    if not abs(seconds) < MAX_TS_S:  # also NaN and the infinities
        raise ValueError(f"timestamp {value!r} out of range")
    return round(seconds * 1_000_000)


def _number(text: Any) -> float:
    """Prometheus sends values as strings; anything non-numeric is a gap (NaN)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")
