"""The DuckDB store: raw samples with provenance, insert-only and idempotent.

Responses are parsed into Arrow batches and appended with an anti-join on the
natural keys, so loading the same data twice (or overlapping chunks) changes
nothing. The change log (:mod:`ocq_batch.changelog`) is derived in the same
transaction. Label values and query strings only ever reach DuckDB as loaded data.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from ocq_batch import changelog
from ocq_batch.errors import StoreError
from ocq_batch.parse import SERIES_SCHEMA, Parsed, parse_response, parse_response_plain
from ocq_batch.paths import sql_text
from ocq_batch.sources import Response

SCHEMA_VERSION = 2  # 2: the change log (chunks, state_changes)
BATCH_SAMPLES = 500_000
# DuckDB's own default is 80 % of RAM; a bound keeps a 1e8-sample run under 4 GiB (it spills
# sorts and joins to disk beyond it). OCQ_DUCKDB_MEMORY=8GB raises it on a bigger machine.
MEMORY_LIMIT = "2GB"
_MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?\s*[KMGT]i?B$")

_SAMPLES_SCHEMA = pa.schema(
    [
        ("series_id", pa.int64()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("value", pa.float64()),
        ("fetch_id", pa.int64()),
    ]
)


@dataclass
class LoadStats:
    """What one load did: responses seen and skipped, rows actually added."""

    responses: int = 0
    responses_skipped: int = 0
    series_added: int = 0
    samples_added: int = 0
    samples_seen: int = 0
    warnings: list[str] = field(default_factory=list)


def utc_session(con: duckdb.DuckDBPyConnection) -> None:
    """The store's session setting: timestamps read and written in UTC. DuckDB keeps it per
    connection, so every cursor of the store needs it too."""
    con.execute("set TimeZone = 'UTC'")


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
    utc_session(con)
    limit = os.environ.get("OCQ_DUCKDB_MEMORY", MEMORY_LIMIT)
    if not _MEMORY.match(limit):
        raise StoreError(f"OCQ_DUCKDB_MEMORY={limit!r} is not a size such as 2GB or 512MB; fix or unset it")
    con.execute(f"set memory_limit = '{limit}'")  # checked above: digits and a unit only
    if read_only:
        _check_version(con, path)
        return con
    has_meta = con.execute(
        "select count(*) from information_schema.tables where table_name = 'meta'"
    ).fetchall()  # fetched to the end: DuckDB refuses new work on a connection with a pending result
    if has_meta and has_meta[0][0]:
        if _version(con) == "1":
            _upgrade_from_1(con)
        _check_version(con, path)
    else:
        con.execute(sql_text("schema.sql"))
        con.execute("insert into meta values ('schema_version', ?)", [str(SCHEMA_VERSION)])
    return con


def _version(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute("select value from meta where key = 'schema_version'").fetchall()
    return str(rows[0][0]) if rows else None


def _check_version(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    found = _version(con)
    if found == "1" and SCHEMA_VERSION == 2:
        raise StoreError(
            f"store {path} has schema version 1, this ocq-batch reads {SCHEMA_VERSION}; "
            "run a command that writes to it once (e.g. ocq-batch export --out with the same folder) "
            "to upgrade it in place"
        )
    if found != str(SCHEMA_VERSION):
        raise StoreError(
            f"store {path} has schema version {found or 'none'}, this ocq-batch writes {SCHEMA_VERSION}; "
            "pass a new --out (the old store stays readable by the version that wrote it)"
        )


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Everything inside commits together, or is rolled back (also on Ctrl-C)."""
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def _upgrade_from_1(con: duckdb.DuckDBPyConnection) -> None:
    """Version 1 had no change log: derive it from the stored samples, in one transaction."""
    with transaction(con):
        con.execute(sql_text("schema.sql"))  # creates only what is missing
        changelog.rebuild(con)
        con.execute("update meta set value = ? where key = 'schema_version'", [str(SCHEMA_VERSION)])


def _sorted_within_series(parsed: Parsed) -> bool:
    """True when each series' timestamps strictly increase and no series id repeats."""
    ids = parsed.series["series_id"]
    if len(set(ids)) != len(ids):
        return False
    if parsed.n_samples < 2:
        return True
    rising = np.diff(parsed.ts_us) > 0
    starts = np.cumsum(parsed.counts)[:-1]
    starts = starts[(starts > 0) & (starts < parsed.n_samples)]
    rising[starts - 1] = True  # a new series may start anywhere
    return bool(rising.all())


class Loader:
    """Appends responses to the store in batches (one transaction per batch).

    With ``fast`` (the default), bodies go through :func:`parse_response` and a batch
    is appended as is when no sample in it can already be stored: every series in
    order, and its time range per query disjoint from everything stored or queued.
    Otherwise (and always with ``fast=False``, the reference path) each batch is
    deduplicated with a window and an anti-join on ``(series_id, ts)``. Both give the
    same store.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        user_label: str,
        cluster_label: str,
        fast: bool = True,
        batch_samples: int = BATCH_SAMPLES,
    ) -> None:
        self.con = con
        self.user_label, self.cluster_label = user_label, cluster_label
        self.fast, self.batch_samples = fast, batch_samples
        self.stats = LoadStats()
        self._fetches: list[tuple[Any, ...]] = []
        self._parsed: list[Parsed] = []
        self._queued = 0
        self._pending_ids: set[int] = set()
        self._appendable = True
        self._spans: dict[str, list[tuple[int, int]]] | None = None  # per query: (min, max) ts, us

    def add(self, resp: Response) -> None:
        """Queue one response; flushes when the batch is full."""
        self.stats.responses += 1
        parse = parse_response if self.fast else parse_response_plain
        parsed = parse(resp, self.user_label, self.cluster_label)
        self.stats.warnings.extend(f"{resp.spec.query}: {w}" for w in parsed.warnings)
        fetch_id = parsed.fetch_id
        known = self.con.execute("select 1 from fetches where fetch_id = ?", [fetch_id]).fetchall()
        if known or fetch_id in self._pending_ids:
            self.stats.responses_skipped += 1
            return
        self._pending_ids.add(fetch_id)
        self._fetches.append(
            (
                fetch_id,
                resp.spec.key,
                resp.spec.query,
                datetime.fromtimestamp(resp.start, UTC),
                datetime.fromtimestamp(resp.end, UTC),
                resp.step,
                resp.origin,
                parsed.body_sha256,
                len(parsed.series["series_id"]),
                parsed.n_samples,
                parsed.warnings,
                datetime.now(UTC),
            )
        )
        if self.fast:
            self._appendable = self._claim(resp.spec.query, parsed) and self._appendable
        self._parsed.append(parsed)
        self._queued += parsed.n_samples
        self.stats.samples_seen += parsed.n_samples
        if self._queued >= self.batch_samples:
            self.flush()

    def _claim(self, query: str, parsed: Parsed) -> bool:
        """Record the response's time range; False when it may overlap a stored or queued one."""
        if parsed.n_samples == 0:
            return True
        if self._spans is None:
            self._spans = {}
            if _count(self.con, "samples"):
                rows = self.con.execute(
                    "select s.query, epoch_us(min(x.ts)), epoch_us(max(x.ts)) "
                    "from samples as x join series as s using (series_id) group by s.query"
                ).fetchall()
                self._spans = {q: [(int(lo), int(hi))] for q, lo, hi in rows}
        lo, hi = int(parsed.ts_us.min()), int(parsed.ts_us.max())
        spans = self._spans.setdefault(query, [])
        disjoint = not any(a <= hi and lo <= b for a, b in spans)
        spans.append((lo, hi))
        return disjoint and _sorted_within_series(parsed)

    def add_all(self, responses: Iterable[Response]) -> LoadStats:
        for resp in responses:
            self.add(resp)
        self.flush()
        return self.stats

    def flush(self) -> None:
        """Write the queued batch: new fetches, new series, samples not yet stored."""
        if not self._fetches:
            return
        parsed = self._parsed
        series = pa.table(
            {name: [v for p in parsed for v in p.series[name]] for name in SERIES_SCHEMA.names},
            schema=SERIES_SCHEMA,
        )
        ts_us = _concat([p.ts_us for p in parsed], np.int64)
        values = _concat([p.values for p in parsed], np.float64)
        samples = pa.table(
            [
                pa.array(_concat([p.sample_series_ids() for p in parsed], np.int64)),
                pa.array(ts_us).cast(_SAMPLES_SCHEMA.field("ts").type),
                pa.array(values),
                pa.array(_concat([np.full(p.n_samples, p.fetch_id, np.int64) for p in parsed], np.int64)),
            ],
            schema=_SAMPLES_SCHEMA,
        )
        append = self.fast and self._appendable
        log = (
            changelog.from_batch(
                _concat([np.asarray(p.series["series_id"], np.int64) for p in parsed], np.int64),
                _concat([np.full(len(p.counts), p.fetch_id, np.int64) for p in parsed], np.int64),
                _concat([p.counts for p in parsed], np.int64),
                ts_us,
                values,
            )
            if append
            else None
        )
        con = self.con
        try:
            with transaction(con):
                con.register("new_series", series)
                con.register("new_samples", samples)
                before = _count(con, "series"), _count(con, "samples")
                con.execute(_INSERT_SERIES)
                if log is not None:
                    con.execute(_APPEND_SAMPLES)
                    changelog.append(con, *log)
                else:
                    con.execute(_INSERT_SAMPLES)
                    changelog.rebuild(con, "new_samples")
                con.executemany(
                    "insert into fetches values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self._fetches
                )
                after = _count(con, "series"), _count(con, "samples")
        finally:
            con.unregister("new_series")
            con.unregister("new_samples")
        self.stats.series_added += after[0] - before[0]
        self.stats.samples_added += after[1] - before[1]
        self._fetches, self._parsed, self._queued = [], [], 0
        self._pending_ids.clear()
        self._appendable = True


def _concat(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.empty(0, dtype)


_INSERT_SERIES = """
    insert into series
    select * from (
        select * from new_series
        qualify row_number() over (partition by series_id order by query) = 1
    ) as n
    where n.series_id not in (select series_id from series)
"""
# no queued sample can be stored already, nor queued twice (Loader._claim checked it)
_APPEND_SAMPLES = "insert into samples select * from new_samples"
_INSERT_SAMPLES = """
    insert into samples
    select n.* from (
        select * from new_samples
        qualify row_number() over (partition by series_id, ts order by fetch_id) = 1
    ) as n
    anti join samples as s on s.series_id = n.series_id and s.ts = n.ts
"""


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    rows = con.execute(f"select count(*) from {table}").fetchall()  # table is one of ours
    return int(rows[0][0]) if rows else 0
