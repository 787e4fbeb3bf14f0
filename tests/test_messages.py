"""The messages of issue 19's point 9, each through the command line: a URL without its scheme,
an HTML login page answered with 200, https on a plain-HTTP port, the tamper message's hint.
(--top larger than the field: tests/test_verdict.py; a misspelt exercise: test_config_toml.py;
simulate --seed 7: test_simulate_messages below.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import DEMO_FROM, DEMO_TO, run_cli

from ocq_batch.analysis import TamperedFileError, read_archive

LOGIN = b"<!DOCTYPE html>\n<html><head><title>Log in</title></head><body><form>...</form></body></html>\n"


class LoginPage(BaseHTTPRequestHandler):
    """What an OAuth proxy without a valid token answers: its login page, status 200."""

    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        LoginPage.seen.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(LOGIN)))
        self.end_headers()
        self.wfile.write(LOGIN)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def login_server() -> Iterator[str]:
    """A real plain-HTTP server on 127.0.0.1 (a free port) answering every POST with a login page."""
    LoginPage.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), LoginPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def one_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("source", "meant"),
    [
        ("thanos.example.com", "https://thanos.example.com"),
        ("127.0.0.1:9090", "http://127.0.0.1:9090"),
        ("localhost:9090/prometheus", "http://localhost:9090/prometheus"),
    ],
)
def test_a_url_without_its_scheme_gets_did_you_mean(tmp_path: Path, source: str, meant: str) -> None:
    for command in ("export", "fetch"):
        line = one_line(run_cli(command, "--source", source, "--out", str(tmp_path / "out"), cwd=tmp_path))
        assert f"did you mean {meant}?" in line and "replay folder" in line, line
        assert "does not exist" not in line
    assert not (tmp_path / "out").exists()


def test_a_missing_folder_is_still_a_missing_folder(tmp_path: Path) -> None:
    line = one_line(run_cli("export", "--source", str(tmp_path / "recordings"), "--out", str(tmp_path / "o")))
    assert "does not exist" in line and "did you mean" not in line


def test_an_html_login_page_fails_at_once(tmp_path: Path, login_server: str) -> None:
    url = f"http://{login_server}"
    args = ["--source", url, "--from", DEMO_FROM, "--to", DEMO_TO, "--concurrency", "1"]
    proc = run_cli("fetch", *args, "--out", str(tmp_path / "rec"))
    line = one_line(proc)
    assert "answered HTML, not the Prometheus API" in line and "login page?" in line
    assert "check the URL" in line and "token" in line
    # not retried (asking again gets the same page): no request was sent twice, and the run
    # stopped at the first answer (the one other request is the next chunk, already queued)
    assert len(set(LoginPage.seen)) == len(LoginPage.seen) <= 2


def test_https_on_a_plain_http_port_fails_fast_with_http_suggested(tmp_path: Path, login_server: str) -> None:
    url = f"https://{login_server}"
    args = ["--source", url, "--from", DEMO_FROM, "--to", DEMO_TO, "--concurrency", "1"]
    proc = run_cli("-v", "fetch", *args, "--out", str(tmp_path / "rec"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    error = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "does not speak TLS" in error[0]
    assert f"try --source http://{login_server}" in error[0]
    assert "retry" not in proc.stderr  # -v logs every retry: there is none


def test_the_tamper_message_speaks_to_its_reader(tmp_path: Path) -> None:
    out = tmp_path / "archive"
    assert run_cli("export", "-q", "--out", str(out)).returncode == 0
    with open(out / "ranking.parquet", "ab") as fh:
        fh.write(b"\0")
    line = one_line(run_cli("verify", "--archive", str(out)))
    assert "no longer matches the sha256" in line and "verify=False" not in line
    assert "export the archive again" in line
    with pytest.raises(TamperedFileError, match="verify=False skips this check"):
        read_archive(out)


def test_simulate_messages_for_a_seed_without_a_near_tie(tmp_path: Path) -> None:
    """The README's rehearsal example: seed 7 has no pair at the cut-off that takes the planted
    near-tie; simulate uses the next seed that has one, says so, and the event is complete."""
    proc = run_cli("simulate", "--participants", "74", "--seed", "7", "--out", str(tmp_path / "sim"))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    said = " ".join(proc.stdout.split())
    assert "seed 7 gives no pair at the prize cut-off" in said and "used seed 8 instead" in said
    assert "near_tie" in said
    again = run_cli("simulate", "--participants", "74", "--seed", "8", "--out", str(tmp_path / "sim8"))
    assert again.returncode == 0 and "used seed" not in again.stdout
    for a, b in zip(
        sorted((tmp_path / "sim").rglob("*.gz")), sorted((tmp_path / "sim8").rglob("*.gz")), strict=True
    ):
        assert a.read_bytes() == b.read_bytes()
