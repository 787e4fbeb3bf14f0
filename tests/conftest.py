"""Shared fixtures: tiny hand-made events run through the real replay -> DuckDB -> SQL path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ocq_batch.config.model import DEFAULT, Config, Window
from ocq_batch.detect.steps import run_pipeline
from ocq_batch.load.loader import Loader
from ocq_batch.load.store import open_store
from ocq_batch.pull.api import RAW
from ocq_batch.pull.queries import plan_queries
from ocq_batch.pull.replay import ReplayWriter
from ocq_batch.pull.source import ReplaySource
from ocq_batch.sim.promjson import matrix_body
from ocq_batch.timeutil import from_epoch

pytest_plugins = ["promfixtures", "faultkit"]

T0 = 1728047700  # 2024-10-04T13:15:00Z
DEMO_FROM, DEMO_TO = "2024-10-04T13:15:00Z", "2024-10-04T15:45:00Z"  # the demo event's window
REPO = Path(__file__).resolve().parent.parent
OUTPUT = Path(os.environ.get("OCQ_TEST_OUTPUT", REPO / "test-output"))

Points = Sequence[tuple[float, float]]


def minutes(*values: float) -> list[float]:
    """Unix seconds of minutes after T0."""
    return [T0 + v * 60 for v in values]


def steps(
    change_min: float | None, until_min: float = 150, step_s: float = 60, start_min: float = -5
) -> Points:
    """A 0 series that turns 1 at ``change_min`` (never when None), sampled every ``step_s``."""
    out = []
    t = T0 + start_min * 60
    while t <= T0 + until_min * 60:
        out.append((t, 1.0 if change_min is not None and t >= T0 + change_min * 60 else 0.0))
        t += step_s
    return out


def series(values: Sequence[float], start_min: float = -5, step_s: float = 60) -> Points:
    """Explicit values from ``start_min``, one per ``step_s``; None values are omitted (a gap)."""
    return [(T0 + start_min * 60 + i * step_s, v) for i, v in enumerate(values) if v is not None]


def full(user: str, cluster: str, at: tuple[float, float, float]) -> dict:
    """A participant who completes hero, villain and fight in prod at ``at`` minutes after T0."""
    return {
        f"completion/{ex}/prod": {(user, cluster): steps(m, step_s=30)}
        for ex, m in zip(("hero", "villain", "fight"), at, strict=True)
    }


def merge(*parts: dict) -> dict:
    """The series of several participants as one event's data."""
    out: dict = {}
    for part in parts:
        for key, by_user in part.items():
            out.setdefault(key, {}).update(by_user)
    return out


@dataclass
class MiniEvent:
    """Series per query key ('completion/hero/prod' ...) as {(user, cluster): points}."""

    data: dict[str, dict[tuple[str, str], Points]]
    config: Config = DEFAULT

    def write(self, folder: Path, start: float, end: float, step: float) -> Path:
        """The series as a server answers them: each plain selector's stored samples in
        (start - 1 ms, end], each expression as a query_range at ``step``."""
        writer = ReplayWriter(folder, source="test")
        for spec in plan_queries(self.config):
            by_user = self.data.get(spec.key, {})
            if spec.optional and not by_user:
                continue  # the live board and the raw series: only where a test gives them
            body = matrix_body(
                ({"__name__": spec.query, "user": u, "cluster": c}, pts)
                for (u, c), pts in sorted(by_user.items())
            )
            if spec.mode == "raw":
                writer.add(spec.query, round(start * 1000 - 1) / 1000, end, RAW, body, key=spec.key)
            else:
                writer.add(spec.query, start, end, step, body, key=spec.key)
        return folder


@pytest.fixture
def run_event(tmp_path: Path) -> Iterator[object]:
    """Run a MiniEvent through replay, store and SQL; return the open connection."""
    cons: list[duckdb.DuckDBPyConnection] = []

    def run(
        event: MiniEvent,
        window: tuple[float, float] = (T0, T0 + 150 * 60),
        data_span: tuple[float, float] = (T0 - 15 * 60, T0 + 180 * 60),
        step: float = 60,
        config: Config | None = None,
    ) -> duckdb.DuckDBPyConnection:
        cfg = config or event.config
        folder = tmp_path / f"replay{len(cons)}"
        event.write(folder, data_span[0], data_span[1], step)
        con = open_store(tmp_path / f"store{len(cons)}.duckdb")
        cons.append(con)
        cfg = replace(cfg, step_s=step)
        src = ReplaySource(folder)
        specs = plan_queries(cfg)
        Loader(con, "user", "cluster").add_all(src.responses(specs, window[0], window[1]))
        run_checked(con, cfg, Window(from_epoch(window[0]), from_epoch(window[1])))
        return con

    yield run
    for con in cons:
        con.close()


# every projection the change log feeds, checked against the same steps run from the samples
CHECKED = (
    "users_seen",
    "signal_keys",
    "transitions",
    "completions",
    "signal_keys_alt",
    "transitions_alt",
    "completions_alt",
    "scores",
    "ranking",
    "timeline",
)


def run_checked(con: duckdb.DuckDBPyConnection, config: Config, window: Window) -> None:
    """``run_pipeline``, after checking it builds exactly what the sample-level steps build.

    The reference (``sql/samples/``) runs first; the change-log run is what stays in the store.
    """
    run_pipeline(con, config, window, from_samples=True)
    for table in CHECKED:
        con.execute(f"create or replace temp table ref_{table} as select * from {table}")
    run_pipeline(con, config, window)
    for table in CHECKED:
        assert rows(con, f"describe {table}") == rows(con, f"describe ref_{table}"), table
        for a, b in ((table, f"ref_{table}"), (f"ref_{table}", table)):
            extra = con.execute(f"select count(*) from (from {a} except all from {b})").fetchall()[0][0]
            assert extra == 0, f"{a} has {extra} rows {b} has not"
        con.execute(f"drop table ref_{table}")
    for suffix in ("", "_alt"):  # the configured signal, and the other one the audit compares
        check_completions(con, suffix)


# completions as SCORING.md words them, one window per key, row by row: step 04 counts the
# same with one group-by, relying on the order of a key's transitions (checked first)
COMPLETIONS_BY_DEFINITION = """
with marked as (
    select *, min(ts) filter (where to_value = 1)
                  over (partition by user, exercise, env, cluster) as first_up_at
    from transitions{suffix}
),
firsts as (
    select user, exercise, env, cluster, first_up_at as completed_at,
           any_value(prev_ts) filter (where ts = first_up_at) as prev_sample_at,
           any_value(is_window_start) filter (where ts = first_up_at) as complete_at_window_start,
           count(*) filter (where ts > first_up_at and to_value = 1) as n_flaps,
           count(*) filter (where ts > first_up_at and to_value = 0) as n_regressions
    from marked
    where first_up_at is not null
    group by user, exercise, env, cluster, first_up_at
)
select *, row_number() over (partition by user, exercise, env order by completed_at, cluster) = 1
          as is_counted
from firsts
"""


def check_completions(con: duckdb.DuckDBPyConnection, suffix: str = "") -> None:
    """A key's transitions alternate between 1 and 0, the first at 1 (the window-start row is
    kept at 1 only), and ``completions`` is what the definition above gives."""
    transitions, completions = f"transitions{suffix}", f"completions{suffix}"
    definition = f"({COMPLETIONS_BY_DEFINITION.format(suffix=suffix)})"
    out_of_order = con.execute(
        f"""
        select count(*) from (
            select to_value,
                   lag(to_value) over (partition by user, exercise, env, cluster order by ts) as before
            from {transitions}
        ) where to_value = before or (before is null and to_value = 0)
        """
    ).fetchall()[0][0]
    assert out_of_order == 0, f"{out_of_order} rows of {transitions} do not alternate from 1"
    # step 05's widening of the interval (the lineage, stale evidence) is checked by the tests of
    # the time model; here, the columns the transitions decide
    columns = (
        "user, exercise, env, cluster, completed_at, prev_sample_at, complete_at_window_start, "
        "n_flaps, n_regressions, is_counted"
    )
    stored = f"(select {columns} from {completions})"
    for a, b in ((stored, definition), (definition, stored)):
        extra = con.execute(
            f"select count(*) from (select {columns} from {a} except all select {columns} from {b})"
        ).fetchall()[0][0]
        assert extra == 0, f"{completions} differs from its definition by {extra} rows"


def rows(con: duckdb.DuckDBPyConnection, query: str, *params: object) -> list[dict[str, object]]:
    """Query results as a list of dicts (timestamps as unix seconds for easy comparison)."""
    frame: pd.DataFrame = con.execute(query, list(params)).df()
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = pd.Series([None if pd.isna(v) else v.timestamp() for v in frame[col]], dtype=object)
    return frame.to_dict("records")


def server_args(source: str, out: Path | str, *extra: str) -> list[str]:
    """The arguments of a run against a server: its URL, the demo window and the output folder."""
    return ["--source", source, "--from", DEMO_FROM, "--to", DEMO_TO, "--out", str(out), *extra]


def ocq_batch_cmd() -> list[str]:
    """The installed console script (what a user runs), falling back to the module."""
    exe = shutil.which("ocq-batch")
    return [exe] if exe else [sys.executable, "-m", "ocq_batch"]


def run_cli(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ocq_batch_cmd(), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
