"""The pieces the fault suite relies on, one at a time and in-process: the one OS-error
mapping, signals held back and remembered, a reader's generation, the clean-up of what a
killed run left."""

from __future__ import annotations

import errno
import os
import shutil
import signal
from pathlib import Path

import duckdb
import pytest

from ocq_batch import signals
from ocq_batch.archive import read as read_module
from ocq_batch.archive.publish import discard, recover
from ocq_batch.archive.read import read_archive
from ocq_batch.archive.swap import exchange
from ocq_batch.config.model import DEFAULT, Window
from ocq_batch.errors import ArchiveError, DiskError, StoreError, TamperedFileError, Terminated
from ocq_batch.jobs.export import export
from ocq_batch.oserror import ADVICE, disk_error, naming
from ocq_batch.pull.replay import ReplayWriter, remove_temporaries
from ocq_batch.pull.source import ReplaySource
from ocq_batch.resources import demo_dir


@pytest.mark.parametrize("number", sorted(ADVICE))
def test_every_errno_is_one_line_naming_the_path_and_what_to_do(number: int) -> None:
    exc = OSError(number, os.strerror(number), "/data/out/ranking.parquet")
    mapped = disk_error(exc)
    assert isinstance(mapped, DiskError) and mapped.errno == number
    text = str(mapped)
    assert "\n" not in text and text.startswith("/data/out/ranking.parquet: ")
    assert ADVICE[number][0] in text and ADVICE[number][1] in text


def test_the_three_ways_an_os_error_arrives() -> None:
    # pyarrow: errno set, the path only in the text (or nowhere: then the caller's)
    arrow = OSError(28, "Error writing bytes to file. Detail: [errno 28] No space left on device")
    assert str(disk_error(arrow, "/x/staging/samples.parquet")).startswith(
        "/x/staging/samples.parquet: no space left on the device;"
    )
    quoted = PermissionError(1, "Failed to open local file '/x/y.parquet'. Detail: [errno 1] Operation")
    assert str(disk_error(quoted)).startswith("/x/y.parquet: operation not permitted")
    # DuckDB: neither, the reason as the C library words it
    full = duckdb.TransactionException(
        'Failed to commit: Could not write file "/x/s.duckdb": No space left on device'
    )
    mapped = disk_error(full)
    assert isinstance(mapped, DiskError) and mapped.path == "/x/s.duckdb" and mapped.errno == errno.ENOSPC
    damaged = duckdb.Error("Corrupt database file: computed checksum 1 does not match stored checksum 2")
    found = disk_error(damaged, store=Path("/x/s.duckdb"))
    assert isinstance(found, StoreError) and str(found).startswith("store /x/s.duckdb is damaged (Corrupt")
    assert disk_error(duckdb.BinderException("Binder Error: column x not found")) is None
    assert disk_error(ValueError("not an OS error")) is None


def test_naming_fills_in_the_path_only_when_the_error_has_none() -> None:
    with pytest.raises(DiskError, match=r"^/a/b: input/output error"), naming("/a/b"):
        raise OSError(errno.EIO, "Input/output error")
    with pytest.raises(DiskError, match=r"^/own/file: permission denied"), naming("/a/b"):
        raise PermissionError(errno.EACCES, "Permission denied", "/own/file")
    with pytest.raises(RuntimeError), naming("/a/b"):
        raise RuntimeError("Query interrupted")  # an interruption is no OS error


def test_signals_wait_for_the_moves_and_are_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signals, "_received", None)
    done = []
    with pytest.raises(Terminated), signals.deferred():
        signals._handler(signal.SIGTERM, None)  # as the signal module would call it
        done.append("the moves finished")
    assert done == ["the moves finished"]
    assert signals.received() == signal.SIGTERM
    assert signals.exit_code(RuntimeError("Query interrupted")) == 143  # whatever it became
    monkeypatch.setattr(signals, "_received", None)
    assert signals.exit_code(KeyboardInterrupt()) == 130 and signals.exit_code(ValueError()) is None
    with pytest.raises(KeyboardInterrupt):
        signals._handler(signal.SIGINT, None)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "archive"
    export(DEFAULT, Window(DEFAULT.start, DEFAULT.end), ReplaySource(demo_dir()), out)
    return out


def test_an_opened_archive_keeps_its_generation(archive: Path, tmp_path: Path) -> None:
    folder = tmp_path / "a"
    shutil.copytree(archive, folder)
    opened = read_archive(folder)
    before = opened.read("ranking")
    shutil.rmtree(folder)  # republished and the old generation removed
    assert opened.read("ranking").equals(before)
    opened.close()
    with pytest.raises(ArchiveError, match="was closed"):
        opened.file("ranking")


def test_a_folder_republished_while_being_opened_is_opened_again(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, new = tmp_path / "a", tmp_path / "b"
    shutil.copytree(archive, folder)
    shutil.copytree(archive, new)
    real = read_module._check
    calls = []

    def republished(*args: object) -> object:
        calls.append(1)
        if len(calls) <= swaps:
            assert exchange(new, folder)  # another export republished it meanwhile
            raise TamperedFileError("a file changed")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(read_module, "_check", republished)
    swaps = 1
    read_archive(folder).close()
    assert len(calls) == 2
    calls.clear()
    swaps = 2
    with pytest.raises(ArchiveError, match="changed twice while it was being read"):
        read_archive(folder)
    # a real tampering (the folder did not change) is not retried
    calls.clear()
    swaps = 0
    ranking = folder / "ranking.parquet"
    ranking.write_bytes(ranking.read_bytes()[:-4] + b"oops")
    with pytest.raises(TamperedFileError, match=r"ranking\.parquet no longer matches"):
        read_archive(folder)
    assert len(calls) == 1


def test_recover_discards_a_dead_runs_folders_and_keeps_its_working_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    staging = tmp_path / ".out.staging-1"
    (staging / "replay").mkdir(parents=True)
    (staging / "replay" / "index.jsonl").write_text("recorded\n")  # moved in, then killed
    (out / "store.duckdb.tmp").mkdir()  # DuckDB's spill of a killed run
    recover(out)
    assert (out / "replay" / "index.jsonl").read_text() == "recorded\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and not (out / "store.duckdb.tmp").exists()
    lost = tmp_path / ".gone.staging-2"
    lost.mkdir()
    (lost / "store.duckdb").write_text("store")
    discard(lost, tmp_path / "gone")  # its --out is gone: the store is kept there, not lost
    assert (tmp_path / "gone" / "store.duckdb").read_text() == "store" and not lost.exists()


def test_a_killed_recordings_temporary_files_are_removed(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    (folder / "responses").mkdir(parents=True)
    left = [
        folder / "responses" / ".abc-123.json.gz.tmp-4242",
        folder / "responses" / ".stream-4242.tmp",
        folder / ".replay.json.tmp-4242",
    ]
    for path in left:
        path.write_bytes(b"half")
    kept = folder / "responses" / "abc-123.json.gz"
    kept.write_bytes(b"whole")
    ReplayWriter(folder, source="test")
    assert [p for p in left if p.exists()] == [] and kept.exists()
    assert remove_temporaries(folder) == 0


def test_exchange_swaps_two_folders(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not exchange(a, b):
        pytest.skip("this file system has no RENAME_EXCHANGE (the publish falls back to two renames)")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"
    with pytest.raises(OSError) as err:
        exchange(a, tmp_path / "missing")
    assert err.value.errno == errno.ENOENT
