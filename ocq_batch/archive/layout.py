"""What an archive folder holds: its files and their names, its format version, their digests.

An archive is the ``--out`` folder of an export: one Parquet file per table (in
:data:`TABLES` order), ``ranking.csv`` (and ``ranking.xlsx`` when asked), the reports
(:data:`REPORTS`) and ``manifest.json``, which lists
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
REPORTS = ("report.md", "report.html", "ceremony.html")  # written last: they show the data's digest
OWN_FILES = {MANIFEST, "ranking.csv", "ranking.xlsx", *REPORTS, REPLAY_DIR, SPILL_DIR, *STORE_FILES}

# the layout of an archive (files, columns, manifest); the store's schema has its own version
ARCHIVE_VERSION = 2  # 2: samples at the times the TSDB stores them; completions' lineage columns

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


def data_digest(files: dict[str, dict[str, object]]) -> tuple[str, tuple[str, ...]]:
    """The sha256 of an archive's data: of the lines ``"<name> <sha256>\\n"`` of every file of
    ``files`` (the manifest's entries) but the reports, sorted by name; and those names.

    The reports show it (they cannot hold their own sha256, which the manifest lists), so a
    reader can check a report against the manifest of the data it was made from.
    """
    names = tuple(sorted(n for n in files if n not in REPORTS))
    blob = "".join(f"{n} {files[n]['sha256']}\n" for n in names)
    return hashlib.sha256(blob.encode()).hexdigest(), names


def sha256_file(path: Path) -> str:
    """The sha256 (hex) of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
