"""Partial answers (``--allow-partial``) are marked where they are recorded, and never linger.

A real Prometheus behind :class:`proxy.StallingProxy`, whose fault hook answers the
participants' request with the server's own answer plus Thanos ``warnings`` (a partial
answer), as long as the test keeps it on. The issue's sequence: an ``--allow-partial`` run,
then a normal run against the healthy server (it fetches the partial answers again), or
``--refetch`` (the audit and the manifest then describe the store as it is, and agree), or the
recording replayed offline (one line saying what to do).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.parquet as pq
from conftest import DEMO_FROM, DEMO_TO, run_cli, server_args
from faultkit import assert_one_line, digests
from proxy import StallingProxy, ask_upstream

USERS_RAW = b"query=opencodequest_users%5B"  # the participants' stored samples (form-encoded)
WARNING = "store eu-1 unreachable"


class Partial:
    """The proxy's fault: the server's answer to the participants' query, with a warning."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.on = True
        self.users_requests = 0

    def __call__(self, _n: int, request: bytes) -> tuple[int, bytes] | None:
        if USERS_RAW not in request:
            return None
        self.users_requests += 1
        if not self.on:
            return None
        answer = ask_upstream(self.upstream, request)
        doc = answer.json()
        doc["warnings"] = [WARNING]
        return 200, json.dumps(doc).encode()


@contextmanager
def partial_server(prometheus) -> Iterator[tuple[StallingProxy, Partial]]:
    fault = Partial(prometheus.url)
    with StallingProxy(prometheus.url, fault=fault) as proxy:
        yield proxy, fault


def partial_findings(out: Path) -> list[dict]:
    rows = pq.read_table(out / "audit.parquet").to_pylist()
    return [r for r in rows if r["check"] == "partial_response"]


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def index_lines(out: Path) -> list[dict]:
    text = (out / "replay" / "index.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def allow_partial_run(proxy: StallingProxy, out: Path) -> None:
    proc = run_cli("export", "-q", "--allow-partial", *server_args(proxy.url, out))
    assert proc.returncode == 0, proc.stderr
    assert manifest(out)["warnings"] == [f"opencodequest_users: {WARNING}"]
    assert len(partial_findings(out)) == 1
    marked = [e for e in index_lines(out) if e.get("warnings")]
    assert [e["warnings"] for e in marked] == [[WARNING]]  # the recording says it is partial
    assert marked[0]["query"] == "opencodequest_users"


def test_a_normal_run_after_allow_partial_fetches_the_partial_answers_again(prometheus, tmp_path) -> None:
    out = tmp_path / "out"
    with partial_server(prometheus) as (proxy, fault):
        allow_partial_run(proxy, out)
        fault.on, fault.users_requests = False, 0  # the server is whole again
        proc = run_cli("export", "-q", *server_args(proxy.url, out))
    assert proc.returncode == 0, proc.stderr
    assert fault.users_requests == 1  # the partial answer, fetched again; the rest read back
    assert partial_findings(out) == []
    assert manifest(out)["warnings"] == []
    assert "warning" not in proc.stderr
    latest = {(e["query"], e["start"], e["end"], e["step"]): e for e in index_lines(out)}
    assert not any(e.get("warnings") for e in latest.values())  # the newer, whole answer wins


def test_refetch_leaves_the_audit_and_the_manifest_describing_the_store(prometheus, tmp_path) -> None:
    out = tmp_path / "out"
    with partial_server(prometheus) as (proxy, fault):
        allow_partial_run(proxy, out)
        fault.on = False
        proc = run_cli("export", "-q", "--refetch", *server_args(proxy.url, out))
    assert proc.returncode == 0, proc.stderr
    assert partial_findings(out) == [] and manifest(out)["warnings"] == []  # they agree: no partial data
    errors = [r for r in pq.read_table(out / "audit.parquet").to_pylist() if r["severity"] == "error"]
    assert manifest(out)["verdict"]["findings"]["error"] == len(errors)
    audit = run_cli("audit", "--archive", str(out))
    assert "partial_response" not in audit.stdout


def test_a_server_still_partial_says_what_to_do(prometheus, tmp_path) -> None:
    out = tmp_path / "out"
    with partial_server(prometheus) as (proxy, _fault):
        allow_partial_run(proxy, out)
        before = digests(out)
        proc = run_cli("export", "-q", *server_args(proxy.url, out))
    line = assert_one_line(proc.returncode, proc.stderr, 1, "partial", WARNING)
    assert "allow partial answers (--allow-partial)" in line
    assert digests(out) == before


def test_a_recording_with_partial_answers_replays_only_with_allow_partial(prometheus, tmp_path) -> None:
    out = tmp_path / "out"
    with partial_server(prometheus) as (proxy, _fault):
        allow_partial_run(proxy, out)
    before = digests(out)
    window = ("--from", DEMO_FROM, "--to", DEMO_TO)
    replay = ["export", "-q", "--source", str(out / "replay"), "--out", str(out), *window]
    proc = run_cli(*replay)
    line = assert_one_line(proc.returncode, proc.stderr, 1, "1 recorded answer(s)", "partial", WARNING)
    assert "run with --allow-partial, or --refetch against the server" in line
    assert digests(out) == before
    allowed = run_cli(*replay, "--allow-partial")
    assert allowed.returncode == 0, allowed.stderr
    assert manifest(out)["warnings"] == [f"opencodequest_users: {WARNING}"]
    (finding,) = partial_findings(out)
    assert finding["value"] == 1 and WARNING in finding["message"]


def unmark(out: Path) -> None:
    """The recording as an older ocq-batch wrote it: partial answers without their mark."""
    lines = [{k: v for k, v in e.items() if k != "warnings"} for e in index_lines(out)]
    text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in lines)
    (out / "replay" / "index.jsonl").write_text(text)


def test_an_unmarked_partial_recording_stops_in_one_line_from_the_server_and_offline(
    prometheus, tmp_path
) -> None:
    """A partial answer recorded before answers were marked is caught when it is loaded, read
    back by a server's run or replayed offline: the same line, saying what to do."""
    out = tmp_path / "out"
    with partial_server(prometheus) as (proxy, fault):
        allow_partial_run(proxy, out)
        unmark(out)
        fault.on = False
        before = digests(out)
        from_server = run_cli("export", "-q", *server_args(proxy.url, out))
        window = ("--from", DEMO_FROM, "--to", DEMO_TO)
        offline = run_cli("export", "-q", "--source", str(out / "replay"), "--out", str(out), *window)
    for proc in (from_server, offline):
        line = assert_one_line(proc.returncode, proc.stderr, 1, "opencodequest_users", "is partial", WARNING)
        assert "run with --allow-partial, or --refetch against the server" in line
    assert digests(out) == before
