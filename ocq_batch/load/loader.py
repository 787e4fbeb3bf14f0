"""Loading responses into the store: parsed into columns, appended in batches, never twice.

Each batch is one transaction: its fetches, its new series, the samples not stored yet
and their change log (:mod:`ocq_batch.load.changelog`). A response already loaded (same
query, range, step and body) is skipped, and a sample already stored for its series and
time with the same value (NaN equals NaN) is not stored again, so loading the same data
twice, or overlapping chunks, changes nothing. A fact has one value: a sample stored with
another value is a conflict that stops the load (:class:`~ocq_batch.errors.ConflictError`,
naming the series, the time, both values and both origins), unless the new value answers
the same request again (a refetch of the chunk, the late-sample case): then the newer answer
wins, the earlier value moves to ``superseded`` and the load counts it. The inserts are
``sql/load/*.sql``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from ocq_batch.columns import TIMESTAMP_US, numbers, strings
from ocq_batch.errors import ConflictError, SourceError
from ocq_batch.load import changelog
from ocq_batch.load.received import Received
from ocq_batch.load.store import count_rows, transaction
from ocq_batch.pull.parse import (
    SERIES_SCHEMA,
    Namespace,
    Parsed,
    parse_response,
    parse_response_plain,
    selector,
)
from ocq_batch.pull.source import Response
from ocq_batch.resources import sql_text
from ocq_batch.timeutil import iso

BATCH_SAMPLES = 500_000

_SAMPLES_SCHEMA = pa.schema(
    [
        ("series_id", pa.int64()),
        ("ts", TIMESTAMP_US),
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
    samples_outside: int = 0  # answered twice at a chunk edge, or outside the request: not kept
    samples_superseded: int = 0  # replaced by a newer answer to the same request (a refetch)
    warnings: list[str] = field(default_factory=list)


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
        namespace: Namespace | None = None,
        allow_partial: bool = True,
    ) -> None:
        self.con = con
        self.user_label, self.cluster_label = user_label, cluster_label
        self.namespace = namespace  # where raw kube-state-metrics series carry their user
        self.fast, self.batch_samples = fast, batch_samples
        self.allow_partial = allow_partial  # False: a response with warnings stops the load
        self.stats = LoadStats()
        self.received = Received()  # every response read, per query family (the manifest's families)
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
        parsed = parse(resp, self.user_label, self.cluster_label, self.namespace)
        if parsed.warnings and not self.allow_partial:
            raise SourceError(
                f"the answer to query {resp.spec.query!r} from {resp.origin} is partial: "
                f"{parsed.warnings[0]}; run with --allow-partial, or --refetch against the server"
            )
        self.stats.warnings.extend(f"{resp.spec.query}: {w}" for w in parsed.warnings)
        self.received.add(resp, parsed)
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
        self.stats.samples_outside += parsed.outside
        if self._queued >= self.batch_samples:
            self.flush()

    def _claim(self, query: str, parsed: Parsed) -> bool:
        """Record the response's time range; False when it may overlap a stored or queued one."""
        if parsed.n_samples == 0:
            return True
        if self._spans is None:
            self._spans = {}
            if count_rows(self.con, "samples"):
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
        ids = _concat([np.asarray(p.series["series_id"], np.int64) for p in parsed], np.int64)
        series = pa.Table.from_arrays(
            [numbers(ids)]
            + [strings([v for p in parsed for v in p.series[name]]) for name in SERIES_SCHEMA.names[1:]],
            schema=SERIES_SCHEMA,
        )
        ts_us = _concat([p.ts_us for p in parsed], np.int64)
        values = _concat([p.values for p in parsed], np.float64)
        samples = pa.Table.from_arrays(
            [
                numbers(_concat([p.sample_series_ids() for p in parsed], np.int64)),
                numbers(ts_us, TIMESTAMP_US),
                numbers(values, pa.float64()),
                numbers(_concat([np.full(p.n_samples, p.fetch_id, np.int64) for p in parsed], np.int64)),
            ],
            schema=_SAMPLES_SCHEMA,
        )
        append = self.fast and self._appendable
        log = (
            changelog.from_batch(
                ids,
                _concat([np.full(len(p.counts), p.fetch_id, np.int64) for p in parsed], np.int64),
                _concat([p.counts for p in parsed], np.int64),
                ts_us,
                values,
            )
            if append
            else None
        )
        con = self.con
        superseded = 0
        try:
            with transaction(con):
                con.register("new_series", series)
                con.register("new_samples", samples)
                before = count_rows(con, "series"), count_rows(con, "samples")
                con.execute(sql_text("load/insert_series.sql"))
                con.executemany(sql_text("load/insert_fetch.sql"), self._fetches)  # clashes name them
                if log is not None:
                    # no queued sample can be stored already, nor queued twice (_claim checked it)
                    con.execute(sql_text("load/append_samples.sql"))
                    changelog.append(con, *log)
                else:
                    superseded = self._settle_clashes()
                    con.execute(sql_text("load/insert_samples.sql"))
                    changelog.rebuild(con, "new_samples")
                after = count_rows(con, "series"), count_rows(con, "samples")
        finally:
            con.unregister("new_series")
            con.unregister("new_samples")
        self.stats.series_added += after[0] - before[0]
        self.stats.samples_added += after[1] - before[1]
        self.stats.samples_superseded += superseded
        self._fetches, self._parsed, self._queued = [], [], 0
        self._pending_ids.clear()
        self._appendable = True

    def _settle_clashes(self) -> int:
        """The batch's samples that clash with a value already stored or queued (inside the
        batch's transaction, its fetches inserted): ConflictError naming the first conflict;
        else the values a refetch supersedes are replaced, and their number returned."""
        con = self.con
        con.execute(sql_text("load/find_clashes.sql"))
        try:
            rows = con.execute("select count(*) from batch_clashes where not supersedes").fetchall()
            conflicts = int(rows[0][0])
            if conflicts:
                raise ConflictError(_conflict_message(con, conflicts))
            superseded = int(con.execute("select count(*) from batch_clashes").fetchall()[0][0])
            if superseded:
                con.execute(sql_text("load/supersede_samples.sql"))
            return superseded
        finally:
            con.execute("drop table if exists batch_clashes")


def _conflict_message(con: duckdb.DuckDBPyConnection, n: int) -> str:
    """One line on the first conflict (by series and time) of ``batch_clashes``, and how many."""
    row = con.execute(
        "select s.metric, s.labels, c.ts, c.old_value, c.old_origin, c.new_value, c.new_origin "
        "from batch_clashes as c join series as s using (series_id) where not c.supersedes "
        "order by s.metric, s.labels, c.ts, c.new_fetch_id limit 1"
    ).fetchone()
    assert row is not None
    metric, labels, ts, old, old_origin, new, new_origin = row
    more = f" (and {n - 1} more sample(s))" if n > 1 else ""
    return (
        f"conflicting sample: {selector(metric, json.loads(labels))} at {iso(ts)} is {_value(old)} "
        f"from {old_origin} and {_value(new)} from {new_origin}{more}; a sample has one value: find out "
        "which answer is right, and load this source into another --out, or pass --fresh to set the "
        "old store aside"
    )


def _value(v: float | None) -> str:
    return "null" if v is None else repr(float(v)) if not float(v).is_integer() else str(int(v))


def _concat(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.empty(0, dtype)
