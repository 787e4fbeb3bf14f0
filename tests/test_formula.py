"""The score formula and the completion threshold are written once in SQL (sql/macros.sql) and
once in Python (ocq_batch.detect.formula): the two give the same numbers, and the steps
call the macros rather than writing the formula again."""

from __future__ import annotations

import random
import re

import duckdb
import numpy as np
import pytest

from ocq_batch.detect import formula
from ocq_batch.load.store import define_macros
from ocq_batch.resources import sql_files, sql_text

MODELS = ("continuous", "stepped")


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    define_macros(con)
    return con


def _cases(n: int) -> list[tuple[float, ...]]:
    rng = random.Random(7)
    cases = []
    for _ in range(n):
        tick = rng.choice([60.0, 300.0, 600.0, 7.5])
        completed = rng.choice([rng.uniform(-3600, 12000), rng.randint(-10, 40) * tick])  # on a tick too
        at = completed + rng.choice([0.0, rng.uniform(-600, 9000), rng.randint(0, 30) * tick])
        base, penalty = rng.choice([25.0, 29.0, 55.0, 0.0]), rng.choice([0.0, 1.0, 2.0, 3.0])
        expected, rate = rng.choice([3300.0, 5100.0, 7800.0]), rng.choice([0.0, 1.0, 0.5])
        cases.append((base, penalty, expected, rate, completed, at, tick))
    return cases


@pytest.mark.parametrize("model", MODELS)
def test_python_formula_equals_the_sql_macros(con, model: str) -> None:
    cases = _cases(2000)
    sql = con.execute(
        """
        select onetime_bonus($m, b, z, e, c, u), accelerator($m, a, c, t, u), is_earning($m, c, t, u)
        from (select unnest($b) as b, unnest($z) as z, unnest($e) as e, unnest($a) as a,
                     unnest($c) as c, unnest($t) as t, unnest($u) as u)
        """,
        {"m": model, **{k: [case[i] for case in cases] for i, k in enumerate("bzeactu")}},
    ).fetchall()
    for (base, penalty, expected, rate, completed, at, tick), (bonus, accel, earning) in zip(
        cases, sql, strict=True
    ):
        assert formula.onetime_bonus(model, base, penalty, expected, completed, tick) == bonus
        assert formula.accelerator(model, rate, completed, at, tick) == accel
        assert formula.is_earning(model, completed, at, tick) == earning
        want = bonus + accel if earning else 0.0
        assert formula.points(model, base, penalty, expected, rate, completed, at, tick) == want


def test_scoring_md_worked_example(con) -> None:
    """SCORING.md, model stepped with z = 1, 2, 3: completions at minutes 55, 85, 130 and
    to = T0 + 150 min give 145 (early user 165, late user 125)."""
    exercises = [(55.0, 1.0, 55 * 60.0), (25.0, 2.0, 85 * 60.0), (29.0, 3.0, 130 * 60.0)]
    for minutes, total in (((55, 85, 130), 145), ((50, 75, 115), 165), ((60, 95, 145), 125)):
        score = sum(
            formula.points("stepped", base, z, expected, 1.0, m * 60.0, 150 * 60.0, 300.0)
            for (base, z, expected), m in zip(exercises, minutes, strict=True)
        )
        assert score == total


def test_threshold_is_the_same(con) -> None:
    values = [0.0, 0.49999999, 0.5, 0.5000001, 1.0, -1.0, 2.0, 1e-300]
    sql = [r[0] for r in con.execute("select is_done(unnest($v))", {"v": values}).fetchall()]
    assert [bool(formula.is_done(v)) for v in values] == sql
    assert list(formula.is_done(np.array(values))) == sql


def test_the_formula_and_the_threshold_are_written_once() -> None:
    """No SQL step writes the formula or the threshold out again: they call the macros."""
    threshold = re.compile(r">=\s*0\.5\b")
    ramp = re.compile(r"\(\s*\w*\.?expected_s\s*-")  # (expected_s - completed_s): the bonus, again
    for name in sql_files():
        text = sql_text(name)
        if name == "macros.sql":
            assert len(threshold.findall(text)) == 1
            continue
        code = "\n".join(line.split("--")[0] for line in text.splitlines())
        assert not threshold.search(code), f"{name} writes the threshold again; call is_done()"
        assert not ramp.search(code), f"{name} writes the score formula again; call onetime_bonus()"
