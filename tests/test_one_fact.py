"""A fact has one value, and a store and an out folder belong to one event and one source.

Through the command line: another source into an existing ``--out`` stops in one line (the
bundled demo's, then a real Prometheus or another simulated event); ``--fresh`` keeps the old
store beside it and starts a new one; a sample stored with another value stops the load,
naming the series, the time, both values and both origins; a refetch of the same chunk that
answers a newer value supersedes it, counted; the offline rebuild from ``<out>/replay`` and a
rerun stay idempotent.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from conftest import DEMO_FROM, DEMO_TO, T0, MiniEvent, full, merge, run_cli, server_args, steps
from faultkit import SMALL_EVENT, assert_one_line, digests
from proxy import StallingProxy, ask_upstream

WINDOW = ("--from", DEMO_FROM, "--to", DEMO_TO)
# the participants' stored samples: an instant query of opencodequest_users[<range>] (form-encoded)
USERS_RAW = b"query=opencodequest_users%5B"


def meta(store: Path) -> dict[str, str]:
    with duckdb.connect(str(store), read_only=True) as con:
        return dict(con.execute("select key, value from meta").fetchall())


def count(store: Path, query: str) -> int:
    with duckdb.connect(str(store), read_only=True) as con:
        return int(con.execute(query).fetchall()[0][0])


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_another_simulated_event_into_the_demos_out_stops_and_fresh_starts_anew(tmp_path: Path) -> None:
    out = tmp_path / "ocq-out"
    demo = run_cli("export", "-q", "--out", str(out))
    assert demo.returncode == 0, demo.stderr
    before = digests(out)
    demo_samples = count(out / "store.duckdb", "select count(*) from samples")
    other = tmp_path / "sim7"
    assert run_cli("simulate", "--out", str(other), *SMALL_EVENT[:-1], "7").returncode == 0
    proc = run_cli("export", "-q", "--source", str(other), "--out", str(out), *WINDOW)
    line = assert_one_line(proc.returncode, proc.stderr, 1, "use another --out", "--fresh")
    assert "the bundled demo event" in line and "ocq-batch simulate --seed 7" in line, line
    assert digests(out) == before  # the archive and its store as they were
    assert meta(out / "store.duckdb")["source"] == "the bundled demo event"

    fresh = run_cli("export", "-q", "--fresh", "--source", str(other), "--out", str(out), *WINDOW)
    assert fresh.returncode == 0, fresh.stderr
    (kept,) = tmp_path.glob("ocq-out-store-*.duckdb")
    assert f"kept as {kept}" in fresh.stderr, fresh.stderr
    assert meta(kept)["source"] == "the bundled demo event"
    assert count(kept, "select count(*) from samples") == demo_samples  # the old store, whole
    assert meta(out / "store.duckdb")["source"] == "ocq-batch simulate --seed 7"
    assert manifest(out)["source"] == f"replay:{other}"
    assert manifest(out)["participants"] == 12  # the simulated event's own ranking, not the demo's

    again = run_cli("export", "-q", "--source", str(other), "--out", str(out), *WINDOW)
    assert again.returncode == 0, again.stderr
    assert "0 new samples" in again.stdout
    assert not list(tmp_path.glob("ocq-out-store-*-2.duckdb"))  # no --fresh: nothing set aside


def test_a_real_prometheus_into_the_demos_out_stops_in_one_line(prometheus, tmp_path: Path) -> None:
    out = tmp_path / "ocq-out"
    assert run_cli("export", "-q", "--out", str(out)).returncode == 0
    before = digests(out)
    proc = run_cli("export", "-q", *server_args(prometheus.url, out))
    line = assert_one_line(proc.returncode, proc.stderr, 1, "the bundled demo event", prometheus.url)
    assert "use another --out, or --fresh" in line
    assert digests(out) == before
    assert not (out / "replay").exists()  # nothing recorded into the demo's folder


def test_fresh_after_a_server_run_keeps_store_and_recording_and_the_offline_rebuild_works(
    prometheus, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = run_cli("export", "-q", *server_args(prometheus.url, out))
    assert first.returncode == 0, first.stderr
    published = digests(out)
    assert meta(out / "store.duckdb")["source"] == prometheus.url
    # the documented offline rebuild: the recording counts as the server it came from
    offline = run_cli("export", "-q", "--source", str(out / "replay"), "--out", str(out), *WINDOW)
    assert offline.returncode == 0, offline.stderr
    assert "0 new samples" in offline.stdout
    rerun = run_cli("export", "-q", *server_args(prometheus.url, out))
    assert rerun.returncode == 0, rerun.stderr
    assert "0 new samples" in rerun.stdout
    assert {k for k, v in digests(out).items() if published[k] != v} <= {"manifest.json"}

    # the demo into the server's folder: refused; verify of the demo there changes nothing (it
    # exports into a temporary folder) and has no --fresh; export --fresh keeps the old store
    proc = run_cli("export", "-q", "--out", str(out))
    assert_one_line(proc.returncode, proc.stderr, 1, prometheus.url, "the bundled demo event", "--fresh")
    before = digests(out)
    verified = run_cli("verify", "-q", "--out", str(out))
    assert verified.returncode in (0, 3), verified.stderr
    assert digests(out) == before
    assert run_cli("verify", "-q", "--fresh", "--out", str(out)).returncode == 2  # no such option
    fresh = run_cli("export", "-q", "--fresh", "--out", str(out))
    assert fresh.returncode == 0, fresh.stderr
    (kept,) = tmp_path.glob("out-store-*.duckdb")
    assert meta(kept)["source"] == prometheus.url
    assert meta(out / "store.duckdb")["source"] == "the bundled demo event"
    assert f"kept as {kept}" in fresh.stderr


def test_a_failed_fresh_run_puts_the_old_store_back(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_cli("export", "-q", "--out", str(out)).returncode == 0
    before = digests(out)
    store_before = (out / "store.duckdb").read_bytes()
    # every participant excluded: the run fails after the load, the store set aside before it
    config = tmp_path / "nobody.toml"
    config.write_text('[event]\nexclude_users = [".*"]\n')
    proc = run_cli("export", "-q", "--fresh", "--config", str(config), "--out", str(out))
    assert proc.returncode == 1 and "exclude_users" in proc.stderr, proc.stderr
    assert "kept as" in proc.stderr
    assert (out / "store.duckdb").read_bytes() == store_before
    assert digests(out) == before
    assert not list(tmp_path.glob("out-store-*"))


# ---- two values for one sample -------------------------------------------------------------

EVENT = merge(
    full("alice", "c1", (40, 70, 100)),
    full("bob", "c1", (50, 80, 110)),
    {"participants/*/*": {("alice", "c1"): steps(0), ("bob", "c1"): steps(0)}},
)
SPAN = (T0 - 15 * 60, T0 + 180 * 60)


def replay(folder: Path, data: dict, span: tuple[float, float] = SPAN) -> Path:
    return MiniEvent(data).write(folder, span[0], span[1], 30)


def changed(data: dict, key: str, who: tuple[str, str], at: float, value: float) -> dict:
    """``data`` with the sample of ``who`` in ``key`` at ``at`` set to ``value``."""
    copy = {k: dict(v) for k, v in data.items()}
    copy[key][who] = [(t, value if t == at else v) for t, v in copy[key][who]]
    return copy


def test_a_sample_with_another_value_stops_the_load_naming_both(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = replay(tmp_path / "first", EVENT)
    assert run_cli("export", "-q", "--source", str(first), "--out", str(out), *WINDOW).returncode == 0
    before = digests(out)
    n = count(out / "store.duckdb", "select count(*) from samples")
    at = T0 + 30 * 60  # alice's hero, still 0 there
    # the same source (the same header), other chunks (not a refetch of the same request), one
    # sample with another value
    other = replay(tmp_path / "other", changed(EVENT, "completion/hero/prod", ("alice", "c1"), at, 1.0),
                   (SPAN[0] + 60, SPAN[1]))  # fmt: skip
    proc = run_cli("export", "-q", "--source", str(other), "--out", str(out), *WINDOW)
    line = assert_one_line(proc.returncode, proc.stderr, 1)
    assert 'opencodequest_leaderboard_hero:prod{cluster="c1", user="alice"}' in line, line
    assert "2024-10-04T13:45:00Z" in line, line
    assert f"is 0 from replay:{first}" in line and f"and 1 from replay:{other}" in line, line
    assert "another --out" in line
    assert digests(out) == before
    assert count(out / "store.duckdb", "select count(*) from samples") == n  # nothing of it loaded


def findings_on_the_data(out: Path) -> list[dict[str, object]]:
    """audit.parquet's rows, but the empty answers of the run (they name its answers' ranges)."""
    rows = pq.read_table(out / "audit.parquet").to_pylist()
    return [r for r in rows if r["check"] not in ("empty_family", "empty_answer")]


def test_equal_values_and_equal_nans_from_other_chunks_are_the_same_fact(tmp_path: Path) -> None:
    out = tmp_path / "out"
    gap = changed(EVENT, "completion/villain/prod", ("bob", "c1"), T0 + 20 * 60, math.nan)
    first = replay(tmp_path / "first", gap)
    assert run_cli("export", "-q", "--source", str(first), "--out", str(out), *WINDOW).returncode == 0
    before, findings_before = digests(out), findings_on_the_data(out)
    other = replay(tmp_path / "other", gap, (SPAN[0] + 60, SPAN[1]))
    proc = run_cli("export", "-q", "--source", str(other), "--out", str(out), *WINDOW)
    assert proc.returncode == 0, proc.stderr
    assert "0 new samples" in proc.stdout
    after = digests(out)  # samples.parquet names the origins, the reports the data's digest
    assert all(after[k] == before[k] for k in ("ranking.parquet", "completions.parquet"))
    # the findings but those on what this run was answered (its answers span other chunks)
    assert findings_on_the_data(out) == findings_before
    assert manifest(out)["load"]["samples_superseded"] == 0


def test_a_refetch_that_answers_a_newer_value_supersedes_it_counted(prometheus, tmp_path: Path) -> None:
    """The late-sample case: the first answer to a chunk held a value the server later changed;
    ``--refetch`` asks again, the newer answer wins, and the manifest and the store count it."""
    early = {"on": True}

    def fault(_n: int, request: bytes) -> tuple[int, bytes] | None:
        if not (early["on"] and USERS_RAW in request):
            return None
        answer = ask_upstream(prometheus.url, request)
        assert answer.status_code == 200 and b'"1"]' in answer.content
        return 200, answer.content.replace(b'"1"]', b'"2"]', 1)  # one sample, another value

    out = tmp_path / "out"
    with StallingProxy(prometheus.url, fault=fault) as proxy:
        first = run_cli("export", "-q", *server_args(proxy.url, out))
        assert first.returncode == 0, first.stderr
        assert manifest(out)["load"]["samples_superseded"] == 0
        early["on"] = False
        again = run_cli("export", "-q", "--refetch", *server_args(proxy.url, out))
    assert again.returncode == 0, again.stderr
    assert manifest(out)["load"]["samples_superseded"] == 1
    assert "1 superseded by a newer answer" in " ".join(again.stdout.split())
    store = out / "store.duckdb"
    assert count(store, "select count(*) from superseded where value = 2") == 1
    newer = "select count(*) from superseded as x join samples as s using (series_id, ts) where s.value = 1"
    assert count(store, newer) == 1  # the newer answer won
    # the offline rebuild from the recording (its newest answers) gives the same archive
    published = digests(out)
    rebuilt = tmp_path / "rebuilt"
    offline = run_cli("export", "-q", "--source", str(out / "replay"), "--out", str(rebuilt), *WINDOW)
    assert offline.returncode == 0, offline.stderr
    assert digests(rebuilt)["ranking.parquet"] == published["ranking.parquet"]


def test_a_store_from_before_its_owner_was_recorded_needs_fresh(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_cli("export", "-q", "--out", str(out)).returncode == 0
    with duckdb.connect(str(out / "store.duckdb")) as con:  # as an older ocq-batch left it
        con.execute("delete from meta where key in ('event', 'source')")
    data = manifest(out)
    del data["belongs_to"]
    (out / "manifest.json").write_text(json.dumps(data))
    proc = run_cli("export", "-q", "--out", str(out))
    assert_one_line(proc.returncode, proc.stderr, 1, "older ocq-batch", "did not record", "--fresh")
    assert run_cli("export", "-q", "--fresh", "--out", str(out)).returncode == 0
    assert meta(out / "store.duckdb")["source"] == "the bundled demo event"


def test_fetch_into_a_folder_recorded_from_another_server_stops(prometheus, tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    window = ("--from", DEMO_FROM, "--to", DEMO_TO)
    assert run_cli("fetch", "-q", "--source", prometheus.url, "--out", str(folder), *window).returncode == 0
    index = (folder / "index.jsonl").read_bytes()
    with StallingProxy(prometheus.url) as proxy:
        proc = run_cli("fetch", "-q", "--source", proxy.url, "--out", str(folder), *window)
    line = assert_one_line(proc.returncode, proc.stderr, 1, f"recorded from {prometheus.url}", proxy.url)
    assert "use another --out" in line
    assert (folder / "index.jsonl").read_bytes() == index
