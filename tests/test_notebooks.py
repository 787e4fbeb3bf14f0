"""Every notebook runs top to bottom on a freshly exported demo archive (nbclient, python3 kernel)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from conftest import OUTPUT, REPO
from nbclient import NotebookClient
from test_analysis import build_demo

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
EXPECTED = {"event-overview", "leaderboard", "scoring-what-if"}


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory, "demo")


def parameters_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "one cell tagged 'parameters'"
    return cells[0]


def test_every_notebook_is_there() -> None:
    assert {p.stem for p in NOTEBOOKS} == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert re.search(r'^archive = "\.\./ocq-out"', parameters_cell(nb).source, re.M)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "strip outputs before committing"
            # notebooks call the library; the pipeline and its SQL stay in ocq_batch
            assert not re.search(r"run_pipeline|sql_text|import duckdb|\.execute\(", cell.source)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    cell = parameters_cell(nb)
    cell.source = re.sub(r"^archive = .*$", f"archive = {str(archive)!r}", cell.source, flags=re.M)
    out = OUTPUT / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()  # raises CellExecutionError on the first failing cell
    finally:
        nbformat.write(nb, out / path.name)  # executed (or failed) notebook as a CI artefact
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the notebook draws its charts"
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert os.environ["MPLBACKEND"] == "Agg"
