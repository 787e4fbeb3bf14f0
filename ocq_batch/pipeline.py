"""Run the numbered SQL steps.

samples -> signal -> transitions -> completions -> scores -> ranking -> timeline.

Parameters reach SQL as small tables (``run_params``, ``exercise_params``,
``exercise_components``, ``env_params``, ``exclusions``), never spliced into
SQL text. Every table a step writes is a projection, rebuilt on each run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from ocq_batch.config import SIGNALS, Config
from ocq_batch.paths import sql_steps, sql_text

PROJECTIONS = (
    "users_seen",
    "signal",
    "transitions",
    "completions",
    "scores",
    "ranking",
    "timeline",
)


@dataclass(frozen=True)
class Window:
    """The scoring window ``[start, end]`` (UTC, both included); scores are taken at ``end``."""

    start: datetime
    end: datetime


def write_params(con: duckdb.DuckDBPyConnection, config: Config, window: Window) -> None:
    """(Re)create the parameter tables of one run."""
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
    exercises = pd.DataFrame(
        {
            "exercise": [e.name for e in config.exercises],
            "ordinal": list(range(1, len(config.exercises) + 1)),
            "base": [float(e.base) for e in config.exercises],
            "expected_s": [float(e.expected_s) for e in config.exercises],
            "penalty": [float(e.penalty) for e in config.exercises],
        }
    )
    components = pd.DataFrame(
        [(e.name, c) for e in config.exercises for c in e.components], columns=["exercise", "component"]
    )
    envs = pd.DataFrame({"env": list(config.envs), "ordinal": list(range(1, len(config.envs) + 1))})
    for name, frame in (
        ("exercise_params", exercises),
        ("exercise_components", components),
        ("env_params", envs),
    ):
        con.register("frame", frame)
        con.execute(f"create or replace table {name} as select * from frame")  # name is ours
        con.unregister("frame")


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
    frame = pd.DataFrame(rows, columns=["user", "pattern"]).astype("string")
    con.register("frame", frame)
    con.execute(
        "create or replace table exclusions as "
        "select user::varchar as user, pattern::varchar as pattern from frame"
    )
    con.unregister("frame")


LAST_SCORING_STEP = 7
SIGNAL_STEPS = (2, 4)  # signal -> transitions -> completions
ALT_TABLES = ("signal", "transitions", "completions")


def run_pipeline(
    con: duckdb.DuckDBPyConnection, config: Config, window: Window, alt_signal: bool = True
) -> None:
    """Rebuild every projection from the stored samples for ``config`` and ``window``.

    With ``alt_signal``, the completion steps also run once with the other signal
    (recorded vs components) into ``signal_alt``, ``transitions_alt`` and
    ``completions_alt``, for the audit to compare; the scoring uses the configured one.
    """
    write_params(con, config, window)
    for step in sql_steps(1, LAST_SCORING_STEP):
        if step.startswith(f"{SIGNAL_STEPS[0]:02d}_") and alt_signal:
            other = next(s for s in SIGNALS if s != config.signal)
            con.execute("update run_params set signal = ?", [other])
            for alt in sql_steps(*SIGNAL_STEPS):
                con.execute(sql_text(alt))
            for table in ALT_TABLES:
                con.execute(f"create or replace table {table}_alt as select * from {table}")  # ours
            con.execute("update run_params set signal = ?", [config.signal])
        con.execute(sql_text(step))
        if step.startswith("01_"):
            write_exclusions(con, config.exclude_users)
