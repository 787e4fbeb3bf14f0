"""kill -9 at every step of an export and of its publish, with a reader polling the archive
throughout; I/O errors injected at each move. Once an archive was published, ``--out``
holds a whole one at every moment, and the next run leaves exactly what an uninterrupted
run leaves.

The moments are reached with ``OCQ_TEST_STOP_AT`` (:mod:`ocq_batch.faultpoint`);
``publish:exchange=fail:EINVAL`` stands for a file system without ``RENAME_EXCHANGE``,
where the publish falls back to two renames.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from faultkit import (
    Event,
    assert_one_line,
    digests,
    leftovers,
    ocq,
    polling,
    stderr_lines,
)

from ocq_batch.archive.layout import MANIFEST, STORE_NAME
from ocq_batch.archive.read import read_archive

NO_EXCHANGE = "publish:exchange=fail:EINVAL"
BEFORE_PUBLISH = ["lock:held", "load:response#3", "archive:file#4", "archive:manifest"]
EXCHANGE_STEPS = ["publish:synced", "publish:moved", "publish:exchange", "publish:exchanged", "publish:done"]
FALLBACK_STEPS = ["publish:moved", "publish:renamed-old", "publish:renamed-new", "publish:done"]


def published(event: Event, out: Path) -> None:
    proc = ocq(*event.args(out))
    assert proc.returncode == 0, proc.stderr


def rerun_is_whole(event: Event, out: Path, expected: dict[str, str]) -> None:
    """The next run succeeds, says at most that it took over a dead run's lock, and leaves
    exactly the archive of an uninterrupted run, and nothing else."""
    proc = ocq(*event.args(out))
    assert proc.returncode == 0, proc.stderr
    lines = stderr_lines(proc.stderr)
    assert len(lines) <= 1 and all("taking over the lock left by ocq-batch PID" in ln for ln in lines), lines
    assert digests(out) == expected
    assert (out / STORE_NAME).is_file()
    assert leftovers(out) == []


@pytest.mark.parametrize("point", BEFORE_PUBLISH + EXCHANGE_STEPS)
def test_kill_9_while_republishing_never_leaves_out_without_a_whole_archive(
    small_event: Event, tmp_path: Path, point: str
) -> None:
    out = tmp_path / "out"
    published(small_event, out)
    with polling(out) as poller:
        proc = ocq(*small_event.args(out), stop=f"{point}=kill")
        assert proc.returncode == -9, proc.stderr
        time.sleep(0.05)
    assert poller.reads > 0 and poller.failures == [], poller.failures
    assert (
        read_archive(out).manifest["files"].keys() == json.loads((out / MANIFEST).read_text())["files"].keys()
    )
    rerun_is_whole(small_event, out, small_event.again)


@pytest.mark.parametrize("point", FALLBACK_STEPS)
def test_kill_9_between_the_fallback_renames_is_finished_by_the_next_run(
    small_event: Event, tmp_path: Path, point: str
) -> None:
    """Without RENAME_EXCHANGE, --out is missing between the two renames: a run killed there
    leaves it missing (a reader says so in one sentence), and the next run finishes the publish."""
    out = tmp_path / "out"
    published(small_event, out)
    with polling(out) as poller:
        proc = ocq(*small_event.args(out), stop=f"{NO_EXCHANGE};{point}=kill")
        assert proc.returncode == -9, proc.stderr
        killed_at = time.monotonic()
        time.sleep(0.05)
    assert poller.reads > 0
    for at, failure in poller.failures:
        assert point == "publish:renamed-old" and at >= killed_at - 0.5, failure
        assert "an export was stopped while publishing it" in failure and "run that export again" in failure
    if point == "publish:renamed-old":
        assert not out.exists() and list(tmp_path.glob(".out.old-*"))
        proc = ocq("verify", "-q", "--archive", str(out))
        assert_one_line(proc.returncode, proc.stderr, 1, "stopped while publishing")
    rerun_is_whole(small_event, out, small_event.again)


def test_kill_9_during_a_first_export_then_a_rerun(tmp_path: Path) -> None:
    """No archive yet: a run killed while loading (the bundled demo, whose 34 responses load
    in two transactions) leaves no archive, and the rerun writes the same files as an
    uninterrupted first run; its manifest differs only in the load counts, as the samples
    the killed run committed are already in the store."""
    reference, out = tmp_path / "reference", tmp_path / "out"
    assert ocq("export", "-q", "--out", str(reference)).returncode == 0
    proc = ocq("export", "-q", "--out", str(out), stop="load:response#30=kill")
    assert proc.returncode == -9
    assert not (out / MANIFEST).exists()
    proc = ocq("export", "-q", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    found, expected = digests(out), digests(reference)
    assert {k: v for k, v in found.items() if k != MANIFEST} == {
        k: v for k, v in expected.items() if k != MANIFEST
    }
    manifests = [json.loads((folder / MANIFEST).read_text()) for folder in (out, reference)]
    for m in manifests:
        m.pop("created_at")
    (load, full) = (m.pop("load") for m in manifests)
    assert manifests[0] == manifests[1]
    assert 0 < load["responses_already_loaded"] < load["responses"] == full["responses"]
    assert 0 < load["samples_added"] < full["samples_added"]  # the rest was stored by the killed run
    assert leftovers(out) == []


@pytest.mark.parametrize(
    "stop",
    [
        "archive:file#2=fail:EIO",
        "archive:manifest=fail:EIO",
        "publish:moved=fail:EIO",
        "publish:exchange=fail:EIO",
        f"{NO_EXCHANGE};publish:renamed-old=fail:EIO",
    ],
)
def test_an_io_error_at_any_step_keeps_the_previous_archive_and_its_store(
    small_event: Event, tmp_path: Path, stop: str
) -> None:
    out = tmp_path / "out"
    published(small_event, out)
    before = digests(out)
    with polling(out) as poller:
        proc = ocq(*small_event.args(out), stop=stop)
    line = assert_one_line(proc.returncode, proc.stderr, 1, "input/output error", "run the command again")
    assert str(tmp_path) in line  # names the path
    assert poller.reads > 0 and poller.failures == [], poller.failures
    assert digests(out) == before and (out / STORE_NAME).is_file()  # the store came back home
    assert leftovers(out) == []
    rerun_is_whole(small_event, out, small_event.again)
