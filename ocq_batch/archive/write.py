"""Writing an archive: every table as Parquet, ranking.csv, the reports and manifest.json.

Each Parquet file is the query ``sql/archive/<name>.sql`` over the store, streamed in
Arrow batches and written in fixed row groups, so the same store gives the same bytes.
Files go into a staging folder that :mod:`ocq_batch.archive.publish` swaps into place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ocq_batch import __version__, faultpoint
from ocq_batch.archive.layout import ARCHIVE_VERSION, FORMAT, MANIFEST, TABLES, sha256_file
from ocq_batch.archive.samples import samples_reader
from ocq_batch.archive.spreadsheet import ranking_sheet, write_csv, write_xlsx
from ocq_batch.closing import Closing
from ocq_batch.columns import TIMESTAMP_US
from ocq_batch.config.model import Config, Window
from ocq_batch.load.store import utc_session
from ocq_batch.oserror import naming
from ocq_batch.resources import sql_text
from ocq_batch.timeutil import iso


def table_query(name: str) -> str:
    """The query of one archive table (``sql/archive/<name>.sql``)."""
    return sql_text(f"archive/{name}.sql")


def utc_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every timestamp field ``timestamp[us, UTC]``, whatever the engine returned."""
    return pa.schema([pa.field(f.name, TIMESTAMP_US) if pa.types.is_timestamp(f.type) else f for f in schema])


def utc_timestamps(table: pa.Table) -> pa.Table:
    """Make every timestamp column ``timestamp[us, UTC]`` whatever the engine returned."""
    return table.cast(utc_schema(table.schema))


ROW_GROUP = 1 << 20  # rows per Parquet row group: fixed, so the same store gives the same bytes


class SamplesFile(Closing):
    """``samples.parquet``, written by a thread of its own while the store goes on working.

    The file only needs the loaded samples and the window, so the export starts it as soon
    as the load is done: the scoring and the audit run beside it (DuckDB, Arrow's kernels and
    the Parquet writer work without the GIL), instead of before it. It reads through a
    cursor of the store, a connection of its own that sees the samples as committed by the
    load. Same rows and bytes as :func:`write_files` writes alone
    (``tests/test_archive_samples.py``).
    :meth:`close` on a failed run stops it and waits for it; the caller then removes the
    staging folder.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, folder: Path, window: Window) -> None:
        self.path = folder / "samples.parquet"
        self._cursor = con.cursor()
        utc_session(self._cursor)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="samples.parquet")
        bounds = (window.start, window.end)
        self._rows = self._pool.submit(
            lambda: _write_streamed(samples_reader(self._cursor, ROW_GROUP, bounds), self.path)
        )

    def rows(self) -> int:
        """Wait for the file; its row count (re-raises the thread's error)."""
        return self._rows.result()

    def close(self) -> None:
        if not self._rows.done():
            self._cursor.interrupt()  # a failed run: the query stops at its next step
        self._pool.shutdown(wait=True)
        self._cursor.close()


def write_files(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    config: Config,
    on_file: Callable[[str], None] | None = None,
    samples: SamplesFile | None = None,
    xlsx: bool = False,
) -> dict[str, dict[str, Any]]:
    """Write every table as Parquet plus ranking.csv (and ``xlsx``: ranking.xlsx) into
    ``folder``; return rows and sha256.

    Each result is streamed in Arrow batches and written in row groups of exactly
    ``ROW_GROUP`` rows, so memory stays bounded (a 1e8-sample archive never sits in
    memory whole) and the bytes do not depend on how DuckDB happened to batch them.
    ``samples``, when given, is samples.parquet already being written into ``folder``: it is
    waited for after the other files.
    """
    files: dict[str, dict[str, Any]] = {}
    for name in TABLES:
        query = table_query(name)
        path = folder / f"{name}.parquet"
        if name == "samples" and samples is not None:
            continue
        if name == "ranking":
            table = utc_timestamps(con.sql(query).to_arrow_table())
            with naming(path):
                pq.write_table(table, path, compression="zstd", row_group_size=ROW_GROUP)
            header, sheet = ranking_sheet(con, table, config)
            with naming(folder / "ranking.csv"):
                write_csv(folder / "ranking.csv", header, sheet, config)
            files["ranking.csv"] = {"rows": table.num_rows}
            if xlsx:
                write_xlsx(folder / "ranking.xlsx", header, sheet, config)
                files["ranking.xlsx"] = {"rows": table.num_rows}
            rows = table.num_rows
        elif name == "samples":  # the same rows, without DuckDB sorting their strings
            rows = _write_streamed(samples_reader(con, ROW_GROUP), path)
        else:
            rows = _write_streamed(con.sql(query).to_arrow_reader(ROW_GROUP), path)
        files[path.name] = {"rows": rows}
        faultpoint.reach("archive:file", path)
        if on_file:
            on_file(name)
    if samples is not None:
        files[samples.path.name] = {"rows": samples.rows()}
        faultpoint.reach("archive:file", samples.path)
        if on_file:
            on_file("samples")
    for name, info in files.items():
        p = folder / name
        info["bytes"] = p.stat().st_size
        info["sha256"] = sha256_file(p)
    return files


def _write_streamed(reader: pa.RecordBatchReader, path: Path) -> int:
    """Write ``reader`` to ``path`` in row groups of exactly ``ROW_GROUP`` rows; return the row count."""
    schema = utc_schema(reader.schema)
    pending: list[pa.RecordBatch] = []
    queued = rows = 0
    with naming(path), pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for batch in reader:
            pending.append(batch)
            queued += batch.num_rows
            while queued >= ROW_GROUP:
                table = pa.Table.from_batches(pending, reader.schema)
                writer.write_table(utc_timestamps(table.slice(0, ROW_GROUP)), row_group_size=ROW_GROUP)
                rest = table.slice(ROW_GROUP)
                pending, queued = rest.to_batches(), rest.num_rows
                rows += ROW_GROUP
        if queued or not rows:
            writer.write_table(
                utc_timestamps(pa.Table.from_batches(pending, reader.schema)), row_group_size=ROW_GROUP
            )
            rows += queued
    return rows


def manifest(
    config: Config,
    window: Window,
    source: str,
    files: dict[str, dict[str, Any]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The manifest of one archive (never holds a credential: ``source`` is already redacted)."""
    return {
        "format": FORMAT,
        "schema_version": ARCHIVE_VERSION,
        "tool": "ocq-batch",
        "tool_version": __version__,
        "created_at": iso(datetime.now(UTC)),
        "event": {"name": config.name, "start": iso(config.start), "timezone": config.timezone},
        "window": {"from": iso(window.start), "to": iso(window.end)},
        "scoring": {
            "env": config.env,
            "model": config.model,
            "signal": config.signal,
            "top": config.top,
            "tick_s": config.tick_s,
            "accelerator": config.accelerator,
        },
        "config": {"digest": config.digest(), "origin": config.origin, "settings": config.as_dict()},
        "source": source,
        "files": files,
        **extra,
    }


def write_manifest(folder: Path, data: dict[str, Any]) -> None:
    """The manifest, written whole or not at all: a staging folder with a manifest is complete
    (that is what :func:`~ocq_batch.archive.publish.recover` goes by)."""
    tmp = folder / f".{MANIFEST}.tmp"
    with naming(folder / MANIFEST):
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, folder / MANIFEST)
    faultpoint.reach("archive:manifest", folder / MANIFEST)


def write_reports(
    folder: Path,
    config: Config,
    window: Window,
    ranking: Any,
    timeline: Any,
    audit: Any,
    provenance: Any,
) -> dict[str, dict[str, Any]]:
    """report.md, the self-contained report.html and ceremony.html; returns their manifest entries."""
    from ocq_batch.report.ceremony import render_ceremony
    from ocq_batch.report.html import render_html
    from ocq_batch.report.markdown import render_markdown

    pages = {
        "report.md": render_markdown(config, window, ranking, audit, provenance),
        "report.html": render_html(config, window, ranking, timeline, audit, provenance),
        "ceremony.html": render_ceremony(config, window, ranking, audit, provenance),
    }
    for name, text in pages.items():
        with naming(folder / name):
            (folder / name).write_text(text, encoding="utf-8")
    return {
        name: {"bytes": (folder / name).stat().st_size, "sha256": sha256_file(folder / name)}
        for name in pages
    }
