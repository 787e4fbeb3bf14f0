"""Verification changes nothing (issue 17, item 2): ``audit`` and ``verify``, with or without
``--archive``, with a ``--top`` other than the archive's, leave every file of an existing out
folder and store as it was, and still give the right verdict."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import run_cli


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file under ``roots`` (and what sits beside them: a lock file, a staging folder)
    by sha256, and every folder by name."""
    found: dict[str, str] = {}
    for root in roots:
        for path in sorted(root.parent.iterdir()):
            found[f"beside:{path.name}"] = (
                "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
            )
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            found[str(path)] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def verdict(stdout: str) -> str:
    """The verdict's first line, unwrapped."""
    text = " ".join(stdout.split())
    return text[text.index("verdict:") :].split(" contested,")[0].split(" what to do:")[0]


@pytest.fixture
def published(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    out = tmp_path / "pub" / "ocq-out"
    proc = run_cli("export", "-q", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, snapshot(out)


@pytest.mark.parametrize("command", ["verify", "audit"])
def test_verify_and_audit_change_no_file_of_an_archive(
    command: str, published: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    out, before = published
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"TMPDIR": str(scratch), "COLUMNS": "200"}
    read = run_cli(command, "-q", "--top", "10", "--archive", str(out), env=env)
    assert snapshot(out) == before, "--archive changed the archive"
    again = run_cli(command, "-q", "--top", "10", "--out", str(out), env=env)
    assert snapshot(out) == before, f"{command} without --archive changed the archive"
    assert list(scratch.iterdir()) == []  # its temporary export is gone
    assert "is not changed" in again.stderr and str(out) in again.stderr
    for proc in (read, again):
        assert proc.returncode in (0, 3), proc.stderr
        assert "the top 10" in verdict(proc.stdout), proc.stdout
    # the same verdict either way, and the archive still says what its export said (top 30)
    assert verdict(read.stdout) == verdict(again.stdout)
    assert read.returncode == again.returncode
    thirty = run_cli(command, "-q", "--archive", str(out), env=env)
    assert "the top 30 is NOT decidable" in verdict(thirty.stdout) and thirty.returncode == 3
    assert json.loads((out / "manifest.json").read_text())["scoring"]["top"] == 30
    assert "the top 30 is NOT decidable" in (out / "report.md").read_text()


def test_an_existing_store_is_not_written_either(tmp_path: Path) -> None:
    out, store = tmp_path / "pub" / "out", tmp_path / "kept" / "ocq.duckdb"
    proc = run_cli("export", "-q", "--out", str(out), "--store", str(store))
    assert proc.returncode == 0, proc.stderr
    before = snapshot(out, store)
    fresh = tmp_path / "fresh"  # a new --out, but the store exists: nothing is published
    proc = run_cli("verify", "-q", "--top", "10", "--out", str(fresh), "--store", str(store))
    assert proc.returncode in (0, 3), proc.stderr
    assert "--store" in proc.stderr and "is not changed" in proc.stderr
    assert snapshot(out, store) == before and not fresh.exists()


def test_a_new_out_keeps_the_audits_export(tmp_path: Path) -> None:
    out = tmp_path / "new"
    proc = run_cli("audit", "-q", "--top", "10", "--out", str(out))
    assert proc.returncode in (0, 3), proc.stderr
    assert proc.stderr == "" and (out / "manifest.json").exists()
    assert json.loads((out / "manifest.json").read_text())["scoring"]["top"] == 10


def test_a_server_export_is_not_rewritten_by_verify_or_audit(prometheus, tmp_path: Path) -> None:
    """Against a real Prometheus: the archive, its store and its recorded responses stay as
    they are when the jury verifies with another --top, reading the server again."""
    from conftest import server_args

    out, scratch = tmp_path / "pub" / "ocq-out", tmp_path / "tmp"
    scratch.mkdir()
    proc = run_cli("export", "-q", *server_args(prometheus.url, out))
    assert proc.returncode == 0, proc.stderr
    before = snapshot(out)
    assert any("replay" in name for name in before)
    for command in ("verify", "audit"):
        proc = run_cli(
            command, "-q", "--top", "10", *server_args(prometheus.url, out), env={"TMPDIR": str(scratch)}
        )
        assert proc.returncode in (0, 3), proc.stderr
        assert "the top 10" in verdict(proc.stdout)
        assert snapshot(out) == before, command
        assert list(scratch.iterdir()) == []
