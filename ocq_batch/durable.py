"""Making written files and renames survive a power cut (fsync), on POSIX systems.

A rename lives in its directory: until the directory is fsynced, a crash may forget it
even though the file's bytes are on disk. Windows cannot open a directory, and NTFS
journals renames, so the directory part is skipped there.
"""

from __future__ import annotations

import os
from pathlib import Path

from ocq_batch.oserror import naming


def fsync_dir(folder: Path) -> None:
    """Make the names created, renamed or removed in ``folder`` durable."""
    if os.name == "posix":
        _fsync(folder)


def fsync_files(folder: Path) -> None:
    """Flush the bytes of every regular file directly inside ``folder`` to disk."""
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.is_symlink():
            _fsync(path)


def _fsync(path: Path) -> None:
    with naming(path):  # an fsync error (EIO) names no file itself
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
