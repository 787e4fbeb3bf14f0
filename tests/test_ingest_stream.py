"""The streamed ingestion (fast parser, batched appends) gives exactly the store of the plain path."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import orjson
import pytest
from conftest import REPO

from ocq_batch.config.model import DEFAULT, Window
from ocq_batch.detect.steps import run_pipeline
from ocq_batch.errors import SourceError
from ocq_batch.load.loader import Loader
from ocq_batch.load.store import open_store
from ocq_batch.pull.parse import parse_response, parse_response_plain
from ocq_batch.pull.queries import QuerySpec, plan_queries
from ocq_batch.pull.scan import _BLOCK_BYTES, _fixed_width, scan_matrix
from ocq_batch.pull.source import ReplaySource, Response
from ocq_batch.sim.event import SimParams, build_event
from ocq_batch.sim.replay import write_replay

SPEC = QuerySpec("completion/hero/prod", "completion", "hero", "prod", "opencodequest_leaderboard_hero:prod")
TABLES = {"series": "*", "samples": "*", "fetches": "* exclude (loaded_at)"}


def load(store: Path, folders: list[Path], fast: bool, batch: int = 5_000) -> duckdb.DuckDBPyConnection:
    con = open_store(store)
    for folder in folders:
        source = ReplaySource(folder)
        specs = [s for s in plan_queries(DEFAULT) if not s.optional or s.key in _keys(folder)]
        lo = min(e.start for e in source.reader.entries) + 0.001  # raw chunks are (a, b]
        hi = max(e.end for e in source.reader.entries)
        loader = Loader(con, "user", "cluster", fast=fast, batch_samples=batch)
        loader.add_all(source.responses(specs, lo, hi))
    return con


def _keys(folder: Path) -> set[str]:
    return {json.loads(line)["key"] for line in (folder / "index.jsonl").read_text().splitlines()}


def assert_same_store(a: duckdb.DuckDBPyConnection, b: duckdb.DuckDBPyConnection) -> None:
    """Same facts, and the same projections from them.

    The change logs themselves may differ (one row per response in the streamed path, one
    per series where the plain path derived it again), so they are compared by what they
    give: the pipeline's tables over the whole span of the samples.
    """
    for table, cols in TABLES.items():
        order = "order by all"
        left = a.execute(f"select {cols} from {table} {order}").fetchall()
        right = b.execute(f"select {cols} from {table} {order}").fetchall()
        assert len(left) == len(right), table
        assert left == right, table
    lo, hi = a.execute("select min(ts), max(ts) from samples").fetchall()[0]
    for con in (a, b):
        run_pipeline(con, DEFAULT, Window(lo, hi))
    for table in ("users_seen", "transitions", "completions", "ranking"):
        query = f"select * from {table} order by all"
        assert a.execute(query).fetchall() == b.execute(query).fetchall(), table


def small_event(folder: Path, chunk_s: float, participants: int = 24, step_s: float = 30.0) -> Path:
    p = SimParams(
        participants=participants, clusters=3, hours=1.5, step_s=step_s, start=DEFAULT.start.timestamp()
    )
    write_replay(build_event(p), folder, chunk_s=chunk_s)
    return folder


@pytest.mark.parametrize("chunk_s", [6 * 3600.0, 1200.0])
def test_streamed_load_equals_plain_load(tmp_path: Path, chunk_s: float) -> None:
    folder = small_event(tmp_path / "replay", chunk_s)
    fast = load(tmp_path / "fast.duckdb", [folder], fast=True)
    plain = load(tmp_path / "plain.duckdb", [folder], fast=False)
    assert fast.execute("select count(*) from samples").fetchall()[0][0] > 10_000
    assert_same_store(fast, plain)


def test_overlapping_loads_equal_plain(tmp_path: Path) -> None:
    """Chunked then whole recordings of one event overlap: the fast loader must deduplicate too."""
    chunked = small_event(tmp_path / "chunked", 1200.0)
    whole = small_event(tmp_path / "whole", 6 * 3600.0)
    fast = load(tmp_path / "fast.duckdb", [chunked, whole], fast=True, batch=3_000)
    plain = load(tmp_path / "plain.duckdb", [chunked, whole], fast=False, batch=3_000)
    assert_same_store(fast, plain)
    again = load(tmp_path / "fast.duckdb.2", [whole, chunked, whole], fast=True)
    assert [r[0] for r in again.execute("select count(*) from samples").fetchall()] == [
        r[0] for r in plain.execute("select count(*) from samples").fetchall()
    ]


def test_demo_replay_loads_the_same_both_ways(tmp_path: Path) -> None:
    demo = REPO / "data" / "demo"
    assert_same_store(
        load(tmp_path / "fast.duckdb", [demo], fast=True, batch=200_000),
        load(tmp_path / "plain.duckdb", [demo], fast=False, batch=200_000),
    )


def response(body: bytes | str) -> Response:
    raw = body.encode() if isinstance(body, str) else body
    return Response(SPEC, 1728047700.0, 1728048000.0, 30.0, raw, "test")


def matrix(values: list[list[object]], metric: dict[str, object] | None = None, **extra: object) -> bytes:
    item = {"metric": metric or {"user": "u1", "cluster": "t1"}, "values": values}
    return orjson.dumps({"status": "success", "data": {"resultType": "matrix", "result": [item]}, **extra})


BODIES = {
    "plain": matrix([[1728047700, "0"], [1728047730, "1"]]),
    "fractions": matrix([[1728047700.125, "0.5"], [1728047730.999, "-12.25"], [1728047731, "1e3"]]),
    "specials": matrix([[1728047700, "NaN"], [1728047730, "+Inf"], [1728047760, "-Inf"]]),
    "empty": matrix([]),
    "warnings": matrix([[1728047700, "1"]], warnings=["store down"]),
    "spaces": json.dumps(
        {
            "status": "success",
            "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1"]]}]},
        }
    ).encode(),
    "label trap": matrix([[1, "1"]], metric={"user": 'x"values":[[9,"9"]]', "cluster": "]]"}),
    "number label": matrix([[1, "1"]], metric={"user": 7, "cluster": "t1"}),
    # the cut ends each values array at the first "}" after it: braces in labels fall back
    "label brace": matrix([[1, "1"]], metric={"user": '"]]}', "cluster": "}"}),
    "two series": orjson.dumps(
        {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [
                    {"metric": {"user": "a"}, "values": [[1, "1"], [2, "0"]]},
                    {"metric": {"user": "b"}, "values": []},
                    {"metric": {"user": "c"}, "values": [[3, "1"]]},
                ],
            },
        }
    ),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_fast_parser_equals_plain(name: str) -> None:
    resp = response(BODIES[name])
    fast, plain = parse_response(resp, "user", "cluster"), parse_response_plain(resp, "user", "cluster")
    assert fast.fetch_id == plain.fetch_id and fast.warnings == plain.warnings
    assert fast.series == plain.series
    assert fast.counts.tolist() == plain.counts.tolist()
    assert fast.ts_us.tolist() == plain.ts_us.tolist()
    np.testing.assert_array_equal(fast.values, plain.values)  # NaN equal to NaN


def test_fast_path_is_taken_for_prometheus_bodies() -> None:
    for name in ("plain", "fractions", "specials", "empty", "warnings", "two series"):
        assert scan_matrix(BODIES[name]) is not None, name
    for body in (BODIES["spaces"], *NOT_NUMBERS.values()):
        assert scan_matrix(body) is None, body


ONE = '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":%s}]}}'
BAD = {
    "not json": "{'status': 'success'",
    "error": '{"status":"error","errorType":"bad_data","error":"parse error"}',
    "vector": '{"status":"success","data":{"resultType":"vector","result":[]}}',
    "short sample": ONE % "[[1]]",
    "bad json number": ONE % '[[01,"1"]]',
    "three items": ONE % '[[1,"1",2],["3"]]',
    "cut": matrix([[1728047700, "0"], [1728047730, "1"]])[:-7],
}


# values no Prometheus sends: an error naming the series, the time and the value, never a gap
NOT_NUMBERS = {
    "a word": matrix([[1728047700, "0"], [1728047730, "one"], [1728047760, "1"]]),
    "null": matrix([[1728047700, "1"], [1728047730, None]]),
    "a bare number": matrix([[1728047730, 1]]),
    "brace value": matrix([[1728047730, "}"], [1728047760, "1"]]),
    "escaped brace value": matrix([[1728047730, '"]]}'], [1728047760, "1"]]),
}


def same_error(resp: Response) -> str:
    """The message both parsers stop ``resp`` with (the same one)."""
    with pytest.raises(SourceError) as plain:
        parse_response_plain(resp, "user", "cluster")
    with pytest.raises(SourceError) as fast:
        parse_response(resp, "user", "cluster")
    assert str(fast.value) == str(plain.value)
    return str(plain.value)


@pytest.mark.parametrize("name", sorted(NOT_NUMBERS))
def test_a_value_that_is_no_number_is_an_error_naming_series_and_time(name: str) -> None:
    message = same_error(response(NOT_NUMBERS[name]))
    assert 'opencodequest_leaderboard_hero:prod{cluster="t1", user="u1"}' in message, message
    assert "2024-10-04T13:15:30Z" in message and "not a number" in message, message


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_bodies_fail_with_the_plain_message(name: str) -> None:
    assert "opencodequest_leaderboard_hero:prod" in same_error(response(BAD[name]))


def _same_as_plain(body: bytes) -> None:
    """parse_response gives what parse_response_plain gives, or fails with its message."""
    resp = response(body)
    try:
        plain = parse_response_plain(resp, "user", "cluster")
    except SourceError as exc:
        with pytest.raises(SourceError) as fast_exc:
            parse_response(resp, "user", "cluster")
        assert str(fast_exc.value) == str(exc), body
        return
    fast = parse_response(resp, "user", "cluster")
    assert fast.series == plain.series, body
    assert fast.counts.tolist() == plain.counts.tolist(), body
    assert fast.ts_us.tolist() == plain.ts_us.tolist(), body
    np.testing.assert_array_equal(fast.values, plain.values, err_msg=repr(body))


def test_fixed_width_tier_reads_uniform_entries_as_plain_does() -> None:
    """Random bodies whose entries share one width: the byte-matrix tier takes them, and
    gives the plain parser's result (timestamps of 1 to 11 digits, values of 1 to 15)."""
    rng = np.random.default_rng(7)
    for case in range(60):
        ts_digits = int(rng.integers(1, 12))
        value_digits = int(rng.integers(1, 16))
        series = []
        for s in range(int(rng.integers(1, 5))):
            n = int(rng.integers(0, 30))
            lo = 10 ** (ts_digits - 1)
            ts = sorted(rng.integers(lo, 10 * lo, size=n).tolist())
            if value_digits == 1:
                values = rng.integers(0, 10, size=n).tolist()
            else:
                values = rng.integers(10 ** (value_digits - 1), 10**value_digits, size=n).tolist()
            series.append(
                {
                    "metric": {"user": f"u{s}"},
                    "values": [[t, str(v)] for t, v in zip(ts, values, strict=True)],
                }
            )
        doc = {"status": "success", "data": {"resultType": "matrix", "result": series}}
        body = orjson.dumps(doc)
        text = b",".join(orjson.dumps(item["values"])[1:-1] for item in series if item["values"])
        if text:
            assert _fixed_width(text) is not None, (case, text[:80])
        _same_as_plain(body)


def test_every_one_byte_change_is_rejected_or_read_as_plain_reads_it() -> None:
    """Each byte of the sample arrays replaced by each character that could fool a scanner:
    the fast path either falls back or gives exactly the plain parser's answer."""
    body = matrix([[1728047700, "0"], [1728047730, "1"], [1728047760, "1"]])
    begin = body.index(b'"values":[') + len(b'"values":[')
    end = body.rindex(b"]]") + 1
    for pos in range(begin, end):
        for char in b'09[],"-. e+':
            _same_as_plain(body[:pos] + bytes([char]) + body[pos + 1 :])
        _same_as_plain(body[:pos] + body[pos + 1 :])  # a byte dropped
        _same_as_plain(body[:pos] + b"7" + body[pos:])  # a digit added


def test_fixed_width_tier_checks_every_block_of_a_large_body() -> None:
    """A body of several cache blocks: read as plain reads it, and a bad byte in any block,
    the last entry included, makes the tier refuse it."""
    n = 200_000  # 3.4 MB of entries: several blocks of the byte matrix
    rng = np.random.default_rng(11)
    ts = 1728047700 + 30 * np.arange(n)
    values = rng.integers(0, 2, size=n)
    text = b",".join(b'[%d,"%d"]' % (t, v) for t, v in zip(ts.tolist(), values.tolist(), strict=True))
    fixed = _fixed_width(text)
    assert fixed is not None
    width, ts_us, read = fixed
    assert width == 17 and ts_us.tolist() == (ts * 1_000_000).tolist()
    assert read.tolist() == values.astype(np.float64).tolist()
    _same_as_plain(matrix([[t, str(v)] for t, v in zip(ts.tolist(), values.tolist(), strict=True)]))
    rows = _BLOCK_BYTES // width  # entries per block
    assert n > 3 * rows
    for entry in (0, rows - 1, rows, 2 * rows + 1, n // 2, n - 2, n - 1):  # block edges, the end
        at = entry * width
        changes = ((1, b"0"), (3, b"x"), (11, b"."), (13, b"2"), (14, b"'"), (15, b"["), (16, b";"))
        for offset, byte in changes:
            if entry == n - 1 and offset == 16:
                continue  # the last entry has no comma
            bad = text[: at + offset] + byte + text[at + offset + 1 :]
            got = _fixed_width(bad)
            if byte == b"2":  # still a one-digit value: read, and read right
                assert got is not None and got[2][entry] == 2.0
            else:
                assert got is None, (entry, offset, byte)


def test_fixed_width_tier_rejects_what_it_cannot_read_exactly() -> None:
    for text in (
        b'[01728047700,"1"]',  # a timestamp with a leading zero
        b'[1728047700,"01"],[1728047730,"10"]',  # a value with a leading zero
        b'[1728047700,"1"],[1728047730,"a"]',
        b'[1728047700,"1"];[1728047730,"0"]',
        b'[172804770000,"1"]',  # 12 digits: beyond the 1e11 s bound
        b'[1728047700,"1234567890123456"]',  # 16 digits: not exact in float64
        b'[1728047700,"-1"]',
        b'[1728047700,"1"],[1728047730,"10"]',  # two widths
    ):
        assert _fixed_width(text) is None, text


def test_series_ids_hashed_per_response_are_hash64() -> None:
    """The loader's per-response shortcut gives the ids the archive's rescoring recomputes."""
    from ocq_batch.pull.parse import hash64, hash64_after

    for query, labels in [
        ("opencodequest_leaderboard_hero:prod", '{"user":"user1"}'),
        ("q", ""),
        ('sum by (user) (x{env="prod"})', '{"cluster":"tête-à-tête","user":"é"}'),
    ]:
        assert hash64_after(query)(labels.encode()) == hash64(query, labels)
