"""An archive back in a working store: its samples loaded again, to audit or re-score it.

The archive's ``samples.parquet`` (sha256-checked when it was opened) is scanned into an
in-memory store of ``sql/load/schema.sql``; series ids are computed as the loader computes
them, so running the archive's own config rebuilds the archive's tables exactly. The
inserts are ``sql/archive/reload_*.sql``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from ocq_batch.archive.read import CLI_SKIP, Archive, read_archive
from ocq_batch.columns import numbers, strings
from ocq_batch.config.model import Config
from ocq_batch.load import changelog
from ocq_batch.load.store import open_store
from ocq_batch.pull.api import RAW
from ocq_batch.pull.parse import SERIES_SCHEMA, hash64
from ocq_batch.pull.queries import plan_queries
from ocq_batch.resources import sql_text

# Checks an archive cannot recompute: they read samples after --to, which it does not hold.
# Its own audit (audit.parquet) found them when the export still had those samples.
OUTSIDE_WINDOW_CHECKS = ("completed_after_window",)
CARRIED = " (found by the export's audit: the archive holds no samples after --to)"
# Checks of the answers a run received (the answers table): an archive keeps no empty answer.
ANSWER_CHECKS = ("empty_family", "empty_answer")
CARRIED_ANSWERS = " (found by the export's audit: the archive keeps no empty answers)"


def store_from_archive(archive: Archive) -> duckdb.DuckDBPyConnection:
    """An in-memory store holding ``archive``'s samples, series and one fetch per origin."""
    con = open_store(Path(":memory:"))
    keys = {s.query: s.key for s in plan_queries(archive.config)}
    con.register("archived", pads.dataset(archive.file("samples")))  # scanned, never loaded whole
    cols = ("query", "labels", "metric", "component", "exercise", "env", "user", "cluster")
    rows = con.execute(sql_text("archive/reload_series.sql")).fetchall()
    series: dict[str, list[Any]] = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    ids = [hash64(q, lb) for q, lb in zip(series["query"], series["labels"], strict=True)]
    series["query_key"] = [
        keys.get(q, f"{c}/{e or '*'}/{v or '*'}")
        for q, c, e, v in zip(
            series["query"], series["component"], series["exercise"], series["env"], strict=True
        )
    ]
    pairs = con.execute(sql_text("archive/reload_origins.sql")).fetchall()
    body = str(archive.manifest["files"]["samples.parquet"]["sha256"])
    fetches = pa.table(
        {
            "fetch_id": numbers(np.array([hash64("archive", body, q, o) for q, o in pairs], np.int64)),
            "query": strings([q for q, _ in pairs]),
            "origin": strings([o for _, o in pairs]),
        }
    )
    columns = [numbers(np.array(ids, np.int64))]
    columns += [strings(series[name]) for name in SERIES_SCHEMA.names[1:]]
    con.register("new_series", pa.Table.from_arrays(columns, schema=SERIES_SCHEMA))
    con.register("new_fetches", fetches)
    con.execute(sql_text("load/insert_series.sql"))
    con.execute(
        sql_text("archive/reload_fetches.sql"),
        {
            "from_ts": archive.window.start,
            "to_ts": archive.window.end,
            "step_s": RAW,  # the samples as stored, whatever request brought them
            "body": body,
            "now": datetime.now(UTC),
        },
    )
    con.execute(sql_text("archive/reload_samples.sql"))
    for name in ("archived", "new_series", "new_fetches"):
        con.unregister(name)
    changelog.rebuild(con)  # samples went in directly, not through the Loader
    return con


def load_archive(folder: Path) -> tuple[duckdb.DuckDBPyConnection, Archive]:
    """An in-memory store holding the archive's samples (sha256-checked), and the archive,
    whose generation stays open for :func:`carried_findings` (close it when done).

    The warnings met while fetching (``--allow-partial``) go back onto their fetches, so
    the audit reports them again.
    """
    archive = read_archive(folder, verify=True, skip_hint=CLI_SKIP)
    try:
        con = store_from_archive(archive)
        for warning in archive.manifest.get("warnings") or []:
            query, _, text = str(warning).partition(": ")
            con.execute(
                "update fetches set warnings = list_append(warnings, ?) where query = ?",
                [text or query, query],
            )
    except BaseException:
        archive.close()
        raise
    return con, archive


def carried_findings(archive: Archive, config: Config) -> pa.Table | None:
    """The archive's own findings it cannot make again (rows of ``audit.parquet``, whose
    columns are the ``findings`` table's), each message saying where it comes from: those of
    :data:`OUTSIDE_WINDOW_CHECKS` (not when the re-audit scores another environment than the
    export did: they were about the archived one), and the empty answers of
    :data:`ANSWER_CHECKS` (the archive keeps the samples, not the answers that held none).
    Read from the generation the samples came from."""
    carried: list[tuple[tuple[str, ...], str]] = [(ANSWER_CHECKS, CARRIED_ANSWERS)]
    if config.env == archive.config.env:
        carried.insert(0, (OUTSIDE_WINDOW_CHECKS, CARRIED))
    tables = []
    for checks, note in carried:
        table = pq.read_table(archive.file("audit"), filters=[("check", "in", list(checks))])
        message = pc.binary_join_element_wise(table.column("message"), note, "")
        tables.append(table.set_column(table.schema.get_field_index("message"), "message", message))
    return pa.concat_tables(tables)
