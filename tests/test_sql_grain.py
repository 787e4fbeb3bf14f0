"""Every SQL file opens with its grain (``-- grain: <table or result>: <columns>``), and every
stated grain holds on the demo event's store: no two rows share those columns."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pyarrow.dataset as pads
import pytest
from conftest import DEMO_FROM, DEMO_TO, run_cli

from ocq_batch.audit.run import run_audit
from ocq_batch.config.model import DEFAULT, Window
from ocq_batch.detect.steps import run_pipeline
from ocq_batch.load.store import open_store
from ocq_batch.resources import sql_files, sql_text
from ocq_batch.timeutil import parse_instant

GRAIN = re.compile(r"^-- grain: (?:none \(.+\)|(?P<relation>\w+): (?P<columns>\(one row\)|\w+(?:, \w+)*))$")


def grains(name: str) -> list[tuple[str, list[str] | None]]:
    """The (relation, columns) a file states, in order; columns None for '(one row)'."""
    lines = sql_text(name).splitlines()
    stated = []
    for line in lines:
        if not line.startswith("-- grain:"):
            break
        match = GRAIN.match(line)
        assert match, f"{name}: unreadable grain line {line!r}"
        if match["relation"]:
            cols = None if match["columns"] == "(one row)" else match["columns"].split(", ")
            stated.append((match["relation"], cols))
    assert lines and lines[0].startswith("-- grain:"), f"{name} does not open with a grain line"
    return stated


def test_every_sql_file_states_its_grain() -> None:
    names = sql_files()
    assert len(names) > 30 and "macros.sql" in names
    for name in names:
        grains(name)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[duckdb.DuckDBPyConnection, Path]:
    out = tmp_path_factory.mktemp("grain") / "out"
    assert run_cli("export", "-q", "--out", str(out)).returncode == 0
    store = out.parent / "store.duckdb"
    shutil.copy(out / "store.duckdb", store)
    con = open_store(store)
    con.register("archived", pads.dataset(out / "samples.parquet"))  # what reload_*.sql read
    yield con, out
    con.close()


def _duplicates(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str] | None) -> int:
    if columns is None:
        return max(0, con.execute(f"select count(*) from {relation}").fetchall()[0][0] - 1)
    cols = ", ".join(f'"{c}"' for c in columns)
    return con.execute(
        f"select count(*) from (select {cols} from {relation} group by all having count(*) > 1)"
    ).fetchall()[0][0]


def _check(con: duckdb.DuckDBPyConnection, name: str) -> int:
    checked = 0
    for relation, columns in grains(name):
        if relation == "result":
            params = {}
            text = sql_text(name)
            if "$from_ts" in text:
                params = {"from_ts": parse_instant(DEMO_FROM), "to_ts": parse_instant(DEMO_TO)}
            con.execute(f"create or replace temp table grain_result as {text}", params)
            relation = "grain_result"
        assert _duplicates(con, relation, columns) == 0, f"{name}: {relation} is not unique on {columns}"
        checked += 1
    return checked


def test_every_stated_grain_is_unique_on_the_demo_store(demo) -> None:
    con, _out = demo
    window = Window(parse_instant(DEMO_FROM), parse_instant(DEMO_TO))
    names = [n for n in sql_files() if n != "macros.sql"]
    reference = [n for n in names if n.startswith("detect/samples/")]
    run_pipeline(con, DEFAULT, window, from_samples=True)
    checked = sum(_check(con, n) for n in reference)
    run_pipeline(con, DEFAULT, window)
    run_audit(con, DEFAULT)
    checked += sum(_check(con, n) for n in names if n not in reference)
    assert checked >= 45
