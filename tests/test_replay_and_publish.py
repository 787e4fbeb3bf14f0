"""Replay folders (integrity, coverage, interrupted writes) and atomic archive publishing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ocq_batch.archive import publish as publish_module
from ocq_batch.archive.layout import MANIFEST
from ocq_batch.archive.publish import publish, recover, staging_for
from ocq_batch.archive.write import write_manifest
from ocq_batch.errors import ReplayError, WindowError
from ocq_batch.pull.replay import INDEX, ReplayReader, ReplayWriter, pack


def test_chunks_cover_a_window_only_when_contiguous(tmp_path: Path) -> None:
    w = ReplayWriter(tmp_path, "test")
    # an expression read with query_range: chunks [a, b], [b + step, c]
    w.add("up", 0, 600, 60, b"{}")
    w.add("up", 660, 1200, 60, b"{}")
    w.add("up", 1800, 2400, 60, b"{}")
    # stored samples: chunks (a, b], (b, c]
    w.add("raw", -0.001, 600, 0, b"{}")
    w.add("raw", 600, 1200, 0, b"{}")
    w.add("raw", 1800, 2400, 0, b"{}")
    r = ReplayReader(tmp_path)
    assert len(r.entries_for("up", 100, 1100, raw=False)) == 2
    assert len(r.entries_for("raw", 0, 1100, raw=True)) == 2
    for query, raw in (("up", False), ("raw", True)):
        with pytest.raises(WindowError, match="outside the recorded data"):
            r.entries_for(query, 100, 2000, raw=raw)
    with pytest.raises(ReplayError, match="does not hold 'up' as stored samples"):
        r.entries_for("up", 100, 200, raw=True)
    with pytest.raises(ReplayError, match="no response for query 'down'"):
        r.entries_for("down", 100, 200, raw=True)


def test_writer_is_idempotent_and_repairs_a_cut_index(tmp_path: Path) -> None:
    w = ReplayWriter(tmp_path, "test")
    w.add("up", 0, 600, 60, b'{"a": 1}')
    w.add("up", 0, 600, 60, b'{"a": 1}')
    assert len((tmp_path / INDEX).read_text().splitlines()) == 1
    with open(tmp_path / INDEX, "a") as fh:
        fh.write('{"query": "up", "sta')  # an interrupted append
    with pytest.raises(ReplayError, match=r"index.jsonl line 2 is cut short"):  # never dropped in silence
        ReplayReader(tmp_path)
    assert w.repaired is None
    w2 = ReplayWriter(tmp_path, "test")
    assert w2.repaired is not None and "index.jsonl line 2 was cut short" in w2.repaired
    w2.add("up", 660, 1200, 60, b'{"a": 2}')
    r = ReplayReader(tmp_path)
    assert [e.start for e in r.entries] == [0, 660]
    assert r.read(r.entries[1]) == b'{"a": 2}'


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_the_same_answer_again_repairs_a_lost_or_damaged_file(tmp_path: Path, damage: str) -> None:
    body = b'{"status":"success"}'
    entry = ReplayWriter(tmp_path, source="test").add("up", 0.0, 60.0, 30.0, body)
    path = tmp_path / entry.file
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(ReplayError, match="record"):
        ReplayReader(tmp_path).read(entry)
    lines = (tmp_path / INDEX).read_text()
    again = ReplayWriter(tmp_path, source="test").add(
        "up", 0.0, 60.0, 30.0, b'{"status":"success"}', replace=True
    )
    assert again == entry and (tmp_path / INDEX).read_text() == lines  # no second index line
    assert ReplayReader(tmp_path).read(entry) == b'{"status":"success"}'


def test_header_version_is_checked(tmp_path: Path) -> None:
    ReplayWriter(tmp_path, "test")
    (tmp_path / "replay.json").write_text(json.dumps({"format": "ocq-replay", "version": 99}))
    with pytest.raises(ReplayError, match="version 99"):
        ReplayReader(tmp_path)


def make_archive(parent: Path, out: Path, marker: str) -> Path:
    staging = staging_for(out)
    (staging / "ranking.parquet").write_text(marker)
    write_manifest(staging, {"marker": marker})
    return staging


@pytest.fixture(params=["exchange", "renames"])
def swap(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Publish by RENAME_EXCHANGE (where the file system has it), and by the fallback's two renames."""
    if request.param == "renames":
        monkeypatch.setattr(publish_module, "exchange", lambda a, b: False)
    return str(request.param)


def test_publish_swaps_and_keeps_the_store(tmp_path: Path, swap: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "store.duckdb").write_text("store")
    (out / "ranking.parquet").write_text("old")
    publish(make_archive(tmp_path, out, "new"), out, store_inside=True)
    assert (out / "ranking.parquet").read_text() == "new"
    assert (out / "store.duckdb").read_text() == "store"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_recover_finishes_an_interrupted_publish(tmp_path: Path) -> None:
    out = tmp_path / "out"
    staging = make_archive(tmp_path, out, "new")
    (staging / "store.duckdb").write_text("store")
    old = tmp_path / ".out.old-12345678"
    old.mkdir()
    (old / "ranking.parquet").write_text("old")
    # crash after out -> old and before staging -> out
    recover(out)
    assert (out / "ranking.parquet").read_text() == "new"
    assert (out / "store.duckdb").read_text() == "store"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_recover_rolls_back_an_incomplete_staging(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST).write_text("{}")
    staging = staging_for(out)
    (staging / "store.duckdb").write_text("store")  # moved in, then the run died
    recover(out)
    assert (out / "store.duckdb").read_text() == "store"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def record_fs(monkeypatch, move: str) -> list[tuple[str, str]]:
    """Record, in order, each fsync (by its descriptor's path) and each ``os.<move>`` (by target)."""
    import os

    events: list[tuple[str, str]] = []
    real_fsync, real_move = os.fsync, getattr(os, move)

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def moved(src: str | Path, dst: str | Path) -> None:
        real_move(src, dst)
        events.append((move, str(dst)))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, move, moved)
    return events


def test_a_response_name_is_durable_before_its_index_line(tmp_path: Path, monkeypatch) -> None:
    """Each response file is renamed into place, its directory fsynced, and only then indexed,
    also when the file was stored apart (from another thread) before its index line."""
    events = record_fs(monkeypatch, "replace")
    writer = ReplayWriter(tmp_path / "rec", source="test")
    first = writer.add("up", 0.0, 60.0, 30.0, b'{"status":"success"}')
    second = writer.add_stream("up", 60.0, 120.0, 30.0, [b'{"status":', b'"success"}'])
    # as the HTTP source records: a worker thread stores the file, the main thread indexes it
    body = b'{"status":"success","data":{}}'
    sha = hashlib.sha256(body).hexdigest()
    writer.store("up", 120.0, 180.0, 30.0, pack(body), sha)
    third = writer.add("up", 120.0, 180.0, 30.0, body, replace=True, sha256=sha, stored=True)
    assert ReplayReader(tmp_path / "rec").read(third) == body
    responses, index = str(tmp_path / "rec" / "responses"), str(tmp_path / "rec" / INDEX)
    for entry in (first, second, third):
        placed = events.index(("replace", str(tmp_path / "rec" / entry.file)))
        later = events[placed + 1 :]
        assert ("fsync", responses) in later, entry
        assert later.index(("fsync", responses)) < later.index(("fsync", index)), entry
    assert ("fsync", str(tmp_path / "rec")) in events  # the header and the new index are named durably


def test_publish_flushes_the_archive_before_its_name_and_the_names_after(
    tmp_path: Path, monkeypatch, swap: str
) -> None:
    """Every file and the staging folder are fsynced before the archive takes its name;
    the renames (into ``out`` and its parent) are fsynced after. The exchange that gives
    ``out`` its name is recorded as its rename."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "store.duckdb").write_text("store")
    staging = make_archive(tmp_path, out, "new")
    events = record_fs(monkeypatch, "rename")
    if swap == "exchange":
        real = publish_module.exchange

        def exchanged(a: Path, b: Path) -> bool:
            done = real(a, b)
            if done:
                events.append(("rename", str(b)))
            return done

        monkeypatch.setattr(publish_module, "exchange", exchanged)
    publish(staging, out, store_inside=True)
    renames = [e for e in events if e[0] == "rename"]
    assert len(renames) == (1 if swap == "exchange" else 2), renames  # out -> old, staging -> out
    named = events.index(("rename", str(out)))
    before, after = events[:named], events[named + 1 :]
    for name in ("ranking.parquet", MANIFEST):
        assert ("fsync", str(staging / name)) in before, name
    assert ("fsync", str(staging)) in before
    assert ("fsync", str(out)) in after and ("fsync", str(tmp_path)) in after
    assert (out / "store.duckdb").read_text() == "store"
