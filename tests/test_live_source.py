"""ocq-batch against a real Prometheus holding the simulated event and the backfilled live rules."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import time
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import T0, ocq_batch_cmd, run_cli, server_args
from promfixtures import query_range
from proxy import StallingProxy

from ocq_batch.config.model import DEFAULT, Window
from ocq_batch.jobs.export import export
from ocq_batch.pull.api import chunk_range
from ocq_batch.pull.http_options import HttpOptions
from ocq_batch.pull.queries import plan_queries
from ocq_batch.pull.server import HttpSource
from ocq_batch.timeutil import from_epoch

WINDOW = Window(from_epoch(T0), from_epoch(T0 + 150 * 60))
TOKEN = "sha256~TOPSECRET-ocq-token-4242"
REPO_DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"


def ranking(folder: Path) -> list[dict]:
    return pq.read_table(folder / "ranking.parquet").to_pylist()


def test_live_export_equals_the_replay_of_its_recording(prometheus, tmp_path: Path) -> None:
    live = tmp_path / "live"
    proc = run_cli("export", "-q", *server_args(prometheus.url, live))
    assert proc.returncode == 0, proc.stderr
    assert (live / "replay" / "index.jsonl").exists()
    replayed = tmp_path / "replayed"
    proc = run_cli("export", "-q", *server_args(str(live / "replay"), str(replayed)))
    assert proc.returncode == 0, proc.stderr
    assert ranking(live) == ranking(replayed)
    assert len(ranking(live)) == 74
    for name in ("completions", "scores", "timeline", "transitions"):
        assert pq.read_table(live / f"{name}.parquet").equals(pq.read_table(replayed / f"{name}.parquet")), (
            name
        )


def _signal_rows(con: duckdb.DuckDBPyConnection, exercise: str, env: str) -> set[tuple]:
    return {
        (u, c, round(ts.timestamp()), int(v))
        for u, c, ts, v in con.execute(
            "select user, cluster, ts, state from signal where exercise = ? and env = ?", [exercise, env]
        ).fetchall()
    }


def test_component_completion_agrees_with_the_server_sample_for_sample(prometheus, tmp_path: Path) -> None:
    config = replace(DEFAULT, signal="components")
    result = export(config, WINDOW, None, tmp_path / "out", http=HttpOptions(prometheus.url))
    con = duckdb.connect(str(result.store), read_only=True)
    checked = 0
    for ex in config.exercises:
        for env in config.envs:
            parts = [f"opencodequest_{ex.name}_quarkus_pod:{env}", f"opencodequest_{ex.name}_pipeline"]
            if "database" in ex.components:
                parts.insert(1, f"opencodequest_{ex.name}_db_pod:{env}")
            expr = f"max(({' + '.join(parts)}) == bool {len(parts)}) by (user, cluster)"
            server = {
                (s["metric"]["user"], s["metric"]["cluster"], round(float(t)), int(float(v)))
                for s in query_range(prometheus, expr, T0, T0 + 150 * 60, 30)
                for t, v in s["values"]
            }
            ours = _signal_rows(con, ex.name, env)
            assert ours == server, (ex.name, env, len(ours ^ server))
            checked += len(ours)
    con.close()
    assert checked > 74 * 9 * 300


def test_recorded_completion_agrees_with_components_within_one_evaluation(prometheus, tmp_path: Path) -> None:
    opts = HttpOptions(prometheus.url)
    recorded = export(DEFAULT, WINDOW, None, tmp_path / "recorded", http=opts)
    components = export(
        replace(DEFAULT, signal="components"), WINDOW, None, tmp_path / "components", http=opts
    )
    a = pq.read_table(recorded.out / "completions.parquet").to_pandas()
    b = pq.read_table(components.out / "completions.parquet").to_pandas()
    key = ["user", "exercise", "env", "cluster"]
    merged = a.merge(b, on=key, how="outer", suffixes=("_rec", "_comp"), indicator=True)
    both = merged[merged._merge == "both"]
    lag = (both.completed_at_rec - both.completed_at_comp).dt.total_seconds()
    assert len(both) > 74 * 5
    assert lag.between(0, 30).all(), both[~lag.between(0, 30)][
        [*key, "completed_at_rec", "completed_at_comp"]
    ]
    # a completion seen by one signal only can only sit at the very end of the window
    lonely = merged[merged._merge != "both"]
    for _, row in lonely.iterrows():
        at = row.completed_at_rec if row._merge == "left_only" else row.completed_at_comp
        assert at.timestamp() >= T0 + 150 * 60 - 30


def test_chunked_fetch_returns_exactly_what_one_request_returns(prometheus) -> None:
    spec = next(s for s in plan_queries(DEFAULT) if s.key == "completion/hero/prod")
    start, end = T0 - 900, T0 + 165 * 60  # 361 points at 30 s
    whole = {}
    with HttpSource(HttpOptions(prometheus.url)) as src:
        (resp,) = list(src.responses([spec], start, end, 30))
    import orjson

    for s in orjson.loads(resp.body)["data"]["result"]:
        whole[(s["metric"]["user"], s["metric"]["cluster"])] = s["values"]
    pieces: dict[tuple[str, str], list] = {}
    with HttpSource(HttpOptions(prometheus.url, max_points=50, concurrency=3)) as src:
        assert src.plan([spec], start, end, 30) == 8
        for resp in src.responses([spec], start, end, 30):
            for s in orjson.loads(resp.body)["data"]["result"]:
                pieces.setdefault((s["metric"]["user"], s["metric"]["cluster"]), []).extend(s["values"])
    assert pieces == whole
    for values in pieces.values():
        ts = [v[0] for v in values]
        assert ts == sorted(set(ts))


def test_gzip_and_plain_answers_of_a_real_server_are_the_same_bytes(prometheus) -> None:
    """The server really compresses when asked (auto asks a loopback server for none)."""
    spec = next(s for s in plan_queries(DEFAULT) if s.key == "completion/hero/prod")
    bodies = {}
    for compression in ("gzip", "none", "auto"):
        seen: list[str | None] = []
        with HttpSource(HttpOptions(prometheus.url, compression=compression)) as src:
            src.client._http.event_hooks["response"] = [
                lambda r, seen=seen: seen.append(r.headers.get("Content-Encoding"))
            ]
            (resp,) = list(src.responses([spec], T0 - 900, T0 + 165 * 60, 30))
        bodies[compression] = resp.body
        assert seen == (["gzip"] if compression == "gzip" else [None]), compression
    assert bodies["gzip"] == bodies["none"] == bodies["auto"]
    assert len(bodies["none"]) > 10_000


def test_each_body_is_hashed_once_and_the_digest_travels_with_it(prometheus, tmp_path: Path) -> None:
    """The digest a source hands on (fetched: from the worker; recorded: the verified one)
    is the body's, and the recorder indexes the same one."""
    import hashlib

    from ocq_batch.pull.replay import ReplayWriter
    from ocq_batch.pull.source import ReplaySource

    specs = [s for s in plan_queries(DEFAULT) if s.key.startswith("completion/")][:3]
    start, end = T0 - 900, T0 + 165 * 60
    for _run in ("fetched", "read back from the recording"):
        with HttpSource(HttpOptions(prometheus.url, max_points=120)) as src:
            src.recorder = ReplayWriter(tmp_path / "rec", source=src.label)
            got = list(src.responses(specs, start, end, 30))
        assert len(got) > len(specs)
        assert all(r.sha256 == hashlib.sha256(r.body).hexdigest() for r in got)
    replayed = list(ReplaySource(tmp_path / "rec").responses(specs, start, end, 30))
    assert [r.sha256 for r in replayed] == [r.sha256 for r in got]
    assert all(r.sha256 == hashlib.sha256(r.body).hexdigest() for r in replayed)


def test_more_than_11000_points_is_split_for_a_real_server(prometheus) -> None:
    import httpx
    import orjson

    spec = next(s for s in plan_queries(DEFAULT) if s.key == "completion/hero/prod")
    start, end = T0 - 900, T0 - 900 + 4 * 3600  # 14,401 points at 1 s
    form = {"query": spec.query, "start": str(start), "end": str(end), "step": "1"}
    refused = httpx.post(f"{prometheus.url}/api/v1/query_range", data=form)
    assert refused.status_code == 400 and "11,000 points" in refused.text

    def points(max_points: int) -> tuple[int, dict]:
        got: dict[tuple[str, str], list] = {}
        with HttpSource(HttpOptions(prometheus.url, max_points=max_points)) as src:
            n = src.plan([spec], start, end, 1)
            for resp in src.responses([spec], start, end, 1):
                for s in orjson.loads(resp.body)["data"]["result"]:
                    got.setdefault((s["metric"]["user"], s["metric"]["cluster"]), []).extend(s["values"])
        return n, got

    n_big, big = points(11000)
    n_small, small = points(4000)
    assert (n_big, n_small) == (2, 4)
    assert big == small and len(big) >= 74
    edges = [b for _, b in chunk_range(start, end, 1)][:-1]
    contiguous = 0
    for values in big.values():
        ts = [v[0] for v in values]
        assert ts == sorted(set(ts))  # no duplicate at a chunk edge
        present = set(ts)
        for edge in edges:  # and no hole: a series present around an edge is present on both sides
            if edge - 1 in present and edge + 2 in present:
                assert edge in present and edge + 1 in present
        contiguous += all(b - a == 1 for a, b in pairwise(ts))
    assert contiguous >= 70


def _store_facts(path: Path) -> tuple[list, list, list]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        samples = con.execute("select series_id, ts, value, fetch_id from samples order by all").fetchall()
        series = con.execute("select * from series order by series_id").fetchall()
        fetches = con.execute(
            "select fetch_id, query_key, query, start_ts, end_ts, step_s, origin, body_sha256, "
            "n_series, n_samples from fetches order by fetch_id"
        ).fetchall()
    finally:
        con.close()
    return samples, series, fetches


def test_killed_export_resumes_to_the_same_store(prometheus, tmp_path: Path) -> None:
    with StallingProxy(prometheus.url, allow=6) as proxy:
        out = tmp_path / "killed"
        args = [
            *ocq_batch_cmd(),
            "export",
            "-q",
            "--concurrency",
            "1",
            *server_args(proxy.url, out),
        ]
        proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        index = out / "replay" / "index.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if index.exists() and len(index.read_text().splitlines()) >= 6 and proxy.count >= 7:
                break
            time.sleep(0.05)
        else:
            proc.kill()
            pytest.fail("the export never reached the stalled request")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert not (out / "manifest.json").exists()
        recorded_before = len(index.read_text().splitlines())
        proxy.release.set()
        proxy.allow = None
        seen = proxy.count
        resumed = run_cli("export", "-q", *server_args(proxy.url, out))
        assert resumed.returncode == 0, resumed.stderr
        assert proxy.count - seen == len(plan_queries(DEFAULT)) - recorded_before  # only the missing chunks
        clean = tmp_path / "clean"
        full = run_cli("export", "-q", *server_args(proxy.url, clean))
        assert full.returncode == 0, full.stderr
    assert _store_facts(out / "store.duckdb") == _store_facts(clean / "store.duckdb")
    for name in ("ranking", "completions", "samples"):
        assert pq.read_table(out / f"{name}.parquet").equals(pq.read_table(clean / f"{name}.parquet"))


def test_ctrl_c_is_one_line_and_resumable(prometheus, tmp_path: Path) -> None:
    with StallingProxy(prometheus.url, allow=3) as proxy:
        out = tmp_path / "out"
        args = [
            *ocq_batch_cmd(),
            "fetch",
            "-q",
            "--concurrency",
            "1",
            "--source",
            proxy.url,
            "--out",
            str(out),
        ]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while proxy.count < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proxy.release.set()
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "run the same command again" in stderr


def test_token_never_lands_anywhere(prometheus, tmp_path: Path) -> None:
    with StallingProxy(prometheus.url) as proxy:
        out = tmp_path / "out"
        proc = run_cli(
            "-v",
            "export",
            *server_args(proxy.url, out),
            env={"OCQ_TOKEN": TOKEN},
        )
        fetched = run_cli(
            "-v", "fetch", "--source", proxy.url, "--out", str(tmp_path / "rec"), env={"OCQ_TOKEN": TOKEN}
        )
    assert proc.returncode == 0, proc.stderr
    assert fetched.returncode == 0, fetched.stderr
    # the token really was sent, so not finding it below means something
    assert all(h.get("Authorization") == f"Bearer {TOKEN}" for h in proxy.headers)
    assert "HTTP Request" in proc.stderr  # -v logged every request
    secret = TOKEN.encode()
    texts = [proc.stdout, proc.stderr, fetched.stdout, fetched.stderr]
    assert not any(TOKEN in t for t in texts)
    checked = 0
    for path in [*out.rglob("*"), *(tmp_path / "rec").rglob("*")]:
        if not path.is_file():
            continue
        data = path.read_bytes()
        assert secret not in data, path
        if path.suffix == ".gz":
            assert secret not in gzip.decompress(data), path
        if path.suffix == ".parquet":
            assert TOKEN not in str(pq.read_table(path).to_pylist()), path
        checked += 1
    con = duckdb.connect(str(out / "store.duckdb"), read_only=True)
    for (table,) in con.execute("select table_name from information_schema.tables").fetchall():
        assert TOKEN not in str(con.execute(f"select * from {table}").fetchall()), table
    con.close()
    assert checked > 30


def test_bundled_demo_is_what_the_real_server_returns(prometheus) -> None:
    """data/demo was recorded from this bench (scripts/record-demo); the server still answers the same."""
    import httpx

    from ocq_batch.pull.replay import ReplayReader

    reader = ReplayReader(REPO_DEMO)
    assert "Prometheus" in reader.source
    assert len(reader.entries) == len(plan_queries(DEFAULT))
    with httpx.Client(trust_env=False, timeout=30) as client:
        for entry in reader.entries:
            form = {
                "query": entry.query,
                "start": str(int(entry.start)),
                "end": str(int(entry.end)),
                "step": str(int(entry.step)),
                "partial_response": "false",
                "max_source_resolution": "0s",
            }
            live = client.post(f"{prometheus.url}/api/v1/query_range", data=form).content
            assert live == reader.read(entry), entry.query
