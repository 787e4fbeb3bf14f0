"""``pip install .`` (not editable) gives a package that runs the quick start from any folder:
the SQL and the demo event ship inside the wheel, the test bench does not."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

from conftest import DEMO_FROM, DEMO_TO, REPO


def test_the_wheel_runs_the_quick_start_from_another_folder(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("ocq_batch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "ocq_batch/sql/macros.sql" in names and "ocq_batch/sql/detect/06_scores.sql" in names
    assert "ocq_batch/data/demo/index.jsonl" in names
    assert not [n for n in names if n.startswith(("testbench/", "tests/", "benchmarks/"))]

    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)  # dependencies from this Python
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = "import ocq_batch, ocq_batch.resources as r; print(ocq_batch.__file__); print(r.demo_dir())"
    where = subprocess.run(
        [str(python), "-c", code], cwd=elsewhere, capture_output=True, text=True, check=True, timeout=60
    )
    package, demo = where.stdout.split()
    assert package.startswith(str(env_dir)) and demo.startswith(str(env_dir)), where.stdout
    proc = subprocess.run(
        [str(env_dir / "bin" / "ocq-batch"), "export", "--from", DEMO_FROM, "--to", DEMO_TO],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "74 participants ranked" in proc.stdout
    assert (elsewhere / "ocq-out" / "manifest.json").is_file()
