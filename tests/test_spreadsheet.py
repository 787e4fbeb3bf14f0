"""ranking.csv is spreadsheet-ready (rounded and exact scores, the interval, contested, each
exercise's time in the event's zone, cluster); ranking.xlsx the same when asked."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import run_cli

from ocq_batch.archive.layout import sha256_file
from ocq_batch.audit.verdict import decide_cutoff


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sheet") / "demo"
    proc = run_cli("export", "-q", "--xlsx", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_ranking_csv_columns_and_values(demo: Path) -> None:
    rows = read_csv(demo / "ranking.csv")
    ranking = pq.read_table(demo / "ranking.parquet").to_pylist()
    rob = {r["user"]: r for r in pq.read_table(demo / "robustness.parquet").to_pylist()}
    scores = pq.read_table(demo / "scores.parquet").to_pylist()
    assert list(rows[0])[:3] == ["rank", "user", "score"]
    assert [r["user"] for r in rows] == [r["user"] for r in ranking]
    contested = decide_cutoff(list(rob.values()), 30).contested_users
    for row, exact in zip(rows, ranking, strict=True):
        user = row["user"]
        assert float(row["score_exact"]) == exact["score"]  # exact, as in ranking.parquet
        assert float(row["score"]) == round(exact["score"], 1) and len(row["score"].split(".")[-1]) <= 1
        assert float(row["score_min"]) == round(rob[user]["score_min"], 1)
        assert float(row["score_max"]) == round(rob[user]["score_max"], 1)
        assert row["contested"] == ("true" if user in contested else "false")
        assert row["in_top"] == ("true" if exact["in_top"] else "false")
        for s in (s for s in scores if s["user"] == user):
            cell = row[f"{s['exercise']}_completed_at"]
            if s["completed_at"] is None:
                assert cell == ""
            else:
                assert cell.endswith("+02:00") and datetime.fromisoformat(cell) == s["completed_at"]
    assert "172.20000000000002" not in [r["score"] for r in rows]  # no float noise in the shown score
    user59 = next(r for r in rows if r["user"] == "user59")  # seen on two clusters, counted on one
    counted = {s["cluster"] for s in scores if s["user"] == "user59" and s["completed_at"] is not None}
    assert user59["cluster"] == " ".join(sorted(counted))
    assert sum(r["contested"] == "true" for r in rows) == 10


def test_ranking_xlsx_holds_the_same_rows(demo: Path) -> None:
    from openpyxl import load_workbook

    manifest = json.loads((demo / "manifest.json").read_text())
    info = manifest["files"]["ranking.xlsx"]
    assert info["sha256"] == sha256_file(demo / "ranking.xlsx") and info["rows"] == 74
    sheet = load_workbook(demo / "ranking.xlsx").active
    values = list(sheet.iter_rows(values_only=True))
    header = [str(h) for h in values[0]]
    assert header[:3] == ["rank", "user", "score"] and "last_completed_at (Europe/Paris)" in header
    rows = read_csv(demo / "ranking.csv")
    assert len(values) - 1 == len(rows)
    for cells, row in zip(values[1:], rows, strict=True):
        got = dict(zip(header, cells, strict=True))
        assert got["user"] == row["user"]
        # a spreadsheet keeps 15 significant digits (as Excel does): exact to that precision
        assert got["score_exact"] == pytest.approx(float(row["score_exact"]), rel=1e-14)
        assert got["contested"] == (row["contested"] == "true")
        if row["last_completed_at"]:
            local = datetime.fromisoformat(row["last_completed_at"]).replace(tzinfo=None)
            assert got["last_completed_at (Europe/Paris)"] == local


def test_xlsx_without_openpyxl_says_what_to_install(tmp_path: Path) -> None:
    code = (
        "import sys\nsys.modules['openpyxl'] = None\nfrom ocq_batch.cli import run\n"
        f"sys.argv = ['ocq-batch', 'export', '-q', '--xlsx', '--out', {str(tmp_path / 'out')!r}]\nrun()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "pip install 'ocq-batch[xlsx]'" in proc.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was written
