"""The archive: Parquet files, ranking.csv and manifest.json, published atomically.

Files are written into a staging folder beside ``out`` and swapped into place with
renames, so a reader sees the previous archive or the new one, never a mix. The
working store (``store.duckdb``) moves along with the swap. An interrupted publish is
finished or rolled back by :func:`recover` at the start of the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ocq_batch import __version__
from ocq_batch.archive_samples import samples_reader
from ocq_batch.closing import Closing
from ocq_batch.config import Config
from ocq_batch.durable import fsync_dir, fsync_files
from ocq_batch.errors import ArchiveError
from ocq_batch.pipeline import Window
from ocq_batch.store import utc_session
from ocq_batch.timeutil import iso, zone

FORMAT = "ocq-archive"
MANIFEST = "manifest.json"
STORE_NAME = "store.duckdb"
STORE_FILES = (STORE_NAME, STORE_NAME + ".wal")
REPLAY_DIR = "replay"  # responses recorded from a live server, kept across runs like the store
# what ocq-batch may find in an output folder it is about to replace
OWN_FILES = {MANIFEST, "ranking.csv", "report.md", "report.html", REPLAY_DIR, *STORE_FILES}

# the layout of an archive (files, columns, manifest); the store's schema has its own version
ARCHIVE_VERSION = 1

# One query per Parquet file, in a stable order: same store, same bytes.
TABLES: dict[str, str] = {
    "participants": """
        select u.user, u.clusters, u.n_samples, u.first_seen_at, u.last_seen_at,
               x.user is not null as is_excluded, x.pattern as excluded_by
        from users_seen as u left join exclusions as x using (user)
        order by u.user
    """,
    "samples": """
        select s.metric, s.user, s.exercise, s.env, s.cluster, s.component, x.ts, x.value,
               s.labels, s.query, f.origin
        from samples as x
        join series as s using (series_id)
        join fetches as f using (fetch_id)
        cross join run_params as p
        where x.ts between p.from_ts and p.to_ts
        order by s.component, s.exercise, s.env, s.user, s.cluster, s.series_id, x.ts
    """,
    "transitions": """
        select user, exercise, env, cluster, ts, prev_ts, from_value, to_value, is_window_start
        from transitions order by user, exercise, env, cluster, ts
    """,
    "completions": """
        select user, exercise, env, cluster, completed_at, completed_after, n_flaps, n_regressions,
               complete_at_window_start, is_counted
        from completions order by user, exercise, env, completed_at, cluster
    """,
    "scores": """
        select s.user, s.exercise, s.env, s.cluster, s.completed_at, s.completed_after,
               s.onetime_bonus, s.accelerator, s.points, s.model
        from scores as s
        join exercise_params as e using (exercise)
        cross join run_params as p
        where s.model = p.model
        order by s.user, e.ordinal
    """,
    "ranking": """
        select rank, user, score, exercises_completed, last_completed_at, in_top
        from ranking order by rank, last_completed_at nulls last, user
    """,
    "timeline": "select user, ts, score from timeline order by user, ts",
    "robustness": """
        select rank, user, score, score_min, score_max, in_top, separable_from_next
        from robustness order by rank, user
    """,
    "audit": """
        select severity, "check", user, exercise, env, cluster, evidence_at, evidence_until, value, message
        from findings
        order by case severity when 'error' then 0 when 'warning' then 1 else 2 end, user nulls first,
                 "check", exercise, env, evidence_at, message
    """,
    "live_vs_batch": "select * from live_vs_batch order by batch_rank, user",
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _utc(table: pa.Table) -> pa.Table:
    """Make every timestamp column ``timestamp[us, UTC]`` whatever the engine returned."""
    fields = []
    for f in table.schema:
        if pa.types.is_timestamp(f.type):
            fields.append(pa.field(f.name, pa.timestamp("us", tz="UTC")))
        else:
            fields.append(f)
    return table.cast(pa.schema(fields))


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
) -> dict[str, dict[str, Any]]:
    """Write every table as Parquet plus ranking.csv into ``folder``; return rows and sha256.

    Each result is streamed in Arrow batches and written in row groups of exactly
    ``ROW_GROUP`` rows, so memory stays bounded (a 1e8-sample archive never sits in
    memory whole) and the bytes do not depend on how DuckDB happened to batch them.
    ``samples``, when given, is samples.parquet already being written into ``folder``: it is
    waited for after the other files.
    """
    files: dict[str, dict[str, Any]] = {}
    for name, query in TABLES.items():
        path = folder / f"{name}.parquet"
        if name == "samples" and samples is not None:
            continue
        if name == "ranking":
            table = _utc(con.sql(query).to_arrow_table())
            pq.write_table(table, path, compression="zstd", row_group_size=ROW_GROUP)
            _write_csv(table, folder / "ranking.csv", config)
            files["ranking.csv"] = {"rows": table.num_rows}
            rows = table.num_rows
        elif name == "samples":  # the same rows, without DuckDB sorting their strings
            rows = _write_streamed(samples_reader(con, ROW_GROUP), path)
        else:
            rows = _write_streamed(con.sql(query).to_arrow_reader(ROW_GROUP), path)
        files[path.name] = {"rows": rows}
        if on_file:
            on_file(name)
    if samples is not None:
        files[samples.path.name] = {"rows": samples.rows()}
        if on_file:
            on_file("samples")
    for name, info in files.items():
        p = folder / name
        info["bytes"] = p.stat().st_size
        info["sha256"] = _sha256(p)
    return files


def _write_streamed(reader: pa.RecordBatchReader, path: Path) -> int:
    """Write ``reader`` to ``path`` in row groups of exactly ``ROW_GROUP`` rows; return the row count."""
    schema = _utc(reader.schema.empty_table()).schema
    pending: list[pa.RecordBatch] = []
    queued = rows = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for batch in reader:
            pending.append(batch)
            queued += batch.num_rows
            while queued >= ROW_GROUP:
                table = pa.Table.from_batches(pending, reader.schema)
                writer.write_table(_utc(table.slice(0, ROW_GROUP)), row_group_size=ROW_GROUP)
                rest = table.slice(ROW_GROUP)
                pending, queued = rest.to_batches(), rest.num_rows
                rows += ROW_GROUP
        if queued or not rows:
            writer.write_table(_utc(pa.Table.from_batches(pending, reader.schema)), row_group_size=ROW_GROUP)
            rows += queued
    return rows


def _write_csv(table: pa.Table, path: Path, config: Config) -> None:
    """ranking.csv for spreadsheets: times in the event's time zone with their offset."""
    tz = zone(config.timezone)
    last = [
        None if v is None else v.astimezone(tz).isoformat()
        for v in table.column("last_completed_at").to_pylist()
    ]
    out = table.set_column(
        table.schema.get_field_index("last_completed_at"), "last_completed_at", pa.array(last, pa.string())
    )
    pacsv.write_csv(out, path)


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


def staging_for(out: Path) -> Path:
    """A fresh staging folder beside ``out`` (same file system, so renames are atomic)."""
    path = out.parent / f".{out.name}.staging-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    return path


def check_out_folder(out: Path) -> None:
    """Refuse to replace a folder that holds files ocq-batch did not write."""
    if out.exists() and not out.is_dir():
        raise ArchiveError(f"--out {out} is a file; pass a folder")
    if not out.is_dir():
        return
    foreign = sorted(
        p.name for p in out.iterdir() if p.name not in OWN_FILES and not p.name.endswith(".parquet")
    )
    if foreign:
        raise ArchiveError(
            f"--out {out} holds files ocq-batch did not write ({', '.join(foreign[:3])}); "
            "pass a new or empty folder"
        )


def publish(staging: Path, out: Path, store_inside: bool) -> None:
    """Swap the complete ``staging`` folder in as ``out``, keeping the store.

    Durable before it is visible: the archive's files and their names are flushed to disk
    before the renames, and the renames themselves after, so that a power cut leaves the
    previous archive or the new one, never a new name over missing bytes.
    """
    if not (staging / MANIFEST).exists():
        raise ArchiveError(f"refusing to publish {staging}: it has no manifest")
    old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    try:
        fsync_files(staging)
        fsync_dir(staging)
        if out.exists():
            for name in (*STORE_FILES, REPLAY_DIR) if store_inside else (REPLAY_DIR,):
                if (out / name).exists():
                    os.replace(out / name, staging / name)
            os.rename(out, old)
        os.rename(staging, out)
        fsync_dir(out)  # the store and replay folder moved into it
        fsync_dir(out.parent)
    except OSError as exc:
        raise ArchiveError(f"could not move the archive into {out}: {exc}; run the command again") from None
    shutil.rmtree(old, ignore_errors=True)


def recover(out: Path) -> None:
    """Finish or roll back a publish that an earlier run did not complete."""
    parent = out.parent
    if not parent.is_dir():
        return
    stagings = sorted(parent.glob(f".{out.name}.staging-*"), key=lambda p: p.stat().st_mtime)
    olds = sorted(parent.glob(f".{out.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not out.exists():
        complete = [s for s in stagings if (s / MANIFEST).exists()]
        if complete:
            os.rename(complete[-1], out)
            stagings.remove(complete[-1])
        elif olds:
            os.rename(olds[-1], out)
            olds.pop()
    for folder in stagings + olds:
        for name in (*STORE_FILES, REPLAY_DIR):  # working files moved before the crash go back home
            if (folder / name).exists() and out.is_dir() and not (out / name).exists():
                os.replace(folder / name, out / name)
        shutil.rmtree(folder, ignore_errors=True)


def write_manifest(folder: Path, data: dict[str, Any]) -> None:
    (folder / MANIFEST).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_reports(
    folder: Path,
    config: Config,
    window: Window,
    ranking: Any,
    timeline: Any,
    audit: Any,
    source: str,
) -> dict[str, dict[str, Any]]:
    """report.md and the self-contained report.html; returns their manifest entries."""
    from ocq_batch.report import render_html, render_markdown

    (folder / "report.md").write_text(render_markdown(config, window, ranking, audit), encoding="utf-8")
    page = render_html(config, window, ranking, timeline, audit, source)
    (folder / "report.html").write_text(page, encoding="utf-8")
    return {
        name: {"bytes": (folder / name).stat().st_size, "sha256": _sha256(folder / name)}
        for name in ("report.md", "report.html")
    }
