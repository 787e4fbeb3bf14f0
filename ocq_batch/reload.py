"""Rebuild a working store from an archive's samples, to audit it without refetching."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from ocq_batch.analysis.reading import read_archive
from ocq_batch.analysis.rescore import Rescorer
from ocq_batch.config import Config
from ocq_batch.pipeline import Window


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
