"""Rebuild a working store from an archive's samples, to audit it without refetching."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ocq_batch.analysis.reading import read_archive
from ocq_batch.analysis.rescore import Rescorer
from ocq_batch.config import Config
from ocq_batch.pipeline import Window

# Checks an archive cannot recompute: they read samples after --to, which it does not hold.
# Its own audit (audit.parquet) found them when the export still had those samples.
OUTSIDE_WINDOW_CHECKS = ("completed_after_window",)
CARRIED = " (found by the export's audit: the archive holds no samples after --to)"


def load_archive(folder: Path) -> tuple[duckdb.DuckDBPyConnection, Config, Window, dict[str, Any]]:
    """An in-memory store holding the archive's samples (sha256-checked), its config and window.

    The warnings met while fetching (``--allow-partial``) go back onto their fetches, so
    the audit reports them again.
    """
    archive = read_archive(folder, verify=True)
    con = Rescorer(archive).con
    for warning in archive.manifest.get("warnings") or []:
        query, _, text = str(warning).partition(": ")
        con.execute(
            "update fetches set warnings = list_append(warnings, ?) where query = ?", [text or query, query]
        )
    return con, archive.config, archive.window, archive.manifest


def carried_findings(folder: Path, archived: Config, config: Config) -> pa.Table | None:
    """The archive's own findings of :data:`OUTSIDE_WINDOW_CHECKS` (rows of ``audit.parquet``,
    whose columns are the ``findings`` table's), each message saying where it comes from.
    None when the re-audit scores another environment than the export did: those findings
    were about the archived one."""
    if config.env != archived.env:
        return None
    wanted = [("check", "in", list(OUTSIDE_WINDOW_CHECKS))]
    table = pq.read_table(folder / "audit.parquet", filters=wanted)
    message = pc.binary_join_element_wise(table.column("message"), CARRIED, "")
    return table.set_column(table.schema.get_field_index("message"), "message", message)
