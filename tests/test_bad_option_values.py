"""Every option of every command, given a bad value: one line on stderr, exit 1 (a value the
library refuses) or 2 (one the command line cannot parse), never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
from conftest import run_cli

from ocq_batch.cli import app

CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens there, nothing is sent


def commands() -> dict[str, Any]:
    group: Any = typer.main.get_command(app)
    return dict(group.commands)


def bad_values(tmp: Path) -> dict[str, list[str]]:
    """A bad value for each option, as the arguments that give it (with what it needs around it)."""
    afile = tmp / "a-file"
    afile.write_text("x")
    missing = str(tmp / "missing")
    http = ["--source", CLOSED, "--out", str(tmp / "out")]
    return {
        "--config": ["--config", missing],
        "--from": ["--from", "yesterday"],
        "--to": ["--to", "2024-10-04 15:45"],  # no offset
        "--source": ["--source", missing],
        "--env": ["--env", "staging"],
        "--model": ["--model", "linear"],
        "--top": ["--top", "thirty"],
        "--out": ["--out", str(afile)],
        "--store": ["--store", str(tmp)],  # a folder
        "--archive": ["--archive", missing],
        "--token-env": [*http, "--token-env", "OCQ_TEST_UNSET_TOKEN"],
        "--token-file": [*http, "--token-file", missing],
        "--ca-file": [*http, "--ca-file", missing],
        "--concurrency": ["--concurrency", "0"],
        "--timeout": ["--timeout", "0"],
        "--basic-user": [*http, "--basic-user", "jury"],  # no password variable named
        "--basic-password-env": [*http, "--basic-user", "jury", "--basic-password-env", "OCQ_TEST_UNSET_PW"],
        "--compression": ["--compression", "zip"],
        "--wait": ["--wait", "soon"],
        # simulate
        "--seed": ["--seed", "seven"],
        "--participants": ["--participants", "0"],
        "--clusters": ["--clusters", "-1"],
        "--hours": ["--hours", "0"],
        "--step": ["--step", "30 seconds"],
        "--collect-interval": ["--collect-interval", "often"],
        "--format": ["--format", "csv"],
        # verify, config
        "--user": ["--user", "nobody"],  # not a participant of the demo event
        "--init": ["--init", str(afile)],  # an existing file is never replaced
    }


# what a command needs besides the bad option to reach it (fetch: a server; simulate: --out)
NEEDS = {
    "fetch": {"--source": ["--source", "not-a-url"]},
    "simulate": {"--out": None},
}


def cases(tmp: Path) -> list[tuple[str, str, list[str]]]:
    values = bad_values(tmp)
    out = []
    for name, cmd in commands().items():
        for param in cmd.params:
            if param.param_type_name != "option" or param.is_flag or param.name == "help":
                continue
            flag = param.opts[0]
            args = NEEDS.get(name, {}).get(flag, values[flag])
            base = []
            if name == "fetch" and flag != "--source" and "--source" not in args:
                base = ["--source", CLOSED]
            if name == "simulate" and flag != "--out":
                base = ["--out", str(tmp / f"sim-{flag.strip('-')}")]
            if name == "simulate" and flag == "--out":
                args = values["--out"]
            out.append((name, flag, [name, *base, *args]))
    return out


def test_every_option_has_a_bad_value(tmp_path: Path) -> None:
    named = {(n, f) for n, f, _ in cases(tmp_path)}
    assert len(named) > 70
    assert ("verify", "--compression") in named and ("simulate", "--format") in named


@pytest.mark.parametrize("command", ["export", "fetch", "simulate", "config", "audit", "verify"])
def test_bad_values_give_one_line(tmp_path: Path, command: str) -> None:
    for name, flag, args in cases(tmp_path):
        if name != command:
            continue
        proc = run_cli(*args, cwd=tmp_path)
        where = f"{' '.join(args)}: rc {proc.returncode}, stderr {proc.stderr!r}"
        assert proc.returncode in (1, 2), where
        assert "Traceback" not in proc.stderr + proc.stdout, where
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), where
        assert flag in lines[0] or proc.returncode == 1, where  # a usage error names its option
