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


def test_enum_options_list_their_choices_and_match_the_library() -> None:
    from ocq_batch.cli.simulate import Format
    from ocq_batch.config.model import MODELS
    from ocq_batch.jobs.simulate import FORMATS
    from ocq_batch.pull.http_options import COMPRESSIONS

    assert tuple(f.value for f in Format) == tuple(FORMATS)
    for name in ("export", "audit", "verify"):  # the choices the parser shows are the library's
        shown = " ".join(run_cli(name, "--help", env={"COLUMNS": "200"}).stdout.split())
        assert f"--model <{'|'.join(MODELS)}>" in shown, name
        assert f"--compression <{'|'.join(COMPRESSIONS)}>" in shown, name
    help_text = run_cli("export", "--help", env={"COLUMNS": "80"}).stdout
    assert "dev, preprod, prod unless configured" in " ".join(help_text.split())  # --env's configured envs
    assert "--from TIMESTAMP" in help_text and "--to TIMESTAMP" in help_text and "<str>" not in help_text
    sim = run_cli("simulate", "--help", env={"COLUMNS": "80"}).stdout
    assert "--step DURATION" in sim and "--collect-interval DURATION" in sim
    assert "[replay|openmetrics|kube-openmetrics]" in sim


def test_every_command_says_its_exit_codes_and_completion_is_on() -> None:
    for name, cmd in commands().items():
        assert "Exit codes: 0" in (cmd.help or ""), name
    root = run_cli("--help").stdout
    assert "--install-completion" in root and "--show-completion" in root and "Exit codes:" in root
    # the shell named, not detected from the parent processes (which a CI runner may not have)
    shown = run_cli("--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert shown.returncode == 0 and "ocq-batch" in shown.stdout and "complete" in shown.stdout


def test_help_wraps_between_words_at_80_columns() -> None:
    """No hyphenated word or URL is cut across lines: every word of the help at 80 columns is a
    word of the same help laid out 1000 columns wide."""
    from typer.testing import CliRunner

    for args in ([], *([name] for name in commands())):
        narrow = run_cli(*args, "--help", env={"COLUMNS": "80"}).stdout
        wide = CliRunner().invoke(app, [*args, "--help"], prog_name="ocq-batch", terminal_width=1000,
                                  max_content_width=1000).output  # fmt: skip
        assert all(len(line) <= 80 for line in narrow.splitlines()), args
        assert narrow.split() == wide.split(), args
