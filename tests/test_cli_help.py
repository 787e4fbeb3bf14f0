"""Every command and option is documented, with an example."""

from __future__ import annotations

import re
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
