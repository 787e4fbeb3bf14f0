"""Publishing an archive: a staging folder beside ``--out``, swapped into place with renames.

A reader sees the previous archive or the new one, never a mix. The working store
(``store.duckdb``) and the recorded responses move along with the swap. An interrupted
publish is finished or rolled back by :func:`recover` at the start of the next run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from ocq_batch.archive.layout import MANIFEST, OWN_FILES, REPLAY_DIR, STORE_FILES
from ocq_batch.durable import fsync_dir, fsync_files
from ocq_batch.errors import ArchiveError


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
