"""Real SIGINT and SIGTERM sent to a real ``ocq-batch export``: at named moments (the run
paused there by ``OCQ_TEST_STOP_AT=<point>=pause:<file>``) and at moments spread over the
run (mostly inside DuckDB's work and the Parquet writer). Each gives the one "interrupted"
line and exit code 130 or 143, leaves nothing half-written, and --out holds a whole archive;
a signal during the publish's moves waits for them.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faultkit import (
    INTERRUPTED,
    Event,
    assert_one_line,
    digests,
    finish,
    leftovers,
    ocq,
    polling,
    start,
    wait_for,
)

from ocq_batch.archive.layout import MANIFEST
from ocq_batch.archive.read import read_archive

CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
PAUSES = ["lock:held", "load:response#2", "archive:file#3", "archive:manifest", "publish:synced"]
MOVES = ["publish:moved", "publish:exchanged"]  # inside the publish's moves: they finish first


def created_at(out: Path) -> str:
    return str(json.loads((out / MANIFEST).read_text())["created_at"])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("point", PAUSES + MOVES)
def test_a_signal_at_each_moment_of_an_export(
    small_event: Event, tmp_path: Path, point: str, signum: signal.Signals
) -> None:
    out, marker = tmp_path / "out", tmp_path / "paused"
    assert ocq(*small_event.args(out)).returncode == 0
    before = created_at(out)
    with polling(out) as poller:
        proc = start(*small_event.args(out), stop=f"{point}=pause:{marker}")
        wait_for(marker)
        proc.send_signal(signum)
        time.sleep(0.2)
        marker.unlink()  # a publish holds the signal back until its moves are done
        code, _out, err = finish(proc)
    assert_one_line(code, err, CODES[signum], INTERRUPTED)
    assert poller.reads > 0 and poller.failures == [], poller.failures
    assert leftovers(out) == []
    read_archive(out).close()
    # stopped before the swap: the previous archive; during its moves: the new one, whole
    assert (created_at(out) != before) == (point in MOVES)
    proc2 = ocq(*small_event.args(out))
    assert proc2.returncode == 0 and proc2.stderr == "", proc2.stderr
    assert digests(out) == small_event.again


def test_a_signal_to_a_first_export_leaves_no_folder(small_event: Event, tmp_path: Path) -> None:
    out, marker = tmp_path / "out", tmp_path / "paused"
    proc = start(*small_event.args(out), stop=f"archive:file#2=pause:{marker}")
    wait_for(marker)
    proc.send_signal(signal.SIGTERM)
    code, _out, err = finish(proc)
    assert_one_line(code, err, 143, INTERRUPTED)
    assert not out.exists() and leftovers(out) == []


def test_sigint_while_waiting_for_a_lock(small_event: Event, tmp_path: Path) -> None:
    out, marker = tmp_path / "out", tmp_path / "paused"
    holder = start(*small_event.args(out), stop=f"lock:held=pause:{marker}")
    wait_for(marker)
    waiter = start(*small_event.args(out, "--wait", "1m"))
    time.sleep(1.0)
    waiter.send_signal(signal.SIGINT)
    code, _out, err = finish(waiter)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 130 and "Traceback" not in err
    assert lines[0].startswith("waiting up to 1m for ocq-batch PID") and lines[1].startswith(INTERRUPTED)
    marker.unlink()
    assert finish(holder)[0] == 0
    assert leftovers(out) == []


def caught(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (its SigCgt mask in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def started(proc: subprocess.Popen[str]) -> None:
    """Wait until ``proc`` handles SIGTERM: the console script's first act."""
    deadline = time.monotonic() + 30
    while not caught(proc.pid, signal.SIGTERM):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.001)


def test_sigterm_is_handled_from_the_first_instant(tmp_path: Path) -> None:
    """From the moment the console script installs its handler (before it imports the command
    line, which takes about a fifth of a second): a line and 143, no traceback, nothing
    written. Before that instant the interpreter itself is starting, and SIGTERM ends it
    as it ends any program that has not started yet."""
    out = tmp_path / "out"
    for delay in (0.0, 0.02, 0.05, 0.1, 0.15, 0.2):
        proc = start("export", "-q", "--out", str(out))
        started(proc)
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        code, _out, err = finish(proc)
        assert code == 143, (delay, code, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert err.startswith("interrupted"), err
        assert not out.exists() and leftovers(out) == []


def test_sigint_of_a_live_fetch_leaves_no_temporary_file(prometheus, tmp_path: Path) -> None:
    """A fetch interrupted while a response file is half-way to its name (written under its
    temporary name, not yet renamed) removes the temporary file; SIGKILL there leaves it,
    and the next fetch removes it."""
    folder, marker = tmp_path / "rec", tmp_path / "paused"
    args = ["fetch", "-q", "--source", prometheus.url, "--out", str(folder)]
    proc = start(*args, "--concurrency", "1", stop=f"replay:tmp#3=pause:{marker}")
    wait_for(marker)
    assert leftovers(folder) != [] or list((folder / "responses").glob(".*tmp*"))
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    marker.unlink()
    code, _out, err = finish(proc)
    assert_one_line(code, err, 130, INTERRUPTED)
    assert list((folder / "responses").glob(".*")) == []
    assert not list(tmp_path.glob(".rec.*"))
    killed = ocq(*args, "--concurrency", "1", stop="replay:tmp#2=kill")
    assert killed.returncode == -9
    assert len(list((folder / "responses").glob(".*.tmp-*"))) == 1
    done = ocq(*args)
    assert done.returncode == 0, done.stderr
    assert list((folder / "responses").glob(".*")) == [] and not list(tmp_path.glob(".rec.*"))


def test_a_signal_is_ignored_when_the_run_was_started_ignoring_it(small_event: Event, tmp_path: Path) -> None:
    """``nohup`` and background jobs start a command with SIGINT ignored: it stays ignored."""
    out, marker = tmp_path / "out", tmp_path / "paused"
    proc = start(
        *small_event.args(out),
        stop=f"archive:file#2=pause:{marker}",
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    wait_for(marker)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    marker.unlink()
    code, _out, err = finish(proc)
    assert code == 0 and err == "", err
    assert isinstance(proc, subprocess.Popen)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signals_spread_over_a_demo_export(tmp_path: Path, signum: signal.Signals) -> None:
    """The bundled demo (2-3 s): a signal every 0.25 s of the run, one run each, most of them
    inside DuckDB's steps, while samples.parquet is written by its own thread."""
    out = tmp_path / "out"
    assert ocq("export", "-q", "--out", str(out)).returncode == 0
    expected = digests(out)
    interrupted = 0
    for delay in [0.25 * k for k in range(11)]:
        proc = start("export", "-q", "--out", str(out))
        started(proc)
        time.sleep(delay)
        proc.send_signal(signum)
        code, _out, err = finish(proc)
        if code == 0:  # it finished first
            assert err == "", err
            continue
        interrupted += 1
        assert_one_line(code, err, CODES[signum], INTERRUPTED)
        assert leftovers(out) == [], delay
        read_archive(out).close()
    assert interrupted >= 5
    proc2 = ocq("export", "-q", "--out", str(out))
    assert proc2.returncode == 0, proc2.stderr
    assert {k: v for k, v in digests(out).items() if k != MANIFEST} == {
        k: v for k, v in expected.items() if k != MANIFEST
    }


SIGINT_OUTSIDE_THE_GUARD = """
import signal, sys, typer
from ocq_batch import signals
from ocq_batch.cli import main

app = typer.Typer()

@app.command()
def late() -> None:  # a command whose body ended: the signal comes outside any guard
    signal.raise_signal(signal.SIGINT)

@app.command()
def other() -> None:
    pass

main.app = app
signals.install()
main.run()
"""


def test_sigint_outside_the_guard_still_gives_the_line() -> None:
    """typer turns a KeyboardInterrupt it sees (its context's teardown, after the guard)
    into exit code 130 without a word: the entry point says the one line then too."""
    proc = subprocess.run(
        [sys.executable, "-c", SIGINT_OUTSIDE_THE_GUARD, "late"], capture_output=True, text=True, timeout=60
    )
    assert_one_line(proc.returncode, proc.stderr, 130, INTERRUPTED)
