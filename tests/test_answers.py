"""Every answer accounted for, and data that cover the window (issue 17, items 3 and 4).

Through the command line: the bundled demo's replay folder, and a real Prometheus serving
the demo event with the proxy of ``tests/proxy.py`` in front of it, which answers chosen
requests itself: an empty result, a series without its ``user`` label, a value ``"one"``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pyarrow.parquet as pq
import pytest
from conftest import DEMO_FROM, DEMO_TO, REPO, T0, run_cli, server_args
from faultkit import assert_one_line
from proxy import StallingProxy

from ocq_batch.config.model import DEFAULT
from ocq_batch.pull.api import num, raw_chunks
from ocq_batch.pull.queries import plan_queries
from ocq_batch.timeutil import from_epoch, iso

DEMO = REPO / "data" / "demo"
EMPTY = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'
Fault = Callable[[int, bytes], tuple[int, bytes] | None]


def findings(out: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(out / "audit.parquet").to_pylist()
    return rows


def manifest(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return data


def asked(body: bytes) -> tuple[str, dict[str, str]]:
    """The PromQL of a proxied request without its range selector, and its whole form."""
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    query = form.get("query", "")
    return (query.rsplit("[", 1)[0] if "step" not in form else query), form


def rewriting(upstream: str, queries: set[str], change: Callable[[dict[str, Any]], None]) -> Fault:
    """A fault that forwards the requests for ``queries`` itself and answers with the server's
    body after ``change`` (given the parsed body); every other request goes through."""

    def fault(_n: int, body: bytes) -> tuple[int, bytes] | None:
        query, form = asked(body)
        if query not in queries:
            return None
        path = "/api/v1/query_range" if "step" in form else "/api/v1/query"
        with httpx.Client(trust_env=False, timeout=60) as client:
            answer = client.post(upstream + path, data=form)
        doc = answer.json()
        change(doc)
        return answer.status_code, json.dumps(doc, separators=(",", ":")).encode()

    return fault


def query_of(key: str) -> str:
    return next(s.query for s in plan_queries(DEFAULT) if s.key == key)


def test_manifest_lists_every_query_family(tmp_path: Path) -> None:
    """The demo export's manifest: per family of the plan, its answers, series, samples and span."""
    out = tmp_path / "out"
    proc = run_cli("export", "-q", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    data = manifest(out)
    families = data["families"]
    assert set(families) == {s.key for s in plan_queries(DEFAULT)}
    hero = families["completion/hero/prod"]
    assert hero["query"] == "opencodequest_leaderboard_hero:prod"
    assert hero["responses"] == 1 and hero["empty_responses"] == 0 and hero["empty_ranges"] == []
    assert hero["series"] == 77 and hero["samples"] > 20_000
    assert hero["first_sample"].startswith("2024-10-04T13:00") and hero["last_sample"].startswith(
        "2024-10-04T15:59"
    )
    assert hero["series_without_user"] == 0 and hero["series_without_cluster"] == 0
    # prod's databases are shared: no per-user database pod, an empty optional family
    shared = families["raw_database/hero/prod"]
    assert shared["responses"] == 1 and shared["empty_responses"] == 1 and shared["series"] == 0
    assert shared["first_sample"] is None
    assert data["load"]["empty_responses"] == 2
    assert sum(f["samples"] for f in families.values()) == data["load"]["samples_seen"]
    empty = [f for f in findings(out) if f["check"] == "empty_family"]
    assert {f["severity"] for f in empty} == {"info"}
    assert sorted(f["message"].split(" ")[1] for f in empty) == [
        "raw_database/hero/prod",
        "raw_database/villain/prod",
    ]
    # the re-audit of the archive carries them: an archive keeps no empty answer
    proc = run_cli("audit", "--archive", str(out))
    assert proc.returncode == 3, proc.stderr
    assert "empty_family 2" in " ".join(proc.stdout.split())


def test_empty_answers_are_counted_and_named(prometheus, tmp_path: Path) -> None:
    """A server answering some queries with an empty result: each is counted in the manifest
    and named in a warning finding, and the export still ranks the event."""
    emptied = {query_of(k) for k in ("service/hero/prod", "completion/villain/dev", "participants/*/*")}

    def fault(_n: int, body: bytes) -> tuple[int, bytes] | None:
        return (200, EMPTY) if asked(body)[0] in emptied else None

    out = tmp_path / "out"
    with StallingProxy(prometheus.url, fault=fault) as proxy:
        proc = run_cli("export", "-q", *server_args(proxy.url, out))
    assert proc.returncode == 0, proc.stderr
    [warning] = [line for line in proc.stderr.splitlines() if "answered empty" in line]
    assert "service/hero/prod" in warning and "participants/*/*" in warning, warning
    families = manifest(out)["families"]
    assert families["raw_database/hero/prod"]["optional"] is True  # optional: not warned of
    assert "raw_database" not in warning
    for key in ("service/hero/prod", "completion/villain/dev", "participants/*/*"):
        assert families[key]["series"] == 0 and families[key]["empty_responses"] == 1, key
    assert families["service/villain/prod"]["series"] == 77
    assert manifest(out)["load"]["empty_responses"] >= 3
    named = {f["message"].split(" ")[1]: f for f in findings(out) if f["check"] == "empty_family"}
    for key in ("service/hero/prod", "completion/villain/dev", "participants/*/*"):
        assert named[key]["severity"] == "warning", named[key]
        assert named[key]["series"] == [query_of(key)]


def test_an_empty_chunk_among_full_ones_is_named_with_its_range(prometheus, tmp_path: Path) -> None:
    """With one-hour chunks, the server answers one chunk of a family empty: the manifest and
    a warning finding name the query and the range that came back empty."""
    config = tmp_path / "chunks.toml"
    config.write_text('[source]\nchunk = "1h"\n')
    target = query_of("completion/villain/dev")
    chunks = raw_chunks(T0, T0 + 150 * 60, 3600)
    assert len(chunks) == 3
    start, end = chunks[1]  # 14:14:59.999Z to 15:14:59.999Z
    seen: list[str] = []

    def fault(_n: int, body: bytes) -> tuple[int, bytes] | None:
        query, form = asked(body)
        if query != target:
            return None
        seen.append(form["time"])
        return (200, EMPTY) if form["time"] == num(end) else None

    out = tmp_path / "out"
    with StallingProxy(prometheus.url, fault=fault) as proxy:
        proc = run_cli("export", "-q", "--config", str(config), *server_args(proxy.url, out))
    assert proc.returncode == 0, proc.stderr
    assert len(seen) == 3 and num(end) in seen, seen
    family = manifest(out)["families"]["completion/villain/dev"]
    assert family["responses"] == 3 and family["empty_responses"] == 1
    assert family["empty_ranges"] == [[iso(from_epoch(start)), iso(from_epoch(end))]], family
    assert family["series"] == 77
    [finding] = [f for f in findings(out) if f["check"] == "empty_answer"]
    assert finding["severity"] == "warning" and finding["exercise"] == "villain" and finding["env"] == "dev"
    assert "1 of 3 answers to query completion/villain/dev" in finding["message"]
    assert "(16:14:59 to 17:14:59)" in finding["message"], finding  # in the event's time (Paris)


def test_an_empty_scoring_family_stops_the_export(prometheus, tmp_path: Path) -> None:
    target = query_of("completion/hero/prod")

    def fault(_n: int, body: bytes) -> tuple[int, bytes] | None:
        return (200, EMPTY) if asked(body)[0] == target else None

    out = tmp_path / "out"
    with StallingProxy(prometheus.url, fault=fault) as proxy:
        proc = run_cli("export", "-q", *server_args(proxy.url, out))
    assert_one_line(proc.returncode, proc.stderr, 1, "completion/hero/prod", target, "answered no series")
    assert not (out / "manifest.json").exists()


def test_series_without_their_user_or_cluster_label_are_named(prometheus, tmp_path: Path) -> None:
    """The server drops the user label of one completion series, and the cluster label of a
    service series: neither dropped in silence, but findings naming the series (an error for
    the scoring family, so the audit exits 3), and counted in the manifest."""
    completion, service = query_of("completion/hero/prod"), query_of("service/villain/dev")
    victims: dict[str, dict[str, str]] = {}

    def drop_label(doc: dict[str, Any]) -> None:
        series = next(s for s in doc["data"]["result"] if s["metric"].get("user") == "user07")
        label = "user" if series["metric"]["__name__"] == completion else "cluster"
        victims[label] = dict(series["metric"])
        del series["metric"][label]

    out = tmp_path / "out"
    fault = rewriting(prometheus.url, {completion, service}, drop_label)
    with StallingProxy(prometheus.url, fault=fault) as proxy:
        proc = run_cli("audit", *server_args(proxy.url, out))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert set(victims) == {"user", "cluster"}, victims
    families = manifest(out)["families"]
    assert families["completion/hero/prod"]["series_without_user"] == 1
    assert families["service/villain/dev"]["series_without_cluster"] == 1
    assert manifest(out)["load"]["series_without_user"] == 1
    assert manifest(out)["load"]["series_without_cluster"] == 1
    [no_user] = [f for f in findings(out) if f["check"] == "no_user_label"]
    assert no_user["severity"] == "error" and no_user["exercise"] == "hero" and no_user["env"] == "prod"
    cluster = victims["user"]["cluster"]
    assert f'opencodequest_leaderboard_hero:prod{{cluster="{cluster}"}}' in no_user["message"], no_user
    assert "no_user_label" in proc.stdout
    [no_cluster] = [f for f in findings(out) if f["check"] == "no_cluster_label"]
    assert no_cluster["severity"] == "warning" and no_cluster["exercise"] == "villain"
    assert no_cluster["series"] == [f'{service}{{user="user07"}}'], no_cluster
    assert "1 series of query service/villain/dev" in no_cluster["message"]


def test_a_value_one_is_an_error_naming_series_and_time(prometheus, tmp_path: Path) -> None:
    target = query_of("completion/fight/prod")

    def spell(doc: dict[str, Any]) -> None:
        series = next(s for s in doc["data"]["result"] if s["metric"].get("user") == "user12")
        series["values"][3][1] = "one"

    out = tmp_path / "out"
    with StallingProxy(prometheus.url, fault=rewriting(prometheus.url, {target}, spell)) as proxy:
        proc = run_cli("export", "-q", *server_args(proxy.url, out))
    line = assert_one_line(proc.returncode, proc.stderr, 1, "'one'", "not a number", 'user="user12"')
    assert "opencodequest_leaderboard_fight:prod{" in line and "at 2024-10-04T1" in line, line
    assert not (out / "manifest.json").exists()


def cut_last_line(index: Path) -> int:
    """Cut the index's last line in its middle; its line number."""
    data = index.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    index.write_bytes(data[: last + (len(data) - last) // 2])
    return data.count(b"\n")


def test_a_replay_index_cut_mid_line_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "replay"
    shutil.copytree(DEMO, folder)
    line = cut_last_line(folder / "index.jsonl")
    out = tmp_path / "out"
    proc = run_cli("export", "-q", "--source", str(folder), "--out", str(out))
    assert_one_line(
        proc.returncode, proc.stderr, 1, f"index.jsonl line {line} is cut short", "ocq-batch fetch"
    )
    assert not out.exists()


def test_fetch_resumes_a_cut_index_line_and_says_so(prometheus, tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    args = [
        "fetch",
        "-q",
        "--source",
        prometheus.url,
        "--from",
        DEMO_FROM,
        "--to",
        DEMO_TO,
        "--out",
        str(folder),
    ]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    whole = (folder / "index.jsonl").read_text().splitlines()
    line = cut_last_line(folder / "index.jsonl")
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert f"index.jsonl line {line} was cut short" in again.stderr and "fetched again" in again.stderr
    assert "recorded 1 chunk(s)" in again.stdout, again.stdout
    lines = (folder / "index.jsonl").read_text().splitlines()
    assert len(lines) == len(whole)
    assert [json.loads(x)["file"] for x in lines] == [json.loads(x)["file"] for x in whole]
    proc = run_cli("export", "-q", "--source", str(folder), "--from", DEMO_FROM, "--to", DEMO_TO,
                   "--out", str(tmp_path / "out"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("window", "needles"),
    [
        # --to after the source's last sample (16:00Z)
        (
            ("2024-10-04T13:15:00Z", "2024-10-04T17:00:00Z"),
            ["end at 2024-10-04T16:00", "before --to 2024-10-04T17:00:00Z", "pass --to 2024-10-04T16:00"],
        ),
        # the local time of day (Paris, +02:00) written with a Z: the window is two hours late
        (
            ("2024-10-04T15:15:00Z", "2024-10-04T17:45:00Z"),
            [
                "end at 2024-10-04T16:00",
                "if you meant 17:45 in Europe/Paris, write 2024-10-04T17:45:00+02:00",
            ],
        ),
        # --from before the source's first sample (13:00Z)
        (
            ("2024-10-04T12:00:00Z", "2024-10-04T15:45:00Z"),
            ["start at 2024-10-04T13:0", "after --from 2024-10-04T12:00:00Z", "pass --from 2024-10-04T13:0"],
        ),
    ],
    ids=["to_after_data", "local_time_with_z", "from_before_data"],
)
def test_a_window_past_the_data_stops_the_export(
    prometheus, tmp_path: Path, window: tuple[str, str], needles: list[str]
) -> None:
    out = tmp_path / "out"
    proc = run_cli(
        "export", "-q", "--source", prometheus.url, "--from", window[0], "--to", window[1], "--out", str(out)
    )
    assert_one_line(proc.returncode, proc.stderr, 1, "the prod completion data", *needles)
    assert not (out / "manifest.json").exists()
