"""ocq-batch against a real Prometheus holding the simulated event and the backfilled live rules."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import T0, ocq_batch_cmd, run_cli, server_args
from proxy import StallingProxy

from ocq_batch.config.model import DEFAULT, Window
from ocq_batch.jobs.export import export
from ocq_batch.pull.api import RAW, range_selector, raw_chunks
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


def _stored(prometheus, query: str, start: float, end: float) -> dict[tuple[str, str], dict[float, float]]:
    """The server's stored samples of ``query`` in (start, end], per (user, cluster): an instant
    query of the range selector, asked of the server directly."""
    import httpx

    form = {"query": range_selector(query, start, end), "time": str(end)}
    with httpx.Client(trust_env=False, timeout=60) as client:
        body = client.post(f"{prometheus.url}/api/v1/query", data=form).json()
    return {
        (s["metric"]["user"], s["metric"]["cluster"]): {float(t): float(v) for t, v in s["values"]}
        for s in body["data"]["result"]
    }


def test_component_completion_agrees_with_the_server_sample_for_sample(prometheus, tmp_path: Path) -> None:
    """The components signal is the AND of the component samples at each instant they share:
    computed here from the server's own stored samples, and compared row by row."""
    config = replace(DEFAULT, signal="components")
    result = export(config, WINDOW, None, tmp_path / "out", http=HttpOptions(prometheus.url))
    con = duckdb.connect(str(result.store), read_only=True)
    checked = 0
    start, end = T0 - 0.001, T0 + 150 * 60
    for ex in config.exercises:
        for env in config.envs:
            parts = [f"opencodequest_{ex.name}_quarkus_pod:{env}", f"opencodequest_{ex.name}_pipeline"]
            if "database" in ex.components:
                parts.insert(1, f"opencodequest_{ex.name}_db_pod:{env}")
            stored = [_stored(prometheus, part, start, end) for part in parts]
            server = set()
            for key in set.intersection(*(set(s) for s in stored)):
                for at in set.intersection(*(set(s[key]) for s in stored)):
                    state = int(all(s[key][at] >= 0.5 for s in stored))
                    server.add((*key, round(at), state))
            ours = _signal_rows(con, ex.name, env)
            assert ours == server, (ex.name, env, len(ours ^ server))
            checked += len(ours)
    con.close()
    assert checked > 74 * 9 * 250


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


def _kept(resp) -> dict[tuple[str, str], list]:
    """A raw response's samples as the loader keeps them: those of its range (start, end]."""
    import orjson

    return {
        (s["metric"]["user"], s["metric"]["cluster"]): [
            v for v in s["values"] if resp.start < float(v[0]) <= resp.end
        ]
        for s in orjson.loads(resp.body)["data"]["result"]
    }


def test_chunked_fetch_returns_exactly_what_one_request_returns(prometheus) -> None:
    spec = next(s for s in plan_queries(DEFAULT) if s.key == "completion/hero/prod")
    start, end = T0 - 900, T0 + 165 * 60  # 3 hours
    with HttpSource(HttpOptions(prometheus.url)) as src:
        (resp,) = list(src.responses([spec], start, end))
    whole = _kept(resp)
    pieces: dict[tuple[str, str], list] = {}
    with HttpSource(HttpOptions(prometheus.url, concurrency=3), chunk_s=1500.0) as src:
        assert src.plan([spec], start, end) == len(raw_chunks(start, end, 1500.0)) == 8
        for resp in src.responses([spec], start, end):
            for key, values in _kept(resp).items():
                pieces.setdefault(key, []).extend(values)
    assert {k: v for k, v in pieces.items() if v} == {k: v for k, v in whole.items() if v}
    for values in pieces.values():
        ts = [v[0] for v in values]
        assert ts == sorted(set(ts))  # the sample at a shared edge is kept once


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
            (resp,) = list(src.responses([spec], T0 - 900, T0 + 165 * 60))
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
        with HttpSource(HttpOptions(prometheus.url), chunk_s=3600.0) as src:
            src.recorder = ReplayWriter(tmp_path / "rec", source=src.label)
            got = list(src.responses(specs, start, end))
        assert len(got) > len(specs)
        assert all(r.sha256 == hashlib.sha256(r.body).hexdigest() for r in got)
    replayed = list(ReplaySource(tmp_path / "rec").responses(specs, start, end))
    assert [r.sha256 for r in replayed] == [r.sha256 for r in got]
    assert all(r.sha256 == hashlib.sha256(r.body).hexdigest() for r in replayed)


def test_a_chunk_too_large_for_the_server_is_split(demo_tsdb: Path, tmp_path: Path) -> None:
    """A server that refuses to load so many samples at once (HTTP 422) gets each refused
    chunk again in halves, down to what it answers; the samples are the same, once each."""
    from testbench.prometheus import PromServer, copy_tsdb

    spec = next(s for s in plan_queries(DEFAULT) if s.key == "completion/hero/prod")
    start, end = T0 - 900, T0 + 165 * 60
    data = copy_tsdb(demo_tsdb, tmp_path / "tsdb")
    with PromServer(tmp_path).start(data, "--query.max-samples=4000") as small:
        # 77 series of 360 samples: one request is refused
        import httpx

        form = {"query": range_selector(spec.query, start, end), "time": str(end)}
        refused = httpx.post(f"{small.url}/api/v1/query", data=form)
        assert refused.status_code == 422 and "too many samples" in refused.text
        with HttpSource(HttpOptions(small.url)) as src:
            assert src.plan([spec], start, end) == 1
            parts = list(src.responses([spec], start, end))
    assert len(parts) == 8  # halved three times: 3 h, 1.5 h, 45 min, 22.5 min (about 3,000 samples)
    assert [p.start for p in parts[1:]] == [p.end for p in parts[:-1]]  # consecutive, no hole
    split: dict[tuple[str, str], list] = {}
    for resp in parts:
        for key, values in _kept(resp).items():
            split.setdefault(key, []).extend(values)
    with (
        PromServer(tmp_path / "big").start(copy_tsdb(demo_tsdb, tmp_path / "tsdb2")) as big,
        HttpSource(HttpOptions(big.url)) as src,
    ):
        (whole,) = list(src.responses([spec], start, end))
    assert {k: v for k, v in split.items() if v} == {k: v for k, v in _kept(whole).items() if v}


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


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def test_bundled_demo_is_what_the_real_server_returns(prometheus) -> None:
    """data/demo was recorded from this bench (scripts/record-demo); the server still answers the same."""
    import httpx

    from ocq_batch.pull.replay import ReplayReader

    reader = ReplayReader(REPO_DEMO)
    assert "Prometheus" in reader.source
    assert len(reader.entries) == len(plan_queries(DEFAULT))
    thanos = {"partial_response": "false", "max_source_resolution": "0s"}
    with httpx.Client(trust_env=False, timeout=30) as client:
        for entry in reader.entries:
            if entry.step == RAW:  # the stored samples: an instant query of the range selector
                form = {"query": range_selector(entry.query, entry.start, entry.end), "time": _num(entry.end)}
                path = "/api/v1/query"
            else:
                form = {"query": entry.query, "start": _num(entry.start), "end": _num(entry.end),
                        "step": _num(entry.step)}  # fmt: skip
                path = "/api/v1/query_range"
            live = client.post(f"{prometheus.url}{path}", data={**form, **thanos}).content
            assert live == reader.read(entry), entry.query
