"""Names are data (issue 17, item 8): a user or cluster name that looks like rich markup, an
emoji code or a spreadsheet formula prints as written in the terminal, reaches ranking.csv
and ranking.xlsx as text no spreadsheet evaluates, and stays escaped in the HTML reports."""

from __future__ import annotations

import csv
import html
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import DEMO_FROM, DEMO_TO, T0, MiniEvent, full, merge, run_cli

# what rich would read as markup, an emoji code or an escape; what a spreadsheet would evaluate
MARKUP = ["[bold red]x[/]", "x\\", ":smile:", "[link=http://e.example]y[/link]"]
FORMULAS = ['=HYPERLINK("http://e.example","z")', "-2+3", "+1", "@SUM(A1)", "\tt"]
NAMES = MARKUP + FORMULAS + ["plain"]
WIDE = {"COLUMNS": "400"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An event whose users (and one cluster) have hostile names, exported with --xlsx."""
    base = tmp_path_factory.mktemp("names")
    parts = [full(n, "=c2" if i % 2 else "c1", (20 + i, 40 + i, 60 + i)) for i, n in enumerate(NAMES)]
    replay = MiniEvent(merge(*parts)).write(base / "replay", T0 - 15 * 60, T0 + 180 * 60, 30)
    out = base / "out"
    args = ("--source", str(replay), "--from", DEMO_FROM, "--to", DEMO_TO, "--out", str(out), "--top", "4")
    proc = run_cli("export", "--all", "--xlsx", *args, env=WIDE)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


def test_names_print_as_written(hostile: tuple[Path, str]) -> None:
    out, printed = hostile
    audit = run_cli("audit", "--info", "--archive", str(out), "--top", "4", env=WIDE)
    verify = run_cli("verify", "--archive", str(out), *(f"--user={n}" for n in MARKUP), env=WIDE)
    assert audit.returncode == 3 and verify.returncode == 3, audit.stderr + verify.stderr
    for text in (printed, audit.stdout, verify.stdout):
        assert "😄" not in text and "x\\\\" not in text and "\\[" not in text
        for name in MARKUP:
            assert name in text, (name, text)
    # the verdict names the contested ones as written, after its styled label
    verdict = [line for line in printed.splitlines() if line.startswith("contested")]
    assert verdict and all(f"{n} (rank" in verdict[0] for n in ("[bold red]x[/]", "x\\", ":smile:"))
    for name in MARKUP:  # an evidence card per name, titled with it
        assert any(line.startswith("#") and f" {name}: " in line for line in verify.stdout.splitlines())
    bad = run_cli("verify", "--archive", str(out), "--user", "[red]nobody\\")
    assert bad.returncode == 1 and "--user '[red]nobody\\\\' is not a ranked participant" in bad.stderr


def test_spreadsheet_cells_are_not_formulas(hostile: tuple[Path, str]) -> None:
    out, _ = hostile
    with open(out / "ranking.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    ranking = pq.read_table(out / "ranking.parquet").to_pylist()
    assert [r["user"] for r in ranking] == NAMES  # the data keep the names as they are
    for row, exact in zip(rows, ranking, strict=True):
        user = exact["user"]
        assert row["user"] == ("'" + user if user in FORMULAS else user)
        assert row["cluster"] in ("c1", "'=c2")
        assert float(row["score_exact"]) == exact["score"]  # numbers stay numbers
    texts = ("user", "cluster")
    assert not any(cell.startswith("'") for row in rows for k, cell in row.items() if k not in texts)

    from openpyxl import load_workbook

    sheet = load_workbook(out / "ranking.xlsx").active
    header = [c.value for c in sheet[1]]
    user_col, score_col = header.index("user"), header.index("score_exact")
    for cells, exact in zip(sheet.iter_rows(min_row=2), ranking, strict=True):
        cell = cells[user_col]
        assert cell.value == exact["user"] and cell.data_type == "s"  # never "f": a formula
        assert cell.quotePrefix == (exact["user"] in FORMULAS)
        assert cells[score_col].data_type == "n"


def test_reports_escape_names(hostile: tuple[Path, str]) -> None:
    out, _ = hostile
    page = (out / "report.html").read_text(encoding="utf-8")
    for name in NAMES:
        assert html.escape(name) in page, name
    assert '"http://e.example"' not in page  # the formula's quotes are escaped
    ceremony = (out / "ceremony.html").read_text(encoding="utf-8")
    assert all(html.escape(n) in ceremony for n in MARKUP)  # the top 4


def test_negative_numbers_stay_numbers(tmp_path: Path) -> None:
    """Only text cells are neutralised: -2.5 is a number (written plain), "-2.5" is text."""
    from ocq_batch.archive.spreadsheet import write_csv
    from ocq_batch.config.model import DEFAULT

    path = tmp_path / "r.csv"
    write_csv(path, ["n", "t", "u"], [[-2.5, "-2.5", "a-b"]], DEFAULT)
    assert path.read_text().splitlines()[1] == '-2.5,"\'-2.5","a-b"'
