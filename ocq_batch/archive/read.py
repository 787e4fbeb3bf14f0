"""Reading an archive folder back: format, schema version and sha256 checks, config and window."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from ocq_batch import __version__
from ocq_batch.archive.layout import ARCHIVE_VERSION, FORMAT, MANIFEST, sha256_file
from ocq_batch.config.model import Config, Window
from ocq_batch.config.settings import config_from_settings
from ocq_batch.errors import (
    ArchiveError,
    ConfigError,
    NotAnArchiveError,
    SchemaVersionError,
    TamperedFileError,
)
from ocq_batch.timeutil import parse_instant

if TYPE_CHECKING:
    import pandas as pd

TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # only such file stems become view names


@dataclass(frozen=True)
class Archive:
    """One archive folder: its manifest, the config and window that produced it."""

    path: Path
    manifest: dict[str, Any]
    config: Config
    window: Window

    @property
    def name(self) -> str:
        """The event name of the manifest."""
        return str(self.manifest["event"]["name"])

    @property
    def tables(self) -> list[str]:
        """The Parquet tables listed in the manifest (file stems), e.g. ``ranking``."""
        return [n[: -len(".parquet")] for n in self.manifest["files"] if n.endswith(".parquet")]

    def file(self, table: str) -> Path:
        """The Parquet file of ``table``; ArchiveError when the manifest does not list it."""
        if table not in self.tables:
            raise ArchiveError(f"{self.path} has no table {table!r}; it has {', '.join(self.tables)}")
        return self.path / f"{table}.parquet"

    def read(self, table: str) -> pd.DataFrame:
        """One table as written (timestamps UTC)."""
        return pq.read_table(self.file(table)).to_pandas()


API_SKIP = "verify=False skips this check"  # how the Python API opens a changed archive anyway
CLI_SKIP = "nothing from it is re-scored until then"  # the command line has no such switch


def read_archive(path: str | Path, verify: bool = True, skip_hint: str = API_SKIP) -> Archive:
    """Open one archive folder, checking format, schema version and (``verify``) every sha256.

    ``skip_hint`` ends the message of a changed file: how the caller's user could open it
    anyway (the Python API's ``verify=False``; the command line passes :data:`CLI_SKIP`).
    """
    folder = Path(path).expanduser()
    where = folder / MANIFEST
    hint = "pass a folder written by 'ocq-batch export --out DIR'"
    if not where.is_file():
        raise NotAnArchiveError(f"{folder} is not an ocq-batch archive (no {MANIFEST}); {hint}")
    try:
        manifest = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NotAnArchiveError(f"{where} cannot be read as JSON ({exc}); {hint}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise NotAnArchiveError(f"{where} has format {found!r}, not {FORMAT!r}; {hint}")
    version = manifest.get("schema_version")
    if version != ARCHIVE_VERSION:
        raise SchemaVersionError(
            f"{folder} has archive schema version {version!r}; ocq-batch {__version__} reads version "
            f"{ARCHIVE_VERSION}. Open it with the ocq-batch that wrote it "
            f"({manifest.get('tool_version', 'unknown version')}) or export it again"
        )
    for name, info in manifest.get("files", {}).items():
        file = folder / name
        if not file.is_file():
            raise TamperedFileError(f"{file} is listed in the manifest but missing; export the archive again")
        if verify and sha256_file(file) != info.get("sha256"):
            raise TamperedFileError(
                f"{file} no longer matches the sha256 in {MANIFEST}: it changed after the export; "
                f"restore it or export the archive again ({skip_hint})"
            )
    try:
        config = config_from_settings(manifest["config"]["settings"], origin=str(where))
        window = Window(parse_instant(manifest["window"]["from"]), parse_instant(manifest["window"]["to"]))
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise NotAnArchiveError(f"{where}: config or window unreadable ({exc}); export it again") from None
    return Archive(folder, manifest, config, window)


def event_labels(archives: Sequence[Archive]) -> list[str]:
    """One label per archive: the event name, plus the folder name where names clash."""
    names = [a.name for a in archives]
    labels = [
        n if names.count(n) == 1 else f"{n} ({a.path.name})" for n, a in zip(names, archives, strict=True)
    ]
    return [lb if labels.count(lb) == 1 else f"{lb} #{i + 1}" for i, lb in enumerate(labels)]
