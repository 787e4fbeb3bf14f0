"""The change log: per series, where its completion state changes, kept up to date at load time.

Samples are insert-only, so what detection needs from them can be derived once, when they
arrive, instead of re-reading every sample on every run. Two append-only tables (schema in
``sql/schema.sql``) hold it:

- ``chunks``: one row per (series, response) with the samples that response stored: how
  many, their time span, and the first and last *known* sample (a finite value) with its
  state (``is_done``, ``value >= 0.5``);
- ``state_changes``: one row per known sample whose state differs from the previous known
  sample of the same chunk, with that previous sample's time.

The chunks of one series never overlap in time (the loader only appends a response as is
when its range is disjoint from everything stored), so the state at any moment, and every
change between consecutive known samples, follows from chunks and changes alone: a chunk's
first known sample is compared with the previous chunk's last. When a response overlaps
stored data, the loader deduplicates it against the samples and :func:`rebuild` derives the
affected series again from all their stored samples, as one chunk each (``fetch_id`` null).
The numbered SQL steps read this log; ``sql/detect/samples/`` holds the same steps computed from
the samples, the reference the tests compare them with.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from ocq_batch.columns import TIMESTAMP_US, numbers
from ocq_batch.detect.formula import is_done
from ocq_batch.resources import sql_text


def from_batch(
    series_ids: np.ndarray, fetch_ids: np.ndarray, counts: np.ndarray, ts_us: np.ndarray, values: np.ndarray
) -> tuple[pa.Table, pa.Table]:
    """Chunks and state changes of a batch whose samples are stored exactly as given.

    ``counts[i]`` samples of series ``series_ids[i]`` (response ``fetch_ids[i]``) follow each
    other in ``ts_us``/``values``, in strictly increasing time.

    Work per sample is a few whole-array passes: a state change is rare, so the chunk of
    each candidate change (a state differing from the known sample before it) is looked up
    by binary search, rather than a chunk number written for every sample.
    """
    keep = counts > 0
    sid, fid, n = series_ids[keep], fetch_ids[keep], counts[keep]
    ends = np.cumsum(n)
    starts = ends - n
    known = np.isfinite(values)
    if known.all():  # the usual batch: no NaN or Inf, nothing to copy
        k_ts, k_state, n_known = ts_us, is_done(values), n
    else:
        k_ts, k_state = ts_us[known], is_done(values[known])
        seen = np.concatenate(([0], np.cumsum(known)))  # known samples before each position
        n_known = seen[ends] - seen[starts]
    k_ends = np.cumsum(n_known)
    k_starts = k_ends - n_known
    # first and last known sample of each chunk that has one
    has = n_known > 0
    first_i, last_i = k_starts[has], (k_ends - 1)[has]

    def per_chunk(source: np.ndarray, dtype: pa.DataType) -> pa.Array:
        full = np.zeros(len(n), dtype=source.dtype)
        full[has] = source
        return numbers(full, dtype, valid=has)

    chunks = pa.table(
        {
            "series_id": numbers(sid),
            "fetch_id": numbers(fid),
            "n_samples": numbers(n),
            "first_ts": numbers(ts_us[starts], TIMESTAMP_US),
            "last_ts": numbers(ts_us[ends - 1], TIMESTAMP_US),
            "n_known": numbers(n_known),
            "first_known_ts": per_chunk(k_ts[first_i], TIMESTAMP_US),
            "first_state": per_chunk(k_state[first_i].astype(np.int32), pa.int32()),
            "last_known_ts": per_chunk(k_ts[last_i], TIMESTAMP_US),
            "last_state": per_chunk(k_state[last_i].astype(np.int32), pa.int32()),
        }
    )
    candidate = np.flatnonzero(k_state[1:] != k_state[:-1]) + 1
    chunk = np.searchsorted(k_ends, candidate, side="right")
    inside = candidate > k_starts[chunk]  # not its chunk's first known sample
    changed, chunk = candidate[inside], chunk[inside]
    changes = pa.table(
        {
            "series_id": numbers(sid[chunk]),
            "fetch_id": numbers(fid[chunk]),
            "ts": numbers(k_ts[changed], TIMESTAMP_US),
            "prev_ts": numbers(k_ts[changed - 1], TIMESTAMP_US),
            "state": numbers(k_state[changed].astype(np.int32), pa.int32()),
        }
    )
    return chunks, changes


def append(con: duckdb.DuckDBPyConnection, chunks: pa.Table, changes: pa.Table) -> None:
    """Append a batch's log (inside the caller's transaction)."""
    con.register("new_chunks", chunks)
    con.register("new_changes", changes)
    try:
        con.execute(sql_text("load/append_changelog.sql"))
    finally:
        con.unregister("new_chunks")
        con.unregister("new_changes")


def rebuild(con: duckdb.DuckDBPyConnection, ids_table: str = "series") -> None:
    """Derive the log again from the stored samples of the series in ``ids_table`` (a relation
    with a ``series_id`` column; by default every series), as ``sql/load/rebuild_changelog.sql``
    does: every stored sample of such a series forms one chunk."""
    # ids_table is one of ours (series, new_samples), never user input
    con.execute(f"create or replace temp view rebuild_ids as select distinct series_id from {ids_table}")
    try:
        con.execute(sql_text("load/rebuild_changelog.sql"))
    finally:
        con.execute("drop view if exists rebuild_ids")
