"""The DuckDB store: raw samples with provenance, insert-only and idempotent.

Responses are parsed into Arrow batches and appended with an anti-join on the
natural keys, so loading the same data twice (or overlapping chunks) changes
nothing. Label values and query strings only ever reach DuckDB as loaded data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from ocq_batch.errors import SourceError, StoreError
from ocq_batch.paths import sql_text
from ocq_batch.sources import Response

SCHEMA_VERSION = 1
BATCH_SAMPLES = 500_000

_SERIES_SCHEMA = pa.schema(
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
_SAMPLES_SCHEMA = pa.schema(
    [
        ("series_id", pa.int64()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("value", pa.float64()),
        ("fetch_id", pa.int64()),
    ]
)


def _hash64(*parts: str) -> int:
    """A stable signed 64-bit id of a tuple of strings."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass
class LoadStats:
    """What one load did: responses seen and skipped, rows actually added."""

    responses: int = 0
    responses_skipped: int = 0
    series_added: int = 0
    samples_added: int = 0
    samples_seen: int = 0
    warnings: list[str] = field(default_factory=list)


def open_store(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (or create) the store at ``path`` and check its schema version."""
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise StoreError(
            f"cannot open store {path}: {str(exc).splitlines()[0]}; "
            "is another ocq-batch using it? Wait for it or pass another --out"
        ) from None
    except duckdb.Error as exc:
        raise StoreError(
            f"{path} is not a DuckDB store ({str(exc).splitlines()[0]}); pass another --out"
        ) from None
    con.execute("set TimeZone = 'UTC'")
    if read_only:
        _check_version(con, path)
        return con
    has_meta = con.execute(
        "select count(*) from information_schema.tables where table_name = 'meta'"
    ).fetchone()
    if has_meta and has_meta[0]:
        _check_version(con, path)
    else:
        con.execute(sql_text("schema.sql"))
        con.execute("insert into meta values ('schema_version', ?)", [str(SCHEMA_VERSION)])
    return con


def _check_version(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    row = con.execute("select value from meta where key = 'schema_version'").fetchone()
    if row is None or row[0] != str(SCHEMA_VERSION):
        found = row[0] if row else "none"
        raise StoreError(
            f"store {path} has schema version {found}, this ocq-batch writes {SCHEMA_VERSION}; "
            "pass a new --out (the old store stays readable by the version that wrote it)"
        )


def parse_response(
    resp: Response, user_label: str, cluster_label: str
) -> tuple[int, dict[str, list[Any]], dict[str, list[Any]], list[str]]:
    """Parse one ``query_range`` body into column lists for series and samples.

    Returns (fetch_id, series columns, sample columns, warnings). Raises
    SourceError naming the query when the body is not a successful matrix.
    """
    where = f"query {resp.spec.query!r} ({resp.origin})"
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
    body_sha = hashlib.sha256(resp.body).hexdigest()
    fetch_id = _hash64(resp.spec.query, repr(resp.start), repr(resp.end), repr(resp.step), body_sha)
    spec = resp.spec
    ser: dict[str, list[Any]] = {name: [] for name in _SERIES_SCHEMA.names}
    smp: dict[str, list[Any]] = {name: [] for name in _SAMPLES_SCHEMA.names}
    for item in data["result"]:
        try:
            labels = {str(k): str(v) for k, v in item["metric"].items()}
            values = item["values"]
            canonical = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()
            sid = _hash64(spec.query, canonical)
            ts = [round(float(v[0]) * 1_000_000) for v in values]
            vals = [_number(v[1]) for v in values]
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            raise SourceError(f"{where}: a series in the response is malformed; fetch it again") from None
        ser["series_id"].append(sid)
        ser["query"].append(spec.query)
        ser["query_key"].append(spec.key)
        ser["metric"].append(labels.get("__name__", spec.query))
        ser["component"].append(spec.component)
        ser["exercise"].append(spec.exercise)
        ser["env"].append(spec.env)
        ser["user"].append(labels.get(user_label))
        ser["cluster"].append(labels.get(cluster_label))
        ser["labels"].append(canonical)
        smp["series_id"].extend([sid] * len(ts))
        smp["ts"].extend(ts)
        smp["value"].extend(vals)
    smp["fetch_id"] = [fetch_id] * len(smp["ts"])
    return fetch_id, ser, smp, warnings


def _number(text: Any) -> float:
    """Prometheus sends values as strings; anything non-numeric is a gap (NaN)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


class Loader:
    """Appends responses to the store in batches (one transaction per batch)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, user_label: str, cluster_label: str) -> None:
        self.con = con
        self.user_label, self.cluster_label = user_label, cluster_label
        self.stats = LoadStats()
        self._fetches: list[tuple[Any, ...]] = []
        self._series: dict[str, list[Any]] = {n: [] for n in _SERIES_SCHEMA.names}
        self._samples: dict[str, list[Any]] = {n: [] for n in _SAMPLES_SCHEMA.names}
        self._pending_ids: set[int] = set()

    def add(self, resp: Response) -> None:
        """Queue one response; flushes when the batch is full."""
        self.stats.responses += 1
        fetch_id, ser, smp, warnings = parse_response(resp, self.user_label, self.cluster_label)
        self.stats.warnings.extend(f"{resp.spec.query}: {w}" for w in warnings)
        known = self.con.execute("select 1 from fetches where fetch_id = ?", [fetch_id]).fetchone()
        if known or fetch_id in self._pending_ids:
            self.stats.responses_skipped += 1
            return
        self._pending_ids.add(fetch_id)
        body_sha = hashlib.sha256(resp.body).hexdigest()
        self._fetches.append(
            (
                fetch_id,
                resp.spec.key,
                resp.spec.query,
                datetime.fromtimestamp(resp.start, UTC),
                datetime.fromtimestamp(resp.end, UTC),
                resp.step,
                resp.origin,
                body_sha,
                len(ser["series_id"]),
                len(smp["ts"]),
                warnings,
                datetime.now(UTC),
            )
        )
        for name in self._series:
            self._series[name].extend(ser[name])
        for name in self._samples:
            self._samples[name].extend(smp[name])
        self.stats.samples_seen += len(smp["ts"])
        if len(self._samples["ts"]) >= BATCH_SAMPLES:
            self.flush()

    def add_all(self, responses: Iterable[Response]) -> LoadStats:
        for resp in responses:
            self.add(resp)
        self.flush()
        return self.stats

    def flush(self) -> None:
        """Write the queued batch: new fetches, new series, samples not yet stored."""
        if not self._fetches:
            return
        series = pa.table(self._series, schema=_SERIES_SCHEMA)
        samples = pa.table(self._samples, schema=_SAMPLES_SCHEMA)
        con = self.con
        con.execute("begin transaction")
        try:
            con.register("new_series", series)
            con.register("new_samples", samples)
            before = _count(con, "series"), _count(con, "samples")
            con.execute(
                """
                insert into series
                select * from (
                    select * from new_series
                    qualify row_number() over (partition by series_id order by query) = 1
                ) as n
                where n.series_id not in (select series_id from series)
                """
            )
            con.execute(
                """
                insert into samples
                select n.* from (
                    select * from new_samples
                    qualify row_number() over (partition by series_id, ts order by fetch_id) = 1
                ) as n
                anti join samples as s on s.series_id = n.series_id and s.ts = n.ts
                """
            )
            con.executemany("insert into fetches values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self._fetches)
            after = _count(con, "series"), _count(con, "samples")
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        finally:
            con.unregister("new_series")
            con.unregister("new_samples")
        self.stats.series_added += after[0] - before[0]
        self.stats.samples_added += after[1] - before[1]
        self._fetches = []
        self._series = {n: [] for n in _SERIES_SCHEMA.names}
        self._samples = {n: [] for n in _SAMPLES_SCHEMA.names}
        self._pending_ids.clear()


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"select count(*) from {table}").fetchone()  # table is one of ours
    return int(row[0]) if row else 0
