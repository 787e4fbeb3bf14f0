"""Every OS error is one line naming the path and what to do, exit code 1, nothing half-written.

A full disk is a small tmpfs (root in this sandbox may mount one: real ENOSPC) filled to
the byte count under test, and a file-size limit (``RLIMIT_FSIZE``, no root needed: EFBIG);
an unwritable folder is ``chattr +i`` (immutable: as root, ``chmod 0555`` stops nothing)
or a read-only bind mount (EROFS); a damaged store has its bytes overwritten.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from faultkit import (
    Event,
    assert_one_line,
    digests,
    fill,
    immutable,
    leftovers,
    ocq,
    read_only_bind,
    tmpfs,
)
from test_faults_publish import rerun_is_whole

from ocq_batch.archive.layout import MANIFEST, REPLAY_DIR, STORE_NAME
from ocq_batch.archive.read import read_archive
from ocq_batch.lock import lock_path

FULL = "no space left on the device"
AGAIN = "then run the command again"


def clean_failure(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """One line, exit code 1, naming what it must; never the old "another ocq-batch" guess."""
    line = assert_one_line(proc.returncode, proc.stderr, 1, *needles)
    assert line.startswith("error: ") and "another ocq-batch" not in line
    return line


def disk_failure(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    return clean_failure(proc, *needles, AGAIN)


@pytest.mark.parametrize("leave", [0, 16_000, 48_000, 96_000])
def test_a_full_disk_under_the_archive(small_event: Event, tmp_path: Path, leave: int) -> None:
    """--out on a disk that fills at four moments (the lock, the staging folder, its Parquet
    files, the reports): the previous archive stays whole, nothing is left, and once space is
    freed the same command writes the same archive."""
    store = tmp_path / "store.duckdb"
    with tmpfs(tmp_path / "disk", "4M") as disk:
        out = disk / "out"
        assert ocq(*small_event.args(out, "--store", str(store))).returncode == 0
        before = digests(out)
        filler = fill(disk, leave)
        proc = ocq(*small_event.args(out, "--store", str(store)))
        line = disk_failure(proc, FULL)
        assert str(disk) in line  # names the path on that disk
        assert digests(out) == before and leftovers(out) == []
        read_archive(out).close()
        filler.unlink()
        again = ocq(*small_event.args(out, "--store", str(store)))
        assert again.returncode == 0, again.stderr
        assert digests(out) == small_event.again and leftovers(out) == []


@pytest.mark.parametrize("size", ["64k", "200k"])
def test_a_full_disk_under_the_store(small_event: Event, tmp_path: Path, size: str) -> None:
    """The store on a disk of 64 kB or 200 kB (this event's samples need about 250 kB of
    write-ahead log): DuckDB's error names the file; no archive and no folder are left; with
    space, the same command succeeds."""
    out = tmp_path / "out"
    with tmpfs(tmp_path / "disk", size) as disk:
        store = disk / "ocq.duckdb"
        proc = ocq(*small_event.args(out, "--store", str(store)))
        line = disk_failure(proc, FULL, str(disk))
        assert "ocq.duckdb" in line
        assert not out.exists() and leftovers(out) == [] and not lock_path(store).exists()
        subprocess.run(["mount", "-o", "remount,size=64M", str(disk)], check=True)
        proc = ocq(*small_event.args(out, "--store", str(store)))
        assert proc.returncode == 0, proc.stderr
        assert {k: v for k, v in digests(out).items() if k != MANIFEST} == {
            k: v for k, v in small_event.first.items() if k != MANIFEST
        }


def test_a_full_disk_while_recording_from_a_server(prometheus, tmp_path: Path) -> None:
    """A live export whose --out (with the recorded responses) fills: one line naming the
    response file, no temporary file left, the responses recorded so far kept to resume."""
    store, reference = tmp_path / "store.duckdb", tmp_path / "reference"
    args = ["export", "-q", "--source", prometheus.url, "--from", "2024-10-04T13:15:00Z"]
    args += ["--to", "2024-10-04T15:45:00Z"]
    assert ocq(*args, "--out", str(reference), "--store", str(tmp_path / "ref.duckdb")).returncode == 0
    with tmpfs(tmp_path / "disk", "160k") as disk:
        out = disk / "out"
        proc = ocq(*args, "--out", str(out), "--store", str(store))
        line = disk_failure(proc, FULL, f"{out}/{REPLAY_DIR}/")
        assert leftovers(out) == [] and not (out / MANIFEST).exists()
        kept = len((out / REPLAY_DIR / "index.jsonl").read_text().splitlines())
        assert kept > 0, line
        subprocess.run(["mount", "-o", "remount,size=8M", str(disk)], check=True)
        proc = ocq(*args, "--out", str(out), "--store", str(store))
        assert proc.returncode == 0, proc.stderr
        assert leftovers(out) == []
        ours, theirs = digests(out), digests(reference)
        assert {k: v for k, v in ours.items() if k != MANIFEST} == {
            k: v for k, v in theirs.items() if k != MANIFEST
        }


def limit_file_size(limit: int) -> None:
    """In the child: files may not grow past ``limit`` bytes (EFBIG), as on a nearly full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel ends the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize(("first", "limit"), [(True, 4_096), (True, 40_000), (False, 4_096), (False, 40_000)])
def test_a_file_size_limit(small_event: Event, tmp_path: Path, first: bool, limit: int) -> None:
    """No root needed: a file-size limit makes the store's next write fail with EFBIG (its
    write-ahead log is the first file to grow, in a first run as in a rerun)."""
    out = tmp_path / "out"
    if not first:
        assert ocq(*small_event.args(out)).returncode == 0
    before = None if first else digests(out)
    proc = ocq(*small_event.args(out), preexec_fn=lambda: limit_file_size(limit))
    disk_failure(proc, f"{out / STORE_NAME}", "file too large", "ulimit -f")
    assert leftovers(out) == []
    if first:
        assert not out.exists()
        assert ocq(*small_event.args(out)).returncode == 0
        assert digests(out) == small_event.first
    else:
        assert digests(out) == before and (out / STORE_NAME).is_file()
        rerun_is_whole(small_event, out, small_event.again)


def test_an_immutable_parent_folder(small_event: Event, tmp_path: Path) -> None:
    parent = tmp_path / "results"
    out = parent / "out"
    assert ocq(*small_event.args(out)).returncode == 0
    before = digests(out)
    with immutable(parent):
        proc = ocq(*small_event.args(out))
        disk_failure(proc, f"{parent}/.out.lock", "operation not permitted", "chattr -i")
        assert digests(out) == before
        verify = ocq("verify", "-q", "--archive", str(out))  # reading needs no write
        assert verify.returncode in (0, 3) and verify.stderr == "", verify.stderr
    assert leftovers(out) == []


def test_an_immutable_out_folder(small_event: Event, tmp_path: Path) -> None:
    """The store inside cannot take its write-ahead log, nor leave for the staging folder."""
    out = tmp_path / "out"
    assert ocq(*small_event.args(out)).returncode == 0
    before = digests(out)
    with immutable(out):
        proc = ocq(*small_event.args(out))
        disk_failure(proc, str(out), "operation not permitted")
        assert digests(out) == before
    assert leftovers(out) == [] and (out / STORE_NAME).is_file()
    rerun_is_whole(small_event, out, small_event.again)


def test_a_read_only_store_file(small_event: Event, tmp_path: Path) -> None:
    """Reported as what it is, never as "is another ocq-batch using it?"."""
    out = tmp_path / "out"
    assert ocq(*small_event.args(out)).returncode == 0
    with immutable(out / STORE_NAME):
        proc = ocq(*small_event.args(out))
        disk_failure(proc, f"{out / STORE_NAME}", "operation not permitted", "chattr -i")
    assert leftovers(out) == []


def test_a_read_only_file_system(small_event: Event, tmp_path: Path) -> None:
    parent = tmp_path / "results"
    out = parent / "out"
    assert ocq(*small_event.args(out)).returncode == 0
    before = digests(out)
    with read_only_bind(parent):
        proc = ocq(*small_event.args(out))
        disk_failure(proc, str(parent), "read-only file system", "remount it read-write")
        verify = ocq("verify", "-q", "--archive", str(out))
        assert verify.returncode in (0, 3) and verify.stderr == "", verify.stderr
        store = tmp_path / "elsewhere"
        store.mkdir()
        proc = ocq(*small_event.args(store / "out", "--store", str(out / STORE_NAME)))
        disk_failure(proc, "read-only file system")
        assert not (store / "out").exists()
    assert digests(out) == before and leftovers(out) == []


@pytest.mark.parametrize("where", ["header", "blocks"])
def test_a_damaged_store(small_event: Event, tmp_path: Path, where: str) -> None:
    """Its first bytes (DuckDB then says it is no database) or every block after its headers
    (a checksum error) overwritten: one line naming it and what to do, and doing that works."""
    out = tmp_path / "out"
    assert ocq(*small_event.args(out)).returncode == 0
    before = digests(out)
    store = out / STORE_NAME
    size = store.stat().st_size
    with open(store, "r+b") as fh:
        if where == "header":
            fh.write(b"garbage" * 100)
        else:
            fh.seek(3 * 4096)  # DuckDB's three headers come first
            fh.write(os.urandom(size - 3 * 4096))
    proc = ocq(*small_event.args(out))
    clean_failure(proc, f"store {store} is damaged", "move it aside and run the command again")
    assert digests(out) == before and leftovers(out) == []
    shutil.move(store, tmp_path / "damaged.duckdb")  # what the message says to do
    proc = ocq(*small_event.args(out))
    assert proc.returncode == 0, proc.stderr
    found = json.loads((out / MANIFEST).read_text())["load"]
    assert found["responses_already_loaded"] == 0  # rebuilt from the source
    assert digests(out) == small_event.first
