"""The simulator at scale: streamed bodies, server-like chunks, OpenMetrics of the recorded series."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import tracemalloc
from pathlib import Path

import orjson
import pytest
from conftest import run_cli

from ocq_batch.config.model import DEFAULT
from ocq_batch.pull.api import raw_chunks
from ocq_batch.pull.queries import plan_queries
from ocq_batch.sim.event import Observer, SimParams, build_event
from ocq_batch.sim.openmetrics import write_recorded_openmetrics
from ocq_batch.sim.promjson import matrix_body
from ocq_batch.sim.replay import write_replay


def entries(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / "index.jsonl").read_text().splitlines()]


def body(folder: Path, entry: dict[str, object]) -> bytes:
    return gzip.decompress((folder / str(entry["file"])).read_bytes())


@pytest.mark.parametrize("step_s", [30.0, 2.5])  # whole-second stamps (numpy join) and fractions
def test_streamed_bodies_are_matrix_body_bytes(tmp_path: Path, step_s: float) -> None:
    p = SimParams(participants=22, clusters=3, hours=0.5, step_s=step_s, start=DEFAULT.start.timestamp())
    event = build_event(p)
    write_replay(event, tmp_path)
    observer = Observer(event)
    recorded = {e["query"]: body(tmp_path, e) for e in entries(tmp_path)}
    # every plain selector but the live board's (a rule engine's): the raw series behind the
    # components included
    specs = [s for s in plan_queries(DEFAULT) if s.mode == "raw" and not s.component.startswith("live_")]
    assert sorted(recorded) == sorted(s.query for s in specs)
    for spec in specs:
        assert recorded[spec.query] == matrix_body(observer.series(spec)), spec.query


def test_long_ranges_are_chunked_like_a_server(tmp_path: Path) -> None:
    p = SimParams(participants=3, clusters=2, test_accounts=0, awkward=False, hours=1.0, step_s=10.0)
    event = build_event(p)
    write_replay(event, tmp_path, chunk_s=1000.0)
    want = raw_chunks(p.start, p.end, 1000.0)
    assert len(want) == 4
    observer = Observer(event)
    for spec in (s for s in plan_queries(DEFAULT) if not s.optional):
        chunks = sorted((e for e in entries(tmp_path) if e["query"] == spec.query), key=lambda e: e["start"])
        assert [(e["start"], e["end"]) for e in chunks] == want
        got: dict[str, list[float]] = {}
        for entry in chunks:
            for series in orjson.loads(body(tmp_path, entry))["data"]["result"]:
                values = series["values"]
                assert all(entry["start"] < t <= entry["end"] for t, _ in values)  # type: ignore[operator]
                got.setdefault(series["metric"]["user"] + "/" + series["metric"]["cluster"], []).extend(
                    float(t) for t, _ in values
                )
        whole = {
            f"{labels['user']}/{labels['cluster']}": [t for t, _v in points]
            for labels, points in observer.series(spec)
        }
        assert got == whole, spec.query  # no overlap, no hole


def _peak_bytes(participants: int, folder: Path) -> int:
    p = SimParams(
        participants=participants, clusters=4, awkward=False, hours=2.0, start=DEFAULT.start.timestamp()
    )
    event = build_event(p)
    tracemalloc.start()
    try:
        write_replay(event, folder)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_replay_memory_does_not_grow_with_participants(tmp_path: Path) -> None:
    small, large = _peak_bytes(40, tmp_path / "small"), _peak_bytes(400, tmp_path / "large")
    biggest = max(len(body(tmp_path / "large", e)) for e in entries(tmp_path / "large"))
    assert large < biggest / 2  # a whole body never sits in memory
    assert large < small * 2


def test_cli_writes_replay_and_openmetrics(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    proc = run_cli(
        "simulate", "--out", str(out), "--participants", "5", "--hours", "1", "--no-awkward",
        "--format", "replay", "--format", "openmetrics",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "replay.json").exists() and (out / "recorded.om").exists()
    text = (out / "recorded.om").read_text()
    assert text.endswith("\n# EOF\n")
    families = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    recorded = [e for e in entries(out) if not str(e["key"]).startswith("raw_")]  # raw series: not in .om
    assert len(families) == len(set(families)) == len(recorded)
    assert (out / "truths.json").exists()
    bad = run_cli("simulate", "--out", str(tmp_path / "x"), "--format", "csv")
    # the choices are the parser's now (listed in --help): a usage error naming the option and value
    assert bad.returncode == 2 and "'--format'" in bad.stderr and "'csv' is not one of" in bad.stderr


def test_recorded_openmetrics_feeds_promtool(tmp_path: Path) -> None:
    if shutil.which("promtool") is None:
        pytest.skip("promtool not installed")
    event = build_event(SimParams(participants=3, clusters=2, test_accounts=0, awkward=False, hours=0.5))
    n = write_recorded_openmetrics(event, tmp_path / "recorded.om")
    proc = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", "recorded.om", "data"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    stored = 0
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) > 5 and parts[0] != "BLOCK":
            stored += int(parts[-4])
    assert stored == n
