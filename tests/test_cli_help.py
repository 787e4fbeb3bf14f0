"""Every command and option is documented, with an example."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import typer.main
from conftest import run_cli

from ocq_batch import __version__
from ocq_batch.cli import app


def commands() -> dict[str, Any]:
    group: Any = typer.main.get_command(app)
    return dict(group.commands)


def test_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"ocq-batch {__version__}"


def test_every_command_has_help_with_an_example() -> None:
    for name, cmd in commands().items():
        assert cmd.help and "Example: ocq-batch" in cmd.help, name
        for param in cmd.params:
            if param.param_type_name == "option" and param.name != "help":
                assert param.help, f"{name} {param.opts} has no help"
                if not param.is_flag:
                    assert re.search(r"Example: --", param.help), f"{name} {param.opts} has no example"


def test_readme_mentions_every_command() -> None:
    from conftest import REPO

    readme = (REPO / "README.md").read_text()
    for name in commands():
        assert f"ocq-batch {name}" in readme, name


def test_help_runs_for_every_command() -> None:
    for name in commands():
        proc = run_cli(name, "--help")
        assert proc.returncode == 0 and "Example" in proc.stdout, name


def test_help_starts_without_the_heavy_modules() -> None:
    """--help and --version import neither pandas, DuckDB, Arrow nor httpx: the commands that
    use them import them, so asking for help answers at once."""
    heavy = ("pandas", "duckdb", "pyarrow", "numpy", "httpx", "matplotlib")
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ocq_batch.cli import app\n"
        "for args in (['--help'], ['export', '--help'], ['audit', '--help'], ['--version']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_replay_export_and_simulator_do_not_import_httpx() -> None:
    """Only a URL source needs an HTTP client: the request planning the simulator shares with
    the HTTP source lives in ocq_batch.pull.api, which does not import one."""
    code = (
        "import sys\n"
        "import ocq_batch.sim.event, ocq_batch.jobs.export, ocq_batch.pull.api\n"
        "print('httpx' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
