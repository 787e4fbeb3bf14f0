"""Bad input: one clear line on stderr, exit code 1, no traceback, nothing written."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO, run_cli

DEMO = REPO / "data" / "demo"


def assert_clean_failure(proc, out: Path, *needles: str, code: int = 1) -> None:
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in proc.stderr + proc.stdout
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not out.exists(), "a failed run must not leave an output folder"
    assert not list(out.parent.glob(f".{out.name}.*"))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "event.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("toml", "needles"),
    [
        ("[event]\nnmae = 'x'\n", ["unknown key [event] 'nmae'", "event.toml"]),
        ("[scoring]\ntick = '5 minutes'\n", ["[scoring] tick", "'5 minutes'"]),
        ("[scoring]\ntop = 'thirty'\n", ["[scoring] top", "whole number"]),
        ("[event]\nstart = '2024-10-04 13:15'\n", ["[event] start", "time zone"]),
        ("[scoring]\nenv = 'staging'\n", ["[scoring] env", "'staging'"]),
        ("[[exercises]]\nname = 'quiz'\n", ["new exercise 'quiz' needs base and expected"]),
        ("[[exercises]]\nbase = 3\n", ["needs a name"]),
        ("[queries]\ncompletion = 'x_{exercice}'\n", ["unknown placeholder {exercice}"]),
        ("[event\n", ["not valid TOML"]),
        ("[colours]\nx = 1\n", ["unknown key 'colours'"]),
    ],
)
def test_bad_config(tmp_path: Path, out: Path, toml: str, needles: list[str]) -> None:
    proc = run_cli("export", "--config", str(write(tmp_path, toml)), "--out", str(out))
    assert_clean_failure(proc, out, *needles)


def test_missing_config_file(tmp_path: Path, out: Path) -> None:
    proc = run_cli("export", "--config", str(tmp_path / "nope.toml"), "--out", str(out))
    assert_clean_failure(proc, out, "cannot read config file", "nope.toml")


def test_from_after_to(out: Path) -> None:
    proc = run_cli(
        "export", "--from", "2024-10-04T15:00:00Z", "--to", "2024-10-04T14:00:00Z", "--out", str(out)
    )
    assert_clean_failure(proc, out, "--from 2024-10-04T15:00:00Z is not before --to 2024-10-04T14:00:00Z")


def test_unparseable_timestamp(out: Path) -> None:
    proc = run_cli("export", "--from", "yesterday", "--out", str(out))
    assert_clean_failure(proc, out, "--from", "'yesterday'", "ISO 8601")


def test_window_outside_the_data(out: Path) -> None:
    proc = run_cli(
        "export", "--from", "2024-10-05T13:15:00Z", "--to", "2024-10-05T15:45:00Z", "--out", str(out)
    )
    assert_clean_failure(proc, out, "outside the recorded data", "2024-10-04T13:00:00Z")


def test_unknown_env(out: Path) -> None:
    proc = run_cli("export", "--env", "staging", "--out", str(out))
    assert_clean_failure(proc, out, "--env 'staging'", "dev, preprod, prod")


def test_unknown_model(out: Path) -> None:
    # the parser knows the choices now (listed in --help): a usage error, exit 2, naming the
    # option, the value and the choices (it was exit 1 from the library's check)
    proc = run_cli("export", "--model", "linear", "--out", str(out))
    assert_clean_failure(proc, out, "'--model'", "'linear' is not one of 'continuous', 'stepped'", code=2)


def copy_demo(tmp_path: Path) -> Path:
    folder = tmp_path / "replay"
    shutil.copytree(DEMO, folder)
    return folder


def test_corrupt_replay_file(tmp_path: Path, out: Path) -> None:
    folder = copy_demo(tmp_path)
    victim = sorted((folder / "responses").iterdir())[3]
    data = gzip.decompress(victim.read_bytes())
    victim.write_bytes(gzip.compress(data[: len(data) // 2]))
    proc = run_cli("export", "--source", str(folder), "--out", str(out))
    assert_clean_failure(proc, out, victim.name, "corrupt")


def test_unreadable_replay_file(tmp_path: Path, out: Path) -> None:
    folder = copy_demo(tmp_path)
    victim = sorted((folder / "responses").iterdir())[0]
    victim.write_bytes(b"not gzip at all")
    proc = run_cli("export", "--source", str(folder), "--out", str(out))
    assert_clean_failure(proc, out, victim.name, "unreadable")


def test_missing_replay_folder(tmp_path: Path, out: Path) -> None:
    proc = run_cli("export", "--source", str(tmp_path / "nowhere"), "--out", str(out))
    assert_clean_failure(proc, out, "does not exist")


def test_replay_missing_a_query(tmp_path: Path, out: Path) -> None:
    folder = copy_demo(tmp_path)
    lines = (folder / "index.jsonl").read_text().splitlines()
    kept = [line for line in lines if json.loads(line)["key"] != "completion/fight/prod"]
    (folder / "index.jsonl").write_text("\n".join(kept) + "\n")
    proc = run_cli("export", "--source", str(folder), "--out", str(out))
    assert_clean_failure(proc, out, "opencodequest_leaderboard_fight:prod")


def test_empty_result(tmp_path: Path, out: Path) -> None:
    config = write(tmp_path, "[queries]\nuser_label = 'namespace'\n")
    proc = run_cli("export", "--config", str(config), "--out", str(out))
    assert_clean_failure(proc, out, "no participant series")


def test_everyone_excluded(tmp_path: Path, out: Path) -> None:
    config = write(tmp_path, "[event]\nexclude_users = ['.']\n")
    proc = run_cli("export", "--config", str(config), "--out", str(out))
    assert_clean_failure(proc, out, "excluded by [event] exclude_users")


def test_failed_run_keeps_previous_archive(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_cli("export", "-q", "--out", str(out)).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".parquet", ".json")}
    proc = run_cli(
        "export", "--from", "2024-10-05T13:15:00Z", "--to", "2024-10-05T15:45:00Z", "--out", str(out)
    )
    assert proc.returncode == 1
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".parquet", ".json")} == before


def test_refuses_an_out_folder_with_foreign_files(tmp_path: Path) -> None:
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    proc = run_cli("export", "--out", str(out))
    assert proc.returncode == 1 and "thesis.tex" in proc.stderr
    assert (out / "thesis.tex").read_text() == "precious"


def test_usage_error_is_exit_2() -> None:
    proc = run_cli("export", "--no-such-option")
    assert proc.returncode == 2


def test_audit_of_a_tampered_or_foreign_archive(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    assert run_cli("export", "-q", "--out", str(archive)).returncode == 0
    ranking = archive / "ranking.parquet"
    ranking.write_bytes(ranking.read_bytes()[:-10] + b"0123456789")
    proc = run_cli("verify", "--archive", str(archive))
    assert proc.returncode == 1 and "ranking.parquet" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("audit", "--archive", str(tmp_path))
    assert proc.returncode == 1 and "manifest" in proc.stderr


@pytest.mark.parametrize("source", ["http://127.0.0.1:9", str(DEMO)])
def test_unknown_compression(out: Path, source: str) -> None:
    # refused with a replay folder too, where no request is made: a typo is never ignored
    # refused by the parser, which lists the choices (exit 2, was 1 from the library's check)
    proc = run_cli("export", "--source", source, "--compression", "zip", "--out", str(out))
    assert_clean_failure(proc, out, "'--compression'", "'zip' is not one of 'auto', 'gzip', 'none'", code=2)
