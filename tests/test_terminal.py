"""Output that fits: every command at COLUMNS=80 prints no line over 80 columns and cuts no word
across lines; the fetch's progress bar says "fetching" with bytes and time left."""

from __future__ import annotations

import io
import itertools
import re
from pathlib import Path

import pytest
from conftest import DEMO_FROM, DEMO_TO, run_cli
from rich.cells import cell_len
from rich.console import Console

from ocq_batch.report.terminal import progress_bar

NARROW, WIDE = {"COLUMNS": "80"}, {"COLUMNS": "1000"}


def check_fits(narrow: str, wide: str, where: str) -> None:
    """``narrow`` (80 columns) holds no longer line, and no word cut across lines: each of its words
    is a word of ``wide`` (the same output laid out 1000 columns wide), and no line's last word
    glued to the next line's first word makes one."""
    words = set(wide.split())
    assert narrow.split(), where
    rule = re.compile(r"^[─━═┃│┏┓┗┛┡┩╇╋┳┻]+$")  # a table's rules: as wide as the table, not words
    for line in narrow.splitlines():
        assert cell_len(line) <= 80, f"{where}: {cell_len(line)} columns: {line!r}"
    unknown = [w for w in narrow.split() if w not in words and not rule.match(w)]
    assert not unknown, f"{where}: words cut or changed by wrapping: {unknown[:10]}"
    lines = [line for line in narrow.splitlines() if line.strip()]
    for a, b in itertools.pairwise(lines):
        glued = a.split()[-1] + b.split()[0]
        assert glued not in words or a.split()[-1] + " " + b.split()[0] in wide, f"{where}: {a!r} / {b!r}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two folders of the same length: one for the runs at 80 columns, one for the reference."""
    base = tmp_path_factory.mktemp("width")
    folders = {"narrow": base / "n", "wide": base / "w"}
    for env, folder in zip((NARROW, WIDE), folders.values(), strict=True):
        folder.mkdir()
        done = run_cli("export", "-q", "--out", str(folder / "out"), env=env)
        assert done.returncode == 0, done.stderr
    return folders


COMMANDS = {
    "export": ["export", "--out", "{dir}/again"],
    "export --all": ["export", "--all", "--out", "{dir}/all"],
    "audit": ["audit", "--archive", "{dir}/out"],
    "audit --info": ["audit", "--info", "--archive", "{dir}/out"],
    "verify": ["verify", "--archive", "{dir}/out"],
    "verify --user": ["verify", "--archive", "{dir}/out", "--user", "user64", "--user", "user23"],
    "verify --top 100": ["verify", "--archive", "{dir}/out", "--top", "100"],
    "config": ["config"],
    "config --init -": ["config", "--init", "-"],
    "simulate": ["simulate", "--participants", "30", "--seed", "7", "--out", "{dir}/sim"],
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_fits_80_columns(runs: dict[str, Path], name: str) -> None:
    out = {}
    for (kind, folder), env in zip(runs.items(), (NARROW, WIDE), strict=True):
        args = [a.replace("{dir}", str(folder)) for a in COMMANDS[name]]
        proc = run_cli(*args, env=env)
        assert proc.returncode in (0, 3), proc.stderr
        out[kind] = proc.stdout.replace(str(folder), "<DIR>")
    check_fits(out["narrow"], out["wide"], name)


def test_help_fits_80_columns() -> None:
    from test_cli_help import commands

    for args in ([], *([name] for name in commands())):
        narrow = run_cli(*args, "--help", env=NARROW).stdout
        assert all(cell_len(line) <= 80 for line in narrow.splitlines()), args


def test_fetch_fits_80_columns(prometheus, tmp_path: Path) -> None:
    out = {}
    for kind, env in (("n", NARROW), ("w", WIDE)):
        folder = tmp_path / kind
        args = ["--source", prometheus.url, "--from", DEMO_FROM, "--to", DEMO_TO, "--out", str(folder)]
        proc = run_cli("fetch", *args, env=env)
        assert proc.returncode == 0, proc.stderr
        out[kind] = proc.stdout.replace(str(folder), "<DIR>")
    check_fits(out["n"], out["w"], "fetch")


def test_the_checker_finds_a_word_cut_across_lines() -> None:
    wide = "the service came last for user64 at 16:40"
    with pytest.raises(AssertionError, match="cut"):
        check_fits("the service came l\nast for user6\n4 at 16:40", wide, "cut")
    check_fits("the service came last\nfor user64 at 16:40", wide, "whole")


def test_the_fetch_progress_says_fetching_with_bytes_and_time_left() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)
    with progress_bar(True, console) as bar:
        advance = bar.task("fetching", 10)
        for _ in range(4):
            advance(1, 250_000)
        bar.progress.refresh()  # type: ignore[union-attr]
        shown = screen.getvalue()
    last = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown).splitlines()[-1]
    assert "fetching" in last and "4/10" in last and "1.0 MB" in last and "ETA" in last, last


class Recorded:
    """A progress display that remembers each task and what advanced it."""

    def __init__(self) -> None:
        self.tasks: list[list] = []

    def task(self, label: str, total: int | None):
        self.tasks.append([label, total, 0, 0])
        row = self.tasks[-1]

        def advance(n: int, nbytes: int = 0) -> None:
            row[2] += n
            row[3] += nbytes

        return advance


def test_fetch_and_export_report_fetching_with_bytes(prometheus, tmp_path: Path) -> None:
    from ocq_batch.config.toml import resolve
    from ocq_batch.jobs.export import export, fetch, replay_source
    from ocq_batch.pull.http_options import HttpOptions

    config, window = resolve(None, DEMO_FROM, DEMO_TO)
    seen = Recorded()
    fetch(config, window, HttpOptions(base_url=prometheus.url), tmp_path / "rec", progress=seen)
    (label, total, done, nbytes) = seen.tasks[0]
    assert label == "fetching" and total == done and nbytes > 100_000
    replayed = Recorded()
    export(config, window, replay_source(str(tmp_path / "rec")), tmp_path / "out", progress=replayed)
    assert replayed.tasks[0][0] == "loading replay" and replayed.tasks[0][3] == nbytes
    live = Recorded()
    export(config, window, None, tmp_path / "o2", progress=live, http=HttpOptions(base_url=prometheus.url))
    assert live.tasks[0][0] == "fetching" and live.tasks[0][3] == nbytes
