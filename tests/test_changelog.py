"""The change log kept at load time gives exactly what the sample-level steps give.

``conftest.run_checked`` compares every projection of both paths; these tests feed it
what the log has to get right: several chunks per series, responses that overlap what
is stored (the log is then derived again from the samples), gaps, NaN and Inf, and
windows that cut through chunks. Also: a version 1 store is upgraded in place.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import duckdb
import pytest
from conftest import T0, run_checked

from ocq_batch.config.model import DEFAULT, Window
from ocq_batch.errors import StoreError
from ocq_batch.load.loader import Loader
from ocq_batch.load.store import open_store
from ocq_batch.pull.queries import QuerySpec, plan_queries
from ocq_batch.pull.source import Response
from ocq_batch.sim.promjson import matrix_body
from ocq_batch.timeutil import from_epoch

STEP = 60.0
VALUES = (0.0, 0.0, 1.0, 1.0, 1.0, 0.49, 0.5, math.nan, math.inf, -math.inf, None)  # None: no sample
CONFIG = replace(DEFAULT, step_s=STEP)


def _spec(key: str) -> QuerySpec:
    return next(s for s in plan_queries(CONFIG) if s.key == key)


Points = Sequence[tuple[float, float]]


def _response(spec: QuerySpec, series: Mapping[tuple[str, str], Points], lo: int, hi: int) -> Response:
    """One response holding the samples of minutes [lo, hi] (after T0) of every series."""
    picked = [
        ({"__name__": spec.query, "user": u, "cluster": c}, [p for p in pts if lo <= (p[0] - T0) / 60 <= hi])
        for (u, c), pts in sorted(series.items())
    ]
    body = matrix_body((labels, pts) for labels, pts in picked if pts)
    return Response(spec, T0 + lo * 60, T0 + hi * 60, STEP, body, "test")


def _random_series(rng: random.Random, n: int) -> Points:
    out: list[tuple[float, float]] = []
    for i in range(n):
        v = rng.choice(VALUES)
        if v is not None:
            out.append((T0 + (i - 10) * 60.0, v))
    return out


def _load(con: duckdb.DuckDBPyConnection, responses: list[Response]) -> None:
    Loader(con, "user", "cluster").add_all(responses)


@pytest.mark.parametrize("seed", range(40))
def test_random_events_chunks_overlaps_and_windows(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    specs = [_spec("completion/hero/prod"), _spec("completion/villain/prod"), _spec("completion/hero/dev")]
    con = open_store(tmp_path / "store.duckdb")
    responses = []
    for spec in specs:
        series = {(u, c): _random_series(rng, 60) for u in ("ann", "bob") for c in ("t1", "t2")}
        # cut minutes -10..49 into consecutive chunks, sometimes add one that overlaps them
        cuts = sorted(rng.sample(range(-9, 49), rng.randint(0, 3)))
        bounds = [-10, *cuts, 50]
        responses += [_response(spec, series, a, b - 1) for a, b in pairwise(bounds)]
        if rng.random() < 0.4:
            a = rng.randint(-10, 40)
            responses.append(_response(spec, series, a, a + rng.randint(0, 15)))
    rng.shuffle(responses)
    # sometimes one response per load: the later overlapping ones then meet stored samples
    if rng.random() < 0.5:
        for r in responses:
            _load(con, [r])
    else:
        _load(con, responses)
    lo = rng.randint(-15, 30)
    start = T0 + lo * 60 + rng.choice((0, 30))  # on the samples' grid, or between two samples
    window = Window(from_epoch(start), from_epoch(T0 + rng.randint(lo + 1, 60) * 60))
    run_checked(con, CONFIG, window)
    con.close()


def test_overlapping_response_rebuilds_the_series_from_its_samples(tmp_path: Path) -> None:
    spec = _spec("completion/hero/prod")
    series = {("ann", "t1"): [(T0 + i * 60.0, 1.0 if i >= 20 else 0.0) for i in range(-10, 40)]}
    con = open_store(tmp_path / "store.duckdb")
    _load(con, [_response(spec, series, -10, 25)])
    assert con.execute("select count(*) from chunks where fetch_id is null").fetchall() == [(0,)]
    _load(con, [_response(spec, series, 15, 39)])  # minutes 15 to 25 are stored already
    got = con.execute("select fetch_id, n_samples, n_known from chunks").fetchall()
    assert got == [(None, 50, 50)]
    assert con.execute("select epoch(ts), epoch(prev_ts), state from state_changes").fetchall() == [
        (T0 + 20 * 60, T0 + 19 * 60, 1)
    ]
    run_checked(con, CONFIG, Window(from_epoch(T0), from_epoch(T0 + 30 * 60)))
    con.close()


@pytest.mark.parametrize("version", ["1", "2"])
def test_an_older_store_of_grid_values_is_refused(tmp_path: Path, version: str) -> None:
    """Stores before schema 3 hold query_range grid values, not the samples the TSDB stores: no
    upgrade can give the raw times back, so they are refused with what to do."""
    path = tmp_path / "store.duckdb"
    con = open_store(path)
    con.execute("update meta set value = ? where key = 'schema_version'", [version])
    con.close()
    for read_only in (True, False):
        with pytest.raises(StoreError, match=rf"schema {version}\).*grid values.*pass a new --out"):
            open_store(path, read_only=read_only)
