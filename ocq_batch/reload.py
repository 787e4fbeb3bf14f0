"""Rebuild a working store from an archive's samples, to audit it without refetching."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from ocq_batch.archive import FORMAT, MANIFEST
from ocq_batch.config import Config, config_from_settings
from ocq_batch.errors import ArchiveError
from ocq_batch.paths import sql_text
from ocq_batch.pipeline import Window
from ocq_batch.queries import plan_queries
from ocq_batch.store import SCHEMA_VERSION, _hash64
from ocq_batch.timeutil import parse_instant


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of an archive folder; ArchiveError when it is not one we can read."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArchiveError(
            f"{folder} is not an ocq-batch archive (no {MANIFEST}); pass the --out of an export"
        ) from None
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"{path} is unreadable ({exc}); export the event again") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ArchiveError(f"{path} is not an ocq-batch archive manifest")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ArchiveError(
            f"{folder} has archive schema version {data.get('schema_version')!r}; this ocq-batch reads "
            f"version {SCHEMA_VERSION}: open it with the version that wrote it"
        )
    return data


def load_archive(folder: Path) -> tuple[duckdb.DuckDBPyConnection, Config, Window, dict[str, Any]]:
    """An in-memory store holding the archive's samples, with its config and window."""
    manifest = read_manifest(folder)
    config = config_from_settings(manifest["config"]["settings"], origin=f"{folder}/{MANIFEST}")
    window = Window(parse_instant(manifest["window"]["from"]), parse_instant(manifest["window"]["to"]))
    path = folder / "samples.parquet"
    if not path.exists():
        raise ArchiveError(f"{path} is missing; the archive is incomplete, export the event again")
    table = pq.read_table(path)
    keys = {s.query: s.key for s in plan_queries(config)}
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(sql_text("schema.sql"))
    queries = table.column("query").to_pylist()
    labels = table.column("labels").to_pylist()
    ids = {}
    for q, lab in {(q, lab) for q, lab in zip(queries, labels, strict=True)}:
        ids[(q, lab)] = _hash64(q, lab)
    import pyarrow as pa

    sid = pa.array([ids[(q, lab)] for q, lab in zip(queries, labels, strict=True)], pa.int64())
    key = pa.array([keys.get(q, "archived") for q in queries], pa.string())
    con.register("arch", table.append_column("series_id", sid).append_column("query_key", key))
    con.execute(
        """
        insert into series
        select distinct on (series_id) series_id, query, query_key, metric, component, exercise, env,
               user, cluster, labels
        from arch
        """
    )
    con.execute("insert into samples select series_id, ts, value, 0 from arch")
    con.unregister("arch")
    warnings = [str(w) for w in manifest.get("warnings") or []]
    con.execute(
        "insert into fetches values (0, 'archive', 'archive', ?, ?, ?, ?, '', 0, 0, ?, ?)",
        [
            window.start,
            window.end,
            config.step_s,
            str(manifest.get("source", "")),
            warnings,
            datetime.now(UTC),
        ],
    )
    return con, config, window, manifest
