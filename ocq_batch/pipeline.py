"""Run the numbered SQL steps.

samples -> signal -> transitions -> completions -> scores -> ranking -> timeline.

Steps 01 to 03 read the change log kept at load time (:mod:`ocq_batch.changelog`);
``sql/samples/`` holds the same steps computed from every sample. Those run for the
``components`` signal (an AND of several series at the same instant, which a per-series
log cannot give), when two completion series share a key, and with ``from_samples``
(the reference the tests compare with).

Parameters reach SQL as small tables (``run_params``, ``exercise_params``,
``exercise_components``, ``env_params``, ``exclusions``), never spliced into
SQL text. Every table a step writes is a projection, rebuilt on each run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from ocq_batch.config import SIGNALS, Config
from ocq_batch.paths import sql_steps, sql_text
from ocq_batch.store import transaction


@dataclass(frozen=True)
class Window:
    """The scoring window ``[start, end]`` (UTC, both included); scores are taken at ``end``."""

    start: datetime
    end: datetime


def write_params(con: duckdb.DuckDBPyConnection, config: Config, window: Window) -> None:
    """(Re)create the parameter tables of one run, and ``series_envs`` (sql/00_series_envs.sql)."""
    con.execute(
        """
        create or replace table run_params as
        select $t0::timestamptz as t0, $from_ts::timestamptz as from_ts, $to_ts::timestamptz as to_ts,
               $env::varchar as env, $model::varchar as model, $signal::varchar as signal,
               $tick_s::double as tick_s, $accel_rate::double as accel_rate, $top::integer as top,
               $step_s::double as step_s
        """,
        {
            "t0": config.start,
            "from_ts": window.start,
            "to_ts": window.end,
            "env": config.env,
            "model": config.model,
            "signal": config.signal,
            "tick_s": config.tick_s,
            "accel_rate": config.accelerator,
            "top": config.top,
            "step_s": config.step_s,
        },
    )
    exercises = pa.table(
        {
            "exercise": [e.name for e in config.exercises],
            "ordinal": list(range(1, len(config.exercises) + 1)),
            "base": [float(e.base) for e in config.exercises],
            "expected_s": [float(e.expected_s) for e in config.exercises],
            "penalty": [float(e.penalty) for e in config.exercises],
        }
    )
    pairs = [(e.name, c) for e in config.exercises for c in e.components]
    components = pa.table(
        {
            "exercise": pa.array([e for e, _ in pairs], pa.string()),
            "component": pa.array([c for _, c in pairs], pa.string()),
        }
    )
    envs = pa.table({"env": list(config.envs), "ordinal": list(range(1, len(config.envs) + 1))})
    for name, frame in (
        ("exercise_params", exercises),
        ("exercise_components", components),
        ("env_params", envs),
    ):
        con.register("frame", frame)
        con.execute(f"create or replace table {name} as select * from frame")  # name is ours
        con.unregister("frame")
    con.execute(sql_text("00_series_envs.sql"))


def write_exclusions(con: duckdb.DuckDBPyConnection, patterns: tuple[str, ...]) -> None:
    """Match every seen user against the exclusion regexes (Python ``re.search``)."""
    users = [row[0] for row in con.execute("select user from users_seen order by user").fetchall()]
    compiled = [(p, re.compile(p)) for p in patterns]
    rows = []
    for user in users:
        for text, rx in compiled:
            if rx.search(user):
                rows.append((user, text))
                break
    frame = pa.table(
        {
            "user": pa.array([u for u, _ in rows], pa.string()),
            "pattern": pa.array([p for _, p in rows], pa.string()),
        }
    )
    con.register("frame", frame)
    con.execute(
        "create or replace table exclusions as "
        "select user::varchar as user, pattern::varchar as pattern from frame"
    )
    con.unregister("frame")


LAST_SCORING_STEP = 7
SIGNAL_STEPS = (2, 3)  # signal -> transitions; step 04 (completions) reads transitions
ALT_TABLES = ("signal_keys", "transitions", "completions")
REFERENCE = "samples"  # the folder under sql/ of the steps computed from every sample

_SHARED_KEYS = """
    with keys as (
        select s.user, s.exercise, e.env, s.cluster
        from series as s
        join series_envs as e using (series_id)
        where s.component = 'completion' and s.user is not null and s.exercise is not null
    )
    select count(*) from (select 1 from keys group by user, exercise, env, cluster having count(*) > 1)
"""


def signal_steps(con: duckdb.DuckDBPyConnection, signal: str, from_samples: bool = False) -> list[str]:
    """The SQL files of steps 02 and 03 for ``signal``: from the change log when it applies."""
    names = sql_steps(*SIGNAL_STEPS)
    if from_samples or signal != "recorded" or con.execute(_SHARED_KEYS).fetchall()[0][0]:
        return [f"{REFERENCE}/{n}" for n in names]
    return names


def run_pipeline(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    window: Window,
    alt_signal: bool = True,
    from_samples: bool = False,
) -> None:
    """Rebuild every projection from the stored samples for ``config`` and ``window``.

    With ``alt_signal``, steps 02 to 04 also run once with the other signal (recorded vs
    components) into ``signal_keys_alt``, ``transitions_alt`` and ``completions_alt``, for
    the audit to compare; the scoring uses the configured one. ``from_samples`` computes
    every step from the samples instead of the change log (same tables; slower).
    One transaction: the projections of a run appear together, or not at all.
    """
    with transaction(con):
        _run_steps(con, config, window, alt_signal, from_samples)


def _run_steps(
    con: duckdb.DuckDBPyConnection, config: Config, window: Window, alt_signal: bool, from_samples: bool
) -> None:
    write_params(con, config, window)
    first = f"{REFERENCE}/01_participants.sql" if from_samples else "01_participants.sql"
    con.execute(sql_text(first))
    write_exclusions(con, config.exclude_users)
    if alt_signal:
        other = next(s for s in SIGNALS if s != config.signal)
        con.execute("update run_params set signal = ?", [other])
        for step in [*signal_steps(con, other, from_samples), *sql_steps(4, 4)]:
            con.execute(sql_text(step))
        for table in ALT_TABLES:
            con.execute(f"create or replace table {table}_alt as select * from {table}")  # ours
        con.execute("update run_params set signal = ?", [config.signal])
    for step in [*signal_steps(con, config.signal, from_samples), *sql_steps(4, LAST_SCORING_STEP)]:
        con.execute(sql_text(step))
