"""Run the numbered SQL steps of ``sql/detect/``: samples to completions, scores and ranking.

    00 series_envs -> 01 participants -> 02 intervals -> 03 signal -> 04 transitions
    -> 05 completions -> 06 scores -> 07 ranking -> 08 timeline

Steps 01 to 03 read the change log kept at load time (:mod:`ocq_batch.load.changelog`);
``sql/detect/samples/`` holds the same steps computed from every sample. Those run for the
``components`` signal (an AND of several series at the same instant, which a per-series
log cannot give), when two completion series share a key, and with ``from_samples``
(the reference the tests compare with). The score formula is the macros of
``sql/macros.sql``, which the store defines on every connection.

Parameters reach SQL as small tables (``run_params``, ``exercise_params``,
``exercise_components``, ``env_params``, ``exclusions``) filled with bound values, never
spliced into SQL text. Every table a step writes is a projection, rebuilt on each run.
"""

from __future__ import annotations

import re

import duckdb

from ocq_batch.config.model import SIGNALS, Config, Window
from ocq_batch.load.store import transaction
from ocq_batch.resources import sql_text

SIGNAL_STEPS = ("03_signal", "04_transitions")  # step 05 (completions) reads transitions
SCORING_STEPS = ("06_scores", "07_ranking")  # the scores and the ranking they give
STEPS = ("01_participants", "02_intervals", *SIGNAL_STEPS, "05_completions", *SCORING_STEPS, "08_timeline")
ALT_TABLES = ("signal_keys", "transitions", "completions")


def step(name: str, from_samples: bool = False) -> str:
    """The file of one detection step: ``sql/detect/<name>.sql``, or its sample-level twin in
    ``sql/detect/samples/``."""
    return f"detect/samples/{name}.sql" if from_samples else f"detect/{name}.sql"


def run_steps(con: duckdb.DuckDBPyConnection, names: tuple[str, ...] | list[str]) -> None:
    """Run detection steps by name (``06_scores`` ...), in the order given."""
    for name in names:
        con.execute(sql_text(step(name)))


def write_params(con: duckdb.DuckDBPyConnection, config: Config, window: Window) -> None:
    """(Re)create the parameter tables of one run, and ``series_envs`` (step 00)."""
    con.execute(
        sql_text("detect/run_params.sql"),
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
            "eval_s": config.audit.eval_interval_s,
            "collect_s": config.audit.collect_interval_s,
            "lag_s": config.audit.component_lag_s,
        },
    )
    exercises = [
        (e.name, i, float(e.base), float(e.expected_s), float(e.penalty))
        for i, e in enumerate(config.exercises, start=1)
    ]
    components = [(e.name, c) for e in config.exercises for c in e.components]
    envs = [(env, i) for i, env in enumerate(config.envs, start=1)]
    con.execute(sql_text("detect/params_tables.sql"))
    for table, rows in (
        ("exercise_params", exercises),
        ("exercise_components", components),
        ("env_params", envs),
    ):
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            con.executemany(f"insert into {table} values ({marks})", rows)  # table is ours
    con.execute(sql_text(step("00_series_envs")))


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
    con.execute("create or replace table exclusions (user varchar, pattern varchar)")
    if rows:
        con.executemany("insert into exclusions values (?, ?)", rows)


def signal_steps(con: duckdb.DuckDBPyConnection, signal: str, from_samples: bool = False) -> list[str]:
    """The SQL files of steps 03 and 04 for ``signal``: from the change log when it applies."""
    shared = con.execute(sql_text("detect/shared_completion_keys.sql")).fetchall()[0][0]
    reference = from_samples or signal != "recorded" or bool(shared)
    return [step(name, reference) for name in SIGNAL_STEPS]


def run_pipeline(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    window: Window,
    alt_signal: bool = True,
    from_samples: bool = False,
) -> None:
    """Rebuild every projection from the stored samples for ``config`` and ``window``.

    With ``alt_signal``, steps 03 to 05 also run once with the other signal (recorded vs
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
    con.execute(sql_text(step("01_participants", from_samples)))
    write_exclusions(con, config.exclude_users)
    con.execute(sql_text(step("02_intervals")))  # the data's own resolution, whatever the signal
    if alt_signal:
        other = next(s for s in SIGNALS if s != config.signal)
        con.execute("update run_params set signal = ?", [other])
        for name in [*signal_steps(con, other, from_samples), step("05_completions")]:
            con.execute(sql_text(name))
        for table in ALT_TABLES:
            con.execute(f"create or replace table {table}_alt as select * from {table}")  # ours
        con.execute("update run_params set signal = ?", [config.signal])
    for name in signal_steps(con, config.signal, from_samples):
        con.execute(sql_text(name))
    run_steps(con, STEPS[STEPS.index("05_completions") :])
