"""What the fault tests (``tests/test_faults_*.py``) share.

A small recorded event and the digests of its uninterrupted exports; runs of the installed
``ocq-batch`` stopped on purpose at a named moment (``OCQ_TEST_STOP_AT``, see
:mod:`ocq_batch.faultpoint`); the invariants every probe checks (a whole archive at
``--out``, one line on stderr and the documented exit code, nothing half-written left, a
rerun byte-identical to an uninterrupted run); a reader that polls the archive while a run
goes on; and scratch file systems (a small tmpfs, an immutable folder, a read-only bind
mount), which need root; without it the tests that need them are skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from conftest import ocq_batch_cmd

from ocq_batch.archive.layout import MANIFEST, REPLAY_DIR, SPILL_DIR, STORE_FILES
from ocq_batch.archive.read import read_archive
from ocq_batch.faultpoint import VARIABLE

SMALL_EVENT = ("--participants", "12", "--clusters", "2", "--seed", "5")
TIMEOUT_S = 120
INTERRUPTED = "interrupted: nothing half-written was left"


def env_with(stop: str | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a run, with the fault point ``stop`` (None: run to the end)."""
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    if stop:
        env[VARIABLE] = stop
    return {**env, **(extra or {})}


def ocq(
    *args: str, stop: str | None = None, env: Mapping[str, str] | None = None, **popen: object
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``ocq-batch`` to its end (bounded by :data:`TIMEOUT_S`)."""
    return subprocess.run(  # type: ignore[call-overload,no-any-return]
        [*ocq_batch_cmd(), *args],
        env=env_with(stop, env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        **popen,
    )


def start(
    *args: str, stop: str | None = None, env: Mapping[str, str] | None = None, **popen: object
) -> subprocess.Popen[str]:
    """Start the installed ``ocq-batch`` without waiting for it."""
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        [*ocq_batch_cmd(), *args],
        env=env_with(stop, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Wait for ``proc`` (bounded); its exit code, stdout and stderr."""
    out, err = proc.communicate(timeout=TIMEOUT_S)
    return proc.returncode, out, err


def wait_for(path: Path, timeout_s: float = 60.0) -> None:
    """Wait until ``path`` exists (a paused run's marker), at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear in {timeout_s} s"
        time.sleep(0.01)


def stderr_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def assert_one_line(code: int, err: str, expected_code: int, *needles: str) -> str:
    """Exactly one line on stderr, no traceback, the documented exit code; the line."""
    lines = stderr_lines(err)
    assert code == expected_code, (code, err)
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digests(out: Path) -> dict[str, str]:
    """Every file of the archive at ``out`` by sha256, the manifest without its ``created_at``
    (the one thing that differs between two identical runs). The working store and the
    recorded responses are not part of the archive."""
    found = {}
    for path in sorted(out.iterdir()):
        if path.name in (*STORE_FILES, REPLAY_DIR, SPILL_DIR):
            continue
        if path.name == MANIFEST:
            data = json.loads(path.read_text())
            data.pop("created_at")
            found[path.name] = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        else:
            found[path.name] = sha256(path)
    return found


def leftovers(out: Path) -> list[str]:
    """What a run must not leave: staging and retired folders and the lock beside ``out``,
    temporary replay files and DuckDB's spill folder in it."""
    left = [p.name for p in out.parent.glob(f".{out.name}.*")] if out.parent.is_dir() else []
    for where in (out / REPLAY_DIR, out / REPLAY_DIR / "responses"):
        if where.is_dir():
            left += [f"{where.name}/{p.name}" for p in where.iterdir() if re.match(r"^\..*tmp", p.name)]
    if (out / SPILL_DIR).exists():
        left.append(SPILL_DIR)
    return sorted(left)


@dataclass
class Event:
    """A small recorded event and what its uninterrupted exports write.

    ``first`` is the archive of an export into a fresh folder, ``again`` the archive of an
    export over it (every response already in the store: its manifest's load counts say so).
    """

    replay: Path
    first: dict[str, str]
    again: dict[str, str]

    def args(self, out: Path, *extra: str) -> list[str]:
        return ["export", "-q", "--source", str(self.replay), "--out", str(out), *extra]


@pytest.fixture(scope="session")
def small_event(tmp_path_factory: pytest.TempPathFactory) -> Event:
    """12 participants on 2 clusters, recorded by ``ocq-batch simulate``; exported twice."""
    base = tmp_path_factory.mktemp("fault-event")
    replay = base / "replay"
    proc = ocq("simulate", "--out", str(replay), *SMALL_EVENT)
    assert proc.returncode == 0, proc.stderr
    event = Event(replay, {}, {})
    out = base / "reference"
    for name in ("first", "again"):
        proc = ocq(*event.args(out))
        assert proc.returncode == 0, proc.stderr
        setattr(event, name, digests(out))
    assert event.first != event.again  # the load counts differ, and nothing else:
    assert {k for k in event.first if event.first[k] != event.again[k]} == {MANIFEST}
    return event


class Poller(threading.Thread):
    """Reads the archive at ``out`` whole (manifest, every sha256, a table) again and again
    until :meth:`stop`; ``failures`` holds what went wrong, with the time it did."""

    def __init__(self, out: Path) -> None:
        super().__init__(daemon=True)
        self.out = out
        self.reads = 0
        self.failures: list[tuple[float, str]] = []
        self.done = threading.Event()

    def run(self) -> None:
        import pyarrow.parquet as pq

        deadline = time.monotonic() + 10 * TIMEOUT_S
        while not self.done.is_set() and time.monotonic() < deadline:
            try:
                archive = read_archive(self.out)
                try:
                    pq.read_table(archive.file("ranking"))
                finally:
                    archive.close()
                self.reads += 1
            except Exception as exc:
                self.failures.append((time.monotonic(), f"{type(exc).__name__}: {exc}"))
            time.sleep(0.005)

    def stop(self) -> Poller:
        self.done.set()
        self.join(timeout=30)
        return self


@contextmanager
def polling(out: Path) -> Iterator[Poller]:
    """A :class:`Poller` on ``out`` for the body; it must have read the archive at least once."""
    poller = Poller(out)
    poller.start()
    try:
        yield poller
    finally:
        poller.stop()


# ---- scratch file systems (root only) ----------------------------------------------------


def _root_can(*command: str) -> bool:
    return os.geteuid() == 0 and shutil.which(command[0]) is not None


@cache
def can_mount() -> bool:
    """Whether this process may mount a tmpfs (root in a sandbox that allows it)."""
    if not _root_can("mount"):
        return False
    probe = Path(f"/tmp/.ocq-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], check=False)
        if done.returncode != 0:
            return False
        subprocess.run(["umount", str(probe)], check=True)
        return True
    finally:
        probe.rmdir()


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. ``2M``) mounted at ``path`` for the body: a disk that fills."""
    if not can_mount():
        pytest.skip("mounting a tmpfs needs root (the RLIMIT_FSIZE probe runs without it)")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-R", "-i", str(path)], check=False, capture_output=True)
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Fill the file system of ``disk`` with one file until only about ``leave`` bytes are free."""
    filler = disk / "filler"
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    with open(filler, "ab") as fh:
        fh.write(b"\0" * max(0, free - leave))
    return filler


@contextmanager
def immutable(path: Path) -> Iterator[Path]:
    """``path`` made immutable (``chattr +i``): even root cannot write or rename in it."""
    if not _root_can("chattr"):
        pytest.skip("chattr +i needs root")
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)


@contextmanager
def read_only_bind(path: Path) -> Iterator[Path]:
    """``path`` bind-mounted over itself read-only: a read-only file system (EROFS)."""
    if not can_mount():
        pytest.skip("a read-only bind mount needs root")
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
