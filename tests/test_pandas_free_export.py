"""The export never imports pandas: its Arrow columns are built from buffers
(:mod:`ocq_batch.columns`), not by pyarrow's converters, which import it. The archive is
the same bytes with pandas imported, and the commands that do want pandas still get it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Conversions the command line makes (typed and inferred arrays, tables from dicts), then
# whether pandas was imported, then the values, so that both runs can be compared.
_CONVERT = """
import sys
{setup}
import datetime, numpy as np, pyarrow as pa
t = pa.table({{"i": [1, None], "f": [1.5, 2.0], "s": ["x", None],
               "t": [datetime.datetime(2024, 10, 4, tzinfo=datetime.UTC), None]}})
a = [pa.array([1, 2]), pa.array(np.arange(3)), pa.array(["a"], pa.string()), pa.array([float("nan")])]
print("pandas" in sys.modules)
print(t.schema.types, t.to_pylist(), [x.to_pylist() for x in a], [str(x.type) for x in a])
"""


def _python(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_pyarrow_imports_pandas_on_its_own() -> None:
    # the cost ocq_batch.columns avoids: pyarrow's first conversion imports pandas
    assert _python(_CONVERT.format(setup=""))[0] == "True"


def test_help_does_not_import_pyarrow() -> None:
    code = (
        "import sys\nfrom ocq_batch.cli import run\nsys.argv = ['ocq-batch', '--help']\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "print('pyarrow' in sys.modules)"
    )
    assert _python(code)[-1] == "False"


def _cli(args: list[str], pre_import: str = "") -> subprocess.CompletedProcess[str]:
    code = (
        f"import sys\n{pre_import}\nfrom ocq_batch.cli import run\nsys.argv = ['ocq-batch', *{args!r}]\n"
        "try:\n    run()\nfinally:\n    print('pandas imported:', 'pandas' in sys.modules, file=sys.stderr)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_export_without_pandas_writes_the_same_archive(tmp_path: Path) -> None:
    lean, plain = tmp_path / "lean", tmp_path / "plain"
    done = _cli(["export", "-q", "--out", str(lean)])
    assert done.returncode == 0, done.stderr
    assert "pandas imported: False" in done.stderr
    done = _cli(["export", "-q", "--out", str(plain)], pre_import="import pandas")
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in lean.iterdir() if p.suffix in {".parquet", ".csv", ".md"})
    assert "samples.parquet" in names and "ranking.csv" in names
    for name in names:
        assert (lean / name).read_bytes() == (plain / name).read_bytes(), name
    # verify wants DataFrames: it still gets them from the entry point
    done = _cli(["verify", "--archive", str(lean)])
    assert done.returncode in (0, 3), done.stderr
    assert "pandas imported: True" in done.stderr and "Traceback" not in done.stderr
