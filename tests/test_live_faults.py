"""Faults from a server in the middle of a real export: one clear line, exit 1, no archive touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli, server_args
from proxy import StallingProxy

TOKEN = "sha256~TOPSECRET-fault-9999"

# the participants' stored samples: an instant query of opencodequest_users[<range>] (form-encoded)
USERS_RAW = b"query=opencodequest_users%5B"


FAULTS = {
    "unauthorized": (401, b"Unauthorized", ["token is missing, expired or lacks rights"]),
    "forbidden": (403, b'{"status":"error","errorType":"forbidden","error":"no"}', ["token"]),
    "bad_data": (
        400,
        b'{"status":"error","errorType":"bad_data","error":"parse error at char 7"}',
        ["bad_data", "parse error at char 7"],
    ),
    "execution": (
        422,
        b'{"status":"error","errorType":"execution","error":"query timed out in expression evaluation"}',
        ["execution"],
    ),
    "warnings": (
        200,
        b'{"status":"success","data":{"resultType":"matrix","result":[]},'
        b'"warnings":["No StoreAPIs matched for this query"]}',
        ["No StoreAPIs matched"],
    ),
    "wrong_type": (200, b'{"status":"success","data":{"resultType":"vector","result":[]}}', ["matrix"]),
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_mid_export_leaves_the_previous_archive(prometheus, tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    status, body, needles = FAULTS[name]
    armed: dict[str, int | None] = {"at": None}  # where the second run starts counting requests

    def fault(n: int, _req: bytes) -> tuple[int, bytes] | None:
        at = armed["at"]
        return (status, body) if at is not None and n == at + 5 else None

    # both runs through the proxy: a store belongs to one source, and the proxy's URL is it
    with StallingProxy(prometheus.url, fault=fault) as proxy:
        first = run_cli("export", "-q", *server_args(proxy.url, out))
        assert first.returncode == 0, first.stderr
        before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.suffix != ".duckdb"}
        armed["at"] = proxy.count
        proc = run_cli(
            "export",
            "--refetch",
            *server_args(proxy.url, out),
            env={"OCQ_TOKEN": TOKEN},
        )
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr and TOKEN not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.suffix != ".duckdb"}
    assert after == before
    assert not list(tmp_path.glob(".out.*"))


def test_allow_partial_records_the_warning_in_the_manifest(prometheus, tmp_path: Path) -> None:
    warning = b'{"status":"success","data":{"resultType":"matrix","result":[]},"warnings":["store down"]}'
    out = tmp_path / "out"
    with StallingProxy(
        prometheus.url, fault=lambda _n, req: (200, warning) if USERS_RAW in req else None
    ) as proxy:
        proc = run_cli(
            "export",
            "-q",
            "--allow-partial",
            *server_args(proxy.url, out),
        )
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["warnings"] == ["opencodequest_users: store down"]
    assert "warning" in proc.stderr


def test_fresh_folder_failing_before_any_response_leaves_nothing(prometheus, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with StallingProxy(prometheus.url, fault=lambda _n, _req: (401, b"no")) as proxy:
        proc = run_cli("export", "--source", proxy.url, "--out", str(out))
    assert proc.returncode == 1
    assert not out.exists()


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    proc = run_cli("export", "--source", f"http://127.0.0.1:{port}", "--timeout", "2", "--out", str(out))
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "refused" in lines[0].lower(), proc.stderr
    assert not out.exists()
