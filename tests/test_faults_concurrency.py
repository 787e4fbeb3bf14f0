"""Two commands at once: a lock per --out and per --store, readers that take none.

A second writing command fails at once with one line naming the first (PID, command, since
when) and --wait, or waits for it with --wait; start-up clean-up never touches a folder whose
lock is held, and a dead run's lock is taken over with one warning. ``verify --archive``
and ``analysis.open_archives`` read one generation of an archive while an export
republishes it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from faultkit import (
    Event,
    assert_one_line,
    digests,
    finish,
    leftovers,
    ocq,
    polling,
    start,
    stderr_lines,
    wait_for,
)

from ocq_batch import analysis
from ocq_batch.lock import FolderLock, lock_path, locked

HOLDER = re.compile(r"in use by another ocq-batch, PID (\d+) \('(.+)', since (\S+)\); .*--wait 10m")


def paused(event: Event, out: Path, point: str, marker: Path, *extra: str) -> subprocess.Popen[str]:
    proc = start(*event.args(out, *extra), stop=f"{point}=pause:{marker}")
    wait_for(marker)
    return proc


@pytest.mark.parametrize("point", ["lock:held", "archive:file#3", "publish:done"])
def test_a_second_export_fails_at_once_naming_the_first(
    small_event: Event, tmp_path: Path, point: str
) -> None:
    """Whether the first is starting, half-way through its staging folder, or has just
    published (its old archive not yet removed): the second touches nothing of it."""
    out, marker = tmp_path / "out", tmp_path / "paused"
    assert ocq(*small_event.args(out)).returncode == 0
    first = paused(small_event, out, point, marker)
    beside = sorted(p.name for p in tmp_path.iterdir())
    began = time.monotonic()
    second = ocq(*small_event.args(out))
    assert time.monotonic() - began < 10  # at once: no waiting for the first
    line = assert_one_line(second.returncode, second.stderr, 1, f"--out {out}")
    match = HOLDER.search(line)
    assert match and int(match.group(1)) == first.pid, line
    assert "export" in match.group(2) and str(out) in match.group(2)
    assert sorted(p.name for p in tmp_path.iterdir()) == beside  # its staging folder is untouched
    marker.unlink()
    assert finish(first)[0] == 0
    assert digests(out) == small_event.again and leftovers(out) == []


def test_wait_queues_behind_the_first(small_event: Event, tmp_path: Path) -> None:
    out, marker = tmp_path / "out", tmp_path / "paused"
    first = paused(small_event, out, "archive:file#2", marker)
    second = start(*small_event.args(out, "--wait", "2m"))
    time.sleep(1.5)
    assert second.poll() is None  # still waiting
    marker.unlink()
    assert finish(first)[0] == 0
    code, _out, err = finish(second)
    lines = stderr_lines(err)
    assert code == 0 and len(lines) == 1, err
    assert lines[0].startswith(f"waiting up to 2m for ocq-batch PID {first.pid} (") and str(out) in lines[0]
    assert digests(out) == small_event.again and leftovers(out) == []


def test_wait_gives_up_after_its_bound(small_event: Event, tmp_path: Path) -> None:
    out, marker = tmp_path / "out", tmp_path / "paused"
    first = paused(small_event, out, "lock:held", marker)
    began = time.monotonic()
    second = ocq(*small_event.args(out, "--wait", "1s"))
    assert 1.0 <= time.monotonic() - began < 10
    lines = stderr_lines(second.stderr)
    assert second.returncode == 1 and len(lines) == 2, second.stderr
    assert lines[0].startswith("waiting up to 1s")
    assert lines[1].startswith("error: --out") and "still in use after waiting 1s" in lines[1]
    assert f"PID {first.pid}" in lines[1] and "longer --wait" in lines[1]
    marker.unlink()
    assert finish(first)[0] == 0 and leftovers(out) == []


def test_a_bad_wait_is_refused(small_event: Event, tmp_path: Path) -> None:
    proc = ocq(*small_event.args(tmp_path / "out", "--wait", "ten minutes"))
    assert_one_line(proc.returncode, proc.stderr, 1, "--wait", "'ten minutes'", "'5m'")
    proc = ocq(*small_event.args(tmp_path / "out", "--wait", "25h"))
    assert_one_line(proc.returncode, proc.stderr, 1, "--wait '25h' is longer than 24h")


def test_two_exports_started_together(small_event: Event, tmp_path: Path) -> None:
    """Five trials of two exports started at the same instant into one --out: each one
    succeeds or stops at once naming the other; no traceback; a whole archive at the end."""
    out = tmp_path / "out"
    assert ocq(*small_event.args(out)).returncode == 0
    refused = 0
    with polling(out) as poller:
        for _trial in range(5):
            procs = [start(*small_event.args(out)) for _ in range(2)]
            results = [finish(p) for p in procs]
            assert any(code == 0 for code, _o, _e in results), results
            for code, _o, err in results:
                if code != 0:
                    refused += 1
                    assert_one_line(code, err, 1, "is in use by another ocq-batch, PID")
                else:
                    assert err == "", err
            assert digests(out) == small_event.again and leftovers(out) == []
    assert poller.reads > 0 and poller.failures == [], poller.failures
    assert refused >= 1  # they did overlap


def test_the_store_has_a_lock_of_its_own(small_event: Event, tmp_path: Path) -> None:
    store, marker = tmp_path / "shared.duckdb", tmp_path / "paused"
    first = paused(small_event, tmp_path / "a", "lock:held", marker, "--store", str(store))
    second = ocq(*small_event.args(tmp_path / "b", "--store", str(store)))
    assert_one_line(second.returncode, second.stderr, 1, f"--store {store} is in use", f"PID {first.pid}")
    assert not (tmp_path / "b").exists()
    marker.unlink()
    assert finish(first)[0] == 0
    assert not lock_path(store).exists() and not lock_path(tmp_path / "a").exists()


def test_a_store_inside_out_other_than_its_own_is_refused(small_event: Event, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = ocq(*small_event.args(out, "--store", str(out / "mine.duckdb")))
    assert_one_line(proc.returncode, proc.stderr, 1, "is inside --out", "which each export replaces")
    assert not out.exists()
    # the store's own place, named explicitly, is the default one: kept across runs
    for _ in range(2):
        proc = ocq(*small_event.args(out, "--store", str(out / "store.duckdb")))
        assert proc.returncode == 0, proc.stderr
        assert (out / "store.duckdb").is_file()


def test_a_dead_runs_lock_and_staging_are_taken_over(small_event: Event, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert ocq(*small_event.args(out)).returncode == 0
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    holder = {"pid": pid, "command": "ocq-batch export --out out", "since": "2024-10-04T16:00:00Z"}
    lock_path(out).write_text(json.dumps(holder))
    (tmp_path / ".out.staging-deadbeef").mkdir()
    (tmp_path / ".out.staging-deadbeef" / "ranking.parquet").write_text("half-written")
    proc = ocq(*small_event.args(out))
    assert proc.returncode == 0, proc.stderr
    assert stderr_lines(proc.stderr) == [
        f"warning: --out {out}: taking over the lock left by ocq-batch PID {pid} ('ocq-batch export "
        "--out out', since 2024-10-04T16:00:00Z), which ended without releasing it"
    ]
    assert digests(out) == small_event.again and leftovers(out) == []


def test_readers_take_no_lock(small_event: Event, tmp_path: Path) -> None:
    """verify --archive and analysis.open_archives read while an export holds the lock, and
    change no file."""
    out, marker = tmp_path / "out", tmp_path / "paused"
    assert ocq(*small_event.args(out)).returncode == 0
    reference = ocq("verify", "-q", "--archive", str(out))
    assert reference.returncode in (0, 3), reference.stderr
    first = paused(small_event, out, "lock:held", marker)
    lock = lock_path(out).read_bytes()
    files = {p: p.read_bytes() for p in out.iterdir() if p.is_file()}
    proc = ocq("verify", "-q", "--archive", str(out))
    assert (proc.returncode, proc.stdout, proc.stderr) == (reference.returncode, reference.stdout, "")
    with analysis.open_archives(out) as ax:
        assert len(ax.df("ranking")) == 12
    assert lock_path(out).read_bytes() == lock
    assert {p: p.read_bytes() for p in out.iterdir() if p.is_file()} == files
    marker.unlink()
    assert finish(first)[0] == 0


def test_verify_while_an_export_republishes_the_same_folder(small_event: Event, tmp_path: Path) -> None:
    """20 runs of ``verify --archive`` while exports republish the folder without pause: each
    reads one whole generation, so each prints what it prints on a quiet folder."""
    out = tmp_path / "out"
    assert ocq(*small_event.args(out)).returncode == 0
    reference = ocq("verify", "-q", "--archive", str(out))
    stop = threading.Event()
    exports: list[int] = []

    def republish() -> None:
        deadline = time.monotonic() + 600
        while not stop.is_set() and time.monotonic() < deadline:
            exports.append(ocq(*small_event.args(out, "--wait", "1m")).returncode)

    writer = threading.Thread(target=republish, daemon=True)
    writer.start()
    try:
        for _run in range(20):
            proc = ocq("verify", "-q", "--archive", str(out))
            assert "Traceback" not in proc.stderr, proc.stderr
            assert (proc.returncode, proc.stdout, proc.stderr) == (
                reference.returncode,
                reference.stdout,
                reference.stderr,
            )
    finally:
        stop.set()
        writer.join(timeout=120)
    assert len(exports) >= 5 and set(exports) == {0}, exports
    assert digests(out) == small_event.again and leftovers(out) == []


def test_open_archives_holds_its_generation(small_event: Event, tmp_path: Path) -> None:
    """An archive opened in a notebook keeps reading what it opened after the folder was
    republished (and the old generation deleted)."""
    out = tmp_path / "out"
    assert ocq(*small_event.args(out)).returncode == 0
    ax = analysis.open_archives(out)
    try:
        before = ax.df("ranking")
        manifest = ax.archive().manifest["created_at"]
        assert ocq(*small_event.args(out)).returncode == 0
        assert json.loads((out / "manifest.json").read_text())["created_at"] != manifest
        assert ax.df("ranking").equals(before)
        assert len(ax.df("samples")) > 0 and ax.archive().read("scores").shape[0] > 0
    finally:
        ax.close()


def test_the_lock_in_process(tmp_path: Path) -> None:
    """FolderLock: re-entrant in one process, refused to another, its file removed on release."""
    target = tmp_path / "out"
    with locked([(target, "--out")]):
        holder = json.loads(lock_path(target).read_text())
        assert holder["pid"] == os.getpid()
        with locked([(target, "--out")]):  # the same process again: free
            pass
        assert lock_path(target).exists()
        code = (
            "import sys; from pathlib import Path; from ocq_batch.lock import FolderLock\n"
            f"FolderLock(Path({str(target)!r}), '--out').acquire()\n"
        )
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert (
            other.returncode == 1 and "LockedError" in other.stderr and f"PID {os.getpid()}" in other.stderr
        )
    assert not lock_path(target).exists()
    lock_path(target).write_text("not a holder")  # someone else's file: taken without a word
    with FolderLock(target, "--out") as lock:
        lock.acquire()
        assert json.loads(lock_path(target).read_text())["pid"] == os.getpid()
    assert not lock_path(target).exists()


@pytest.mark.parametrize("command", ["fetch", "simulate"])
def test_fetch_and_simulate_lock_their_folder(tmp_path: Path, command: str) -> None:
    folder = tmp_path / "rec"
    with locked([(folder, "--out")]):
        if command == "fetch":
            proc = ocq("fetch", "-q", "--source", "http://127.0.0.1:9", "--out", str(folder))
        else:
            proc = ocq("simulate", "--out", str(folder), "--participants", "3")
        assert_one_line(proc.returncode, proc.stderr, 1, f"--out {folder} is in use", f"PID {os.getpid()}")
        assert not folder.exists()
