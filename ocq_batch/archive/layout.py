"""What an archive folder holds: its files and their names, its format version, their digests.

An archive is the ``--out`` folder of an export: one Parquet file per table (in
:data:`TABLES` order), ``ranking.csv``, the reports and ``manifest.json``, which lists
every file with its row count, size and sha256. The working store and the recorded
responses live beside them in the same folder and move with it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

FORMAT = "ocq-archive"
MANIFEST = "manifest.json"
STORE_NAME = "store.duckdb"
STORE_FILES = (STORE_NAME, STORE_NAME + ".wal")
REPLAY_DIR = "replay"  # responses recorded from a live server, kept across runs like the store
SPILL_DIR = STORE_NAME + ".tmp"  # DuckDB's temporary files beyond its memory limit (a run's own)
# what ocq-batch may find in an output folder it is about to replace
OWN_FILES = {MANIFEST, "ranking.csv", "report.md", "report.html", REPLAY_DIR, SPILL_DIR, *STORE_FILES}

# the layout of an archive (files, columns, manifest); the store's schema has its own version
ARCHIVE_VERSION = 1

# the Parquet files, in the order they are written; each is the query sql/archive/<name>.sql
TABLES = (
    "participants",
    "samples",
    "transitions",
    "completions",
    "scores",
    "ranking",
    "timeline",
    "robustness",
    "audit",
    "live_vs_batch",
)


def sha256_file(path: Path) -> str:
    """The sha256 (hex) of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
