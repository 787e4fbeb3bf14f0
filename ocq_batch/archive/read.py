"""Reading an archive folder back: one generation of it, whole, with its checks.

An export republishes ``--out`` by swapping in a new folder and deleting the old one
(:mod:`ocq_batch.archive.publish`), so a reader that named files by path could read one
file of the old archive and the next of the new. :func:`read_archive` therefore opens the
folder once and, through that one directory, the manifest and every file it lists, and
keeps them open (:class:`Generation`): on Linux every later read goes through those open
files (``/proc/self/fd``), so an archive once opened never changes under its reader, even
when the folder is republished or removed meanwhile. Elsewhere the files are read by path,
and a republish in the middle of the checks makes the reader start again once.

When the folder changed while it was being opened (a file vanished, a sha256 no longer
matched, the manifest was gone), it is opened again once from the new generation; a second
change is an error that says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from ocq_batch import __version__
from ocq_batch.archive.layout import ARCHIVE_VERSION, FORMAT, MANIFEST
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
# a file held open stays readable through this path after it is renamed or deleted
PINNED = sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")
PUBLISH_WAIT_S = 2.0  # how long a reader waits for --out when a publish is moving it (fallback)


class Generation:
    """The files of one archive folder as they were when it was opened, held open.

    :meth:`path` names a file so that reading it reads those bytes, whatever has happened
    to the folder since. :meth:`close` (or the garbage collector) closes them.
    """

    def __init__(self, folder: Path, fds: dict[str, int]) -> None:
        self.folder = folder
        self._fds = fds
        self._finalizer = weakref.finalize(self, _close_all, list(fds.values()))

    def path(self, name: str) -> Path:
        """Where to read ``name`` of this generation from (``/proc/self/fd/<n>`` on Linux)."""
        if not self._finalizer.alive:
            raise ArchiveError(f"the archive {self.folder} was closed; open it again to read it")
        fd = self._fds.get(name)
        return Path(f"/proc/self/fd/{fd}") if PINNED and fd is not None else self.folder / name

    def close(self) -> None:
        self._finalizer()


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


@dataclass(frozen=True)
class Archive:
    """One archive folder: its manifest, the config and window that produced it, and (from
    :func:`read_archive`) the generation of its files that was opened and checked."""

    path: Path
    manifest: dict[str, Any]
    config: Config
    window: Window
    generation: Generation | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The event name of the manifest."""
        return str(self.manifest["event"]["name"])

    @property
    def tables(self) -> list[str]:
        """The Parquet tables listed in the manifest (file stems), e.g. ``ranking``."""
        return [n[: -len(".parquet")] for n in self.manifest["files"] if n.endswith(".parquet")]

    def file(self, table: str) -> Path:
        """The Parquet file of ``table`` (of the generation opened); ArchiveError when the
        manifest does not list it."""
        if table not in self.tables:
            raise ArchiveError(f"{self.path} has no table {table!r}; it has {', '.join(self.tables)}")
        name = f"{table}.parquet"
        return self.generation.path(name) if self.generation is not None else self.path / name

    def read(self, table: str) -> pd.DataFrame:
        """One table as written (timestamps UTC)."""
        return pq.read_table(self.file(table)).to_pandas()

    def close(self) -> None:
        """Close the files held open; the archive is no longer readable through them."""
        if self.generation is not None:
            self.generation.close()


class _Changed(Exception):
    """The folder was republished while being opened; ``reason`` is what gave it away."""

    def __init__(self, reason: ArchiveError) -> None:
        super().__init__(str(reason))
        self.reason = reason


API_SKIP = "verify=False skips this check"  # how the Python API opens a changed archive anyway
CLI_SKIP = "nothing from it is re-scored until then"  # the command line has no such switch


def read_archive(path: str | Path, verify: bool = True, skip_hint: str = API_SKIP) -> Archive:
    """Open one generation of an archive folder, checking format, schema version and
    (``verify``) every sha256; opened again once when it was republished meanwhile.

    ``skip_hint`` ends the message of a changed file: how the caller's user could open it
    anyway (the Python API's ``verify=False``; the command line passes :data:`CLI_SKIP`).
    """
    folder = Path(path).expanduser()
    for attempt in (1, 2):
        _await_publish(folder)
        try:
            return _read_once(folder, verify, skip_hint)
        except _Changed as changed:
            if attempt == 2:
                raise ArchiveError(
                    f"{folder} changed twice while it was being read ({changed.reason}): another "
                    "ocq-batch is republishing it; read it again when that export is done"
                ) from None
    raise AssertionError("unreachable")


def _await_publish(folder: Path) -> None:
    """Where renames replace the folder (no exchange), it is missing for an instant: a reader
    that finds it missing while a publish is under way waits a moment for it."""
    deadline = time.monotonic() + PUBLISH_WAIT_S
    while not folder.exists() and _publishing(folder) and time.monotonic() < deadline:
        time.sleep(0.02)


def _publishing(folder: Path) -> bool:
    parent = folder.parent
    return parent.is_dir() and any(parent.glob(f".{folder.name}.old-*"))


def _read_once(folder: Path, verify: bool, skip_hint: str) -> Archive:
    hint = "pass a folder written by 'ocq-batch export --out DIR'"
    where = folder / MANIFEST
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        missing = f"{folder} is not an ocq-batch archive (no {MANIFEST}); {hint}"
        if _publishing(folder):
            missing = (
                f"{folder} is missing: an export was stopped while publishing it (its previous "
                f"archive is in {folder.parent}/.{folder.name}.old-*); run that export again to finish it"
            )
        raise NotAnArchiveError(missing) from None
    fds: dict[str, int] = {}
    try:
        try:
            return _check(folder, dir_fd, fds, verify, hint, skip_hint)
        except (ArchiveError, OSError) as exc:
            if _same_folder(folder, dir_fd):
                if isinstance(exc, OSError):
                    raise ArchiveError(f"{where}: {exc}; {hint}") from None
                raise
            reason = exc if isinstance(exc, ArchiveError) else ArchiveError(str(exc))
            raise _Changed(reason) from None
    except BaseException:
        _close_all(list(fds.values()))
        raise
    finally:
        os.close(dir_fd)


def _same_folder(folder: Path, dir_fd: int) -> bool:
    """Whether ``folder`` is still the directory opened as ``dir_fd``."""
    try:
        now = os.stat(folder)
    except OSError:
        return False
    then = os.fstat(dir_fd)
    return (now.st_dev, now.st_ino) == (then.st_dev, then.st_ino)


def _check(
    folder: Path, dir_fd: int, fds: dict[str, int], verify: bool, hint: str, skip_hint: str
) -> Archive:
    where = folder / MANIFEST
    try:
        fds[MANIFEST] = os.open(MANIFEST, os.O_RDONLY, dir_fd=dir_fd)
    except FileNotFoundError:
        raise NotAnArchiveError(f"{folder} is not an ocq-batch archive (no {MANIFEST}); {hint}") from None
    try:
        manifest = json.loads(_read_fd(fds[MANIFEST]))
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
        if Path(name).name != name or name.startswith("."):
            raise NotAnArchiveError(f"{where} lists {name!r}, which is not a file of the folder; {hint}")
        try:
            fds[name] = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
        except FileNotFoundError:
            raise TamperedFileError(
                f"{file} is listed in the manifest but missing; export the archive again"
            ) from None
        if verify and _sha256_fd(fds[name]) != info.get("sha256"):
            raise TamperedFileError(
                f"{file} no longer matches the sha256 in {MANIFEST}: it changed after the export; "
                f"restore it or export the archive again ({skip_hint})"
            )
    try:
        config = config_from_settings(manifest["config"]["settings"], origin=str(where))
        window = Window(parse_instant(manifest["window"]["from"]), parse_instant(manifest["window"]["to"]))
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise NotAnArchiveError(f"{where}: config or window unreadable ({exc}); export it again") from None
    generation = Generation(folder, dict(fds))
    fds.clear()  # the generation owns them now
    return Archive(folder, manifest, config, window, generation)


def _read_fd(fd: int) -> bytes:
    parts, offset = [], 0
    while block := os.pread(fd, 1 << 20, offset):
        parts.append(block)
        offset += len(block)
    return b"".join(parts)


def _sha256_fd(fd: int) -> str:
    """The sha256 (hex) of an open file's bytes, read in 1 MiB blocks from its start."""
    h, offset = hashlib.sha256(), 0
    while block := os.pread(fd, 1 << 20, offset):
        h.update(block)
        offset += len(block)
    return h.hexdigest()


def event_labels(archives: Sequence[Archive]) -> list[str]:
    """One label per archive: the event name, plus the folder name where names clash."""
    names = [a.name for a in archives]
    labels = [
        n if names.count(n) == 1 else f"{n} ({a.path.name})" for n, a in zip(names, archives, strict=True)
    ]
    return [lb if labels.count(lb) == 1 else f"{lb} #{i + 1}" for i, lb in enumerate(labels)]
