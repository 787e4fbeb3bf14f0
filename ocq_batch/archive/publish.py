"""Publishing an archive: a staging folder beside ``--out``, exchanged with it in one step.

The export writes the whole archive into ``.<out>.staging-<id>`` (beside ``--out``, so on the
same file system), flushes it to disk, moves the working store and the recorded responses
from the old archive into it, and exchanges the two folders' names
(:func:`~ocq_batch.archive.swap.exchange`, ``renameat2`` with ``RENAME_EXCHANGE``): ``--out``
is the old archive, then the new one, never missing and never a mix. The old archive, now
under the staging name, is removed last.

Where the exchange is unavailable the fallback is two renames, ``--out`` to
``.<out>.old-<id>`` and the staging folder to ``--out``. Between them ``--out`` is missing
for an instant; a process killed right there leaves it missing until the next writing
command, whose :func:`recover` puts the new archive in place (a reader meanwhile says so).

Signals wait for the moves (:func:`ocq_batch.signals.deferred`), so an interrupted run
published whole or not at all. Every step runs under the folder's lock
(:mod:`ocq_batch.lock`), so :func:`recover` at the start of the next run never touches the
staging folder of an export still running.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from ocq_batch import faultpoint, signals
from ocq_batch.archive.layout import MANIFEST, OWN_FILES, REPLAY_DIR, SPILL_DIR, STORE_FILES
from ocq_batch.archive.swap import exchange
from ocq_batch.durable import fsync_dir, fsync_files
from ocq_batch.errors import ArchiveError, DiskError
from ocq_batch.oserror import disk_error

WORKING = (*STORE_FILES, REPLAY_DIR)  # what lives in --out between runs and moves with the archive


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
    before the swap, and the swap itself after, so that a power cut leaves the previous
    archive or the new one, never a new name over missing bytes. On a failure the working
    files go back into ``out`` and the previous archive stays.
    """
    if not (staging / MANIFEST).exists():
        raise ArchiveError(f"refusing to publish {staging}: it has no manifest")
    try:
        fsync_files(staging)
        fsync_dir(staging)
        faultpoint.reach("publish:synced")
        with signals.deferred():
            retired = _swap(staging, out, WORKING if store_inside else (REPLAY_DIR,))
            try:
                fsync_dir(out)  # the store and replay folder moved into it
                fsync_dir(out.parent)
                faultpoint.reach("publish:done")
            finally:
                if retired is not None:
                    shutil.rmtree(retired, ignore_errors=True)
    except OSError as exc:
        mapped = disk_error(exc, staging)
        text = str(mapped) if mapped is not None else str(exc)
        raise DiskError(f"could not move the archive into {out}: {text}", str(out), exc.errno) from None


def _swap(staging: Path, out: Path, names: tuple[str, ...]) -> Path | None:
    """Make ``staging`` the folder ``out``; the folder now holding the old archive, if any."""
    if not out.exists():
        os.rename(staging, out)  # the first archive: nothing to keep, nothing to retire
        return None
    moved: list[str] = []
    swapped = False
    try:
        for name in names:
            if os.path.lexists(out / name):
                os.replace(out / name, staging / name)
                moved.append(name)
                faultpoint.reach("publish:moved", staging / name)
        if exchange(staging, out):
            swapped = True
            faultpoint.reach("publish:exchanged")
            return staging
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(out, old)
        try:
            faultpoint.reach("publish:renamed-old", out)
            os.rename(staging, out)
        except BaseException:
            os.rename(old, out)
            raise
        swapped = True
        faultpoint.reach("publish:renamed-new")
        return old
    except BaseException:
        if not swapped:
            _move_home(staging, out, moved)
        raise


def _move_home(folder: Path, out: Path, names: list[str] | tuple[str, ...]) -> None:
    """Move the working files ``names`` found in ``folder`` back into ``out`` where it lacks them."""
    for name in names:
        src = folder / name
        if os.path.lexists(src) and not os.path.lexists(out / name):
            out.mkdir(parents=True, exist_ok=True)
            os.replace(src, out / name)


def discard(folder: Path, out: Path) -> None:
    """Remove a staging or retired folder of ``out``, once the working files it holds (the store,
    the recorded responses) are back in ``out`` where it lacks them: those are never lost."""
    try:
        _move_home(folder, out, WORKING)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def recover(out: Path) -> None:
    """Finish or roll back a publish that an earlier run did not complete, and remove what it
    left half-written. Only under ``out``'s lock: every folder it removes is then a dead run's."""
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
        discard(folder, out)
    if (out / SPILL_DIR).is_dir():  # DuckDB's temporary files of a killed run
        shutil.rmtree(out / SPILL_DIR, ignore_errors=True)
