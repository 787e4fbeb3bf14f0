"""samples.parquet from ``archive_samples`` is the plain ``TABLES["samples"]`` query, byte for byte,
also when the export writes it in a thread of its own (``archive.SamplesFile``)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ocq_batch.archive import write as archive
from ocq_batch.archive.samples import samples_reader
from ocq_batch.config.model import DEFAULT, Window
from ocq_batch.load.loader import Loader
from ocq_batch.load.store import open_store, transaction
from ocq_batch.pull.queries import plan_queries
from ocq_batch.pull.source import ReplaySource
from ocq_batch.sim.event import SimParams, build_event
from ocq_batch.sim.replay import write_replay

T0 = DEFAULT.start.timestamp()
WINDOWS = {
    "whole": (T0 - 900, T0 + 2700),
    "inside": (T0 + 600, T0 + 1215.5),  # the end falls between two samples
    "empty": (T0 - 7200, T0 - 3600),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """A small event: its first half hour recorded in 20-minute chunks, then the whole hour in one
    request each, so a series' samples come from several fetches and two origins. Some series
    have no exercise (participants) or no env (pipeline)."""
    tmp = tmp_path_factory.mktemp("samples")
    con = open_store(tmp / "store.duckdb")
    loader = Loader(con, "user", "cluster")
    for name, hours, chunk_s in (("chunked", 0.5, 1200.0), ("whole", 1.0, 6 * 3600.0)):
        params = SimParams(participants=6, clusters=2, hours=hours, start=T0 - 900)
        write_replay(build_event(params), tmp / name, chunk_s=chunk_s)
        source = ReplaySource(tmp / name)
        loader.add_all(source.responses(plan_queries(DEFAULT), params.start, params.end))
    yield con
    con.close()


def use_window(con: duckdb.DuckDBPyConnection, name: str) -> None:
    start, end = WINDOWS[name]
    con.execute(
        "create or replace table run_params as select to_timestamp(?) as from_ts, to_timestamp(?) as to_ts",
        [start, end],
    )


@pytest.mark.parametrize("batch_rows", [archive.ROW_GROUP, 1000])
@pytest.mark.parametrize("window", list(WINDOWS))
def test_same_rows_order_and_schema(store: duckdb.DuckDBPyConnection, window: str, batch_rows: int) -> None:
    use_window(store, window)
    want = store.sql(archive.table_query("samples")).to_arrow_table()
    got = samples_reader(store, batch_rows).read_all()
    assert got.schema.equals(want.schema, check_metadata=True)
    assert got.equals(want)
    if window != "empty":
        assert got.num_rows > 1_000
        assert got.column("env").null_count and got.column("exercise").null_count
        assert len(set(got.column("origin").to_pylist())) == 2


@pytest.mark.parametrize("window", list(WINDOWS))
def test_same_parquet_bytes(
    store: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: str
) -> None:
    use_window(store, window)
    monkeypatch.setattr(archive, "ROW_GROUP", 4_000)  # several row groups, cut inside batches
    plain, fast = tmp_path / "plain.parquet", tmp_path / "fast.parquet"
    rows = archive._write_streamed(store.sql(archive.table_query("samples")).to_arrow_reader(3_000), plain)
    assert archive._write_streamed(samples_reader(store, 3_000), fast) == rows
    assert fast.read_bytes() == plain.read_bytes()
    if window == "whole":
        assert pq.read_metadata(fast).num_row_groups > 2


def _whole_window() -> Window:
    start, end = WINDOWS["whole"]
    return Window(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))


def test_samples_file_in_a_thread_is_the_same_file(
    store: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the export does: the file is written from a cursor while the connection goes on
    writing tables in a transaction of its own, as the pipeline and the audit do."""
    monkeypatch.setattr(archive, "ROW_GROUP", 4_000)
    use_window(store, "whole")
    plain = tmp_path / "plain.parquet"
    rows = archive._write_streamed(store.sql(archive.table_query("samples")).to_arrow_reader(3_000), plain)
    (tmp_path / "threaded").mkdir()
    with archive.SamplesFile(store, tmp_path / "threaded", _whole_window()) as threaded:
        with transaction(store):
            for i in range(20):
                store.execute(f"create or replace table scratch_{i % 3} as select * from series")
        assert threaded.rows() == rows
    assert threaded.path.read_bytes() == plain.read_bytes()
    assert not [t for t in threading.enumerate() if t.name.startswith("samples.parquet")]


def test_samples_file_hands_its_error_to_the_caller(
    store: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(reader: object, path: Path) -> int:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(archive, "_write_streamed", full_disk)
    with (
        archive.SamplesFile(store, tmp_path, _whole_window()) as threaded,
        pytest.raises(OSError, match="space"),
    ):
        threaded.rows()


def test_closing_a_running_samples_file_waits_for_it(
    store: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed export closes the file while it is being written: the thread is stopped or
    waited for, so the staging folder can be removed after it."""
    monkeypatch.setattr(archive, "ROW_GROUP", 500)
    started = threading.Event()
    real = archive._write_streamed

    def slow(reader: pa.RecordBatchReader, path: Path) -> int:
        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                started.set()
                time.sleep(0.005)
                yield batch

        return real(pa.RecordBatchReader.from_batches(reader.schema, batches()), path)

    monkeypatch.setattr(archive, "_write_streamed", slow)
    threaded = archive.SamplesFile(store, tmp_path, _whole_window())
    assert started.wait(30)
    threaded.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("samples.parquet")]
    shutil.rmtree(tmp_path)
    assert store.execute("select count(*) from samples").fetchall()[0][0] > 1_000  # the store goes on
