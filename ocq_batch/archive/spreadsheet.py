"""The ranking for spreadsheets: ``ranking.csv``, and ``ranking.xlsx`` when asked.

One row per ranked participant, in rank order. Beside ranking.parquet's columns it holds
the score rounded for display (``score``, 0.1 point) beside the exact one (``score_exact``),
the interval the score can lie in (``score_min``, ``score_max``; empty: no upper bound),
whether the place is contested at the prize cut-off, each exercise's completion time and
the cluster(s) that counted. Times are in the event's time zone: with their offset in the
CSV, as that zone's wall-clock time in the XLSX (the zone is in the column header). A
spreadsheet keeps 15 significant digits of a number, as Excel does: ``score_exact`` in the
XLSX is exact to that precision, in the CSV to the last bit.

Names are data, never formulas (OWASP's CSV injection guidance): a text cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single quote in the CSV
(:func:`formula_safe`); in the XLSX it is stored as a string with Excel's quote prefix, so
the cell shows the name as written and editing it does not turn it into a formula. Numbers,
negative ones too, stay numbers.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ocq_batch.audit.verdict import decide_cutoff
from ocq_batch.config.model import Config
from ocq_batch.errors import ConfigError
from ocq_batch.resources import sql_text
from ocq_batch.rows import Rows, python_values
from ocq_batch.timeutil import zone

# what makes a spreadsheet read a cell as a formula (OWASP: CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` as a formula (or strip its first character)."""
    return text.startswith(FORMULA_STARTS)


def formula_safe(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet evaluates: a leading single quote when it starts
    like a formula, else unchanged."""
    return "'" + text if is_formula_like(text) else text


XLSX_HINT = "--xlsx needs openpyxl, an optional extra: pip install 'ocq-batch[xlsx]'"


def check_xlsx() -> None:
    """ConfigError with what to install when openpyxl is missing (asked before any work)."""
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise ConfigError(XLSX_HINT) from None


def ranking_sheet(
    con: duckdb.DuckDBPyConnection, ranking: pa.Table, config: Config
) -> tuple[list[str], list[list[Any]]]:
    """The header and rows of the spreadsheet ranking (times as aware datetimes, UTC)."""
    audited = con.execute(
        "select count(*) from information_schema.tables where table_name = 'robustness'"
    ).fetchall()[0][0]
    bounds: dict[str, dict[str, Any]] = {}
    contested: set[str] = set()
    if audited:  # the export always audits first; a bare store leaves these columns empty
        robustness = Rows.query(con, "select * from robustness order by rank, user").rows
        bounds = {r["user"]: r for r in robustness}
        contested = decide_cutoff(robustness, config.top).contested_users
    done: dict[tuple[str, str], tuple[Any, Any]] = {
        (u, e): (at, cluster)
        for u, e, at, cluster in con.execute(sql_text("archive/ranking_exercises.sql")).fetchall()
    }
    seen = dict(con.execute("select user, clusters from users_seen").fetchall())
    exercises = [e.name for e in config.exercises]
    header = [
        "rank", "user", "score", "score_exact", "score_min", "score_max", "in_top", "contested",
        "exercises_completed", "last_completed_at", *(f"{e}_completed_at" for e in exercises), "cluster",
    ]  # fmt: skip
    names = ranking.column_names
    columns = {n: python_values(ranking.column(n)) for n in names}
    rows = []
    for i in range(ranking.num_rows):
        row = {n: columns[n][i] for n in names}
        user = row["user"]
        bound = bounds.get(user)
        counted = sorted(
            {done[(user, e)][1] for e in exercises if done.get((user, e), (None,))[0] is not None}
        )
        clusters = counted or sorted(seen.get(user) or [])
        high = None if bound is None or bound["score_max"] == float("inf") else round(bound["score_max"], 1)
        rows.append(
            [
                row["rank"], user, round(row["score"], 1), row["score"],
                None if bound is None else round(bound["score_min"], 1), high,
                bool(row["in_top"]), None if not audited else user in contested,
                row["exercises_completed"], row["last_completed_at"],
                *(done.get((user, e), (None,))[0] for e in exercises),
                " ".join(clusters),
            ]
        )  # fmt: skip
    return header, rows


def write_csv(path: Path, header: list[str], rows: list[list[Any]], config: Config) -> None:
    """ranking.csv: strings quoted (and :func:`formula_safe`), numbers plain, booleans
    true/false, times ISO with the offset."""
    tz = zone(config.timezone)

    def cell(v: Any) -> Any:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, datetime):
            return v.astimezone(tz).isoformat()
        if isinstance(v, str):
            return formula_safe(v)
        return "" if v is None else v

    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([cell(v) for v in row] for row in rows)


def write_xlsx(path: Path, header: list[str], rows: list[list[Any]], config: Config) -> None:
    """ranking.xlsx: one sheet, the header bold and frozen, filters on, contested rows shaded."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    tz = zone(config.timezone)
    book = Workbook()
    sheet = book.active
    sheet.title = "ranking"
    sheet.append([f"{h} ({config.timezone})" if h.endswith("_at") else h for h in header])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    shade = PatternFill("solid", fgColor="FFF4CE")
    contested = header.index("contested")
    for row in rows:
        sheet.append([v.astimezone(tz).replace(tzinfo=None) if isinstance(v, datetime) else v for v in row])
        for cell, v in zip(sheet[sheet.max_row], row, strict=True):
            if isinstance(v, str) and is_formula_like(v):  # openpyxl reads "=..." as a formula
                cell.value, cell.data_type, cell.quotePrefix = v, "s", True
        if row[contested]:
            for cell in sheet[sheet.max_row]:
                cell.fill = shade
    for k, name in enumerate(header, start=1):
        letter = sheet.cell(row=1, column=k).column_letter
        sheet.column_dimensions[letter].width = max(len(name) + 4, 22 if name.endswith("_at") else 10)
        if name.endswith("_at"):
            for cell in sheet[letter][1:]:
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
    sheet.freeze_panes = "C2"
    sheet.auto_filter.ref = sheet.dimensions
    created = config.start.astimezone(tz).replace(tzinfo=None)  # the same bytes run after run
    book.properties.created = book.properties.modified = created
    book.save(path)
