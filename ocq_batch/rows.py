"""Small query results kept as Arrow: plain rows for the reports, a DataFrame on request.

The export, its reports and the audit's verdict read the ranking, the timeline and the
audit's tables as plain Python rows: building those DataFrames and filtering, merging
and iterating them cost about 0.15 s of the two-to-three-second demo export. ``verify``,
the tests and analysts in Jupyter get the DataFrame DuckDB's ``.df()`` gives for the
same result, built on first use from the Arrow table (same dtypes, same time zone).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

if TYPE_CHECKING:
    import pandas as pd

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Rows:
    """One query result: ``rows`` (dicts, as DuckDB's ``fetchall`` values) and ``frame``."""

    def __init__(self, table: pa.Table, timezone: str) -> None:
        self.table = table
        self.timezone = timezone  # the session time zone the timestamps are shown in

    @classmethod
    def query(cls, con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Rows:
        """Run ``sql`` on ``con``; timestamps keep the session's time zone, as ``.df()`` does."""
        # fetchall finishes this result (and so any result left open before it): DuckDB
        # refuses a relation query on a connection with an unfinished result
        ((timezone,),) = con.execute("select current_setting('TimeZone')").fetchall()
        return cls(con.sql(sql, params=params).to_arrow_table(), str(timezone))

    def __len__(self) -> int:
        return self.table.num_rows

    @functools.cached_property
    def rows(self) -> list[dict[str, Any]]:
        """Every row as a dict: None for NULL, aware datetimes in the session's time zone."""
        names = self.table.column_names
        columns = [self.column(name) for name in names]
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]

    def column(self, name: str) -> list[Any]:
        """One column as Python values (see :func:`python_values`)."""
        return python_values(self.table.column(name))

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """The result as DuckDB's ``.df()`` gives it (imports pandas)."""
        con = duckdb.connect()
        try:
            con.execute("set TimeZone = ?", [self.timezone])
            return con.from_arrow(self.table).df()
        finally:
            con.close()


def python_values(column: pa.ChunkedArray) -> list[Any]:
    """A column as Python values; timestamps as aware datetimes in the column's zone (converted
    here: pyarrow's own conversion of zoned timestamps imports pandas)."""
    if not pa.types.is_timestamp(column.type):
        return column.to_pylist()
    to_us = {"s": 1_000_000, "ms": 1_000, "us": 1}.get(column.type.unit)
    if to_us is None:  # nanoseconds: DuckDB's timestamp_ns, truncated to microseconds as it does
        column, to_us = column.cast(pa.timestamp("us", column.type.tz), safe=False), 1
    epoch = _EPOCH if column.type.tz else _EPOCH.replace(tzinfo=None)
    tz = ZoneInfo(column.type.tz) if column.type.tz else None
    out = []
    for v in column.cast(pa.int64()).to_pylist():
        when = None if v is None else epoch + timedelta(microseconds=v * to_us)
        out.append(when.astimezone(tz) if when is not None and tz is not None else when)
    return out
