"""Rows: the plain rows are what DuckDB's fetchall gives, the frame what its .df() gives."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ocq_batch.rows import Rows

QUERY = """
    select * from (values
        (1, 'ann', 2.5, timestamptz '2024-10-04 13:15:00.123456Z', timestamp '2024-10-04 13:15:00', true),
        (null, null, null, null, null, null),
        (3, 'bob', 'inf'::double, timestamptz '1969-12-31 23:59:59.5Z', timestamp '1969-12-31 23:59:59.5',
         false)
    ) as t(n, user, score, done_at, naive, in_top)
    order by n nulls last
"""


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Paris", "America/New_York"])
def test_rows_are_fetchall_and_frame_is_df(timezone: str) -> None:
    con = duckdb.connect()
    con.execute("set TimeZone = ?", [timezone])
    got = Rows.query(con, QUERY)
    expected = con.execute(QUERY).fetchall()
    names = [d[0] for d in con.execute(QUERY).description]
    assert got.rows == [dict(zip(names, row, strict=True)) for row in expected]
    for row, raw in zip(got.rows, expected, strict=True):  # same instants shown in the same zone
        assert (row["done_at"] and row["done_at"].utcoffset()) == (raw[3] and raw[3].utcoffset())
    assert len(got) == 3 and got.column("user") == ["ann", "bob", None]
    assert got.frame.equals(con.execute(QUERY).df())
    assert got.frame.dtypes.to_dict() == con.execute(QUERY).df().dtypes.to_dict()


def test_query_after_an_unfinished_result() -> None:
    """A step's result left open on the connection does not stop the next read."""
    con = duckdb.connect()
    con.execute("create table t as select range as x from range(5)")
    con.execute("select * from t")  # not fetched
    assert Rows.query(con, "select count(*) as n from t where x > ?", [1]).rows == [{"n": 3}]


def test_the_export_builds_no_dataframe(tmp_path: Path) -> None:
    """The export, its reports and its manifest read plain rows; DataFrames are for later readers."""
    from ocq_batch.config.model import DEFAULT, Window
    from ocq_batch.jobs.export import export
    from ocq_batch.pull.source import ReplaySource
    from ocq_batch.resources import demo_dir

    result = export(DEFAULT, Window(DEFAULT.start, DEFAULT.end), ReplaySource(demo_dir()), tmp_path / "out")
    tables = [result.ranking, *result.audit.tables.values()]
    assert all("frame" not in vars(t) for t in tables)  # functools.cached_property keeps it there
    assert len(result.audit.findings) == len(result.audit.tables["findings"])  # built on demand
