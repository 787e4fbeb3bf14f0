"""One benchmark stage per process: ``python3 benchmarks/stages.py <stage> '<json args>'``.

Each stage imports what it needs first, then times only its own work and prints one JSON
line: ``{"seconds": wall, "peak_rss_mb": peak RSS of this process, ...}``. Running every
stage in a fresh process gives each its own peak memory (``ru_maxrss``).
"""

from __future__ import annotations

import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpcore  # noqa: F401  (httpx imports it when the first client is made: an import, not fetch work)
import numpy as np
import orjson
import pandas as pd

from ocq_batch.archive.write import SamplesFile, write_files
from ocq_batch.config.model import DEFAULT, Config, Window
from ocq_batch.detect.steps import signal_steps, step, write_exclusions, write_params
from ocq_batch.jobs.export import http_source, loader_for
from ocq_batch.load import changelog
from ocq_batch.load.store import open_store
from ocq_batch.pull.api import plan_requests, wire_form
from ocq_batch.pull.http_options import HttpOptions
from ocq_batch.pull.parse import parse_response, parse_response_plain
from ocq_batch.pull.queries import plan_queries
from ocq_batch.pull.source import ReplaySource
from ocq_batch.resources import sql_text
from ocq_batch.sim.event import NearTieError, SimParams, build_event
from ocq_batch.sim.openmetrics import write_recorded_openmetrics
from ocq_batch.sim.replay import write_replay

STEP_S = 30.0


def params(participants: int, clusters: int) -> SimParams:
    """A 3-hour event at 30 s with the demo's planted cases: the first seed from 2024 where they fit."""
    start = DEFAULT.start.timestamp() - 900
    for seed in range(2024, 2064):
        p = SimParams(seed=seed, participants=participants, clusters=clusters, start=start)
        try:
            build_event(p)
            return p
        except NearTieError:  # no near-tie at the cut-off with this seed
            continue
    return replace(p, awkward=False)


def window(p: SimParams) -> tuple[float, float]:
    """The whole simulated range: every recorded sample is in the scoring window."""
    n = int((p.end - p.start) // p.step_s)
    return p.start, p.start + n * p.step_s


def config_for_step() -> Config:
    """The configuration the stages run with: the expressions' grid at the simulator's step."""
    return replace(DEFAULT, step_s=STEP_S)


def specs() -> list[Any]:
    """Every query an export asks for: the raw selectors (the optional raw kube-state-metrics
    ones included: the simulator records them) and the expressions."""
    return plan_queries(DEFAULT)


def requests(start: float, end: float) -> list[tuple[str, dict[str, str]]]:
    """The path and form of every request an export sends over ``[start, end]``, in its order."""
    plan = plan_requests(specs(), start, end, STEP_S, DEFAULT.chunk_s)
    return [wire_form(r.spec.query, r.start, r.end, r.step) for r in plan]


def _win(a: dict[str, Any]) -> Window:
    start, end = a["window"]
    return Window(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))


# ---------------------------------------------------------------------------------------------
# setup


def simulate(a: dict[str, Any]) -> dict[str, Any]:
    p = params(a["participants"], a["clusters"])
    event = build_event(p)  # drawn twice for small events: cheap
    out = Path(a["out"])
    files = write_replay(event, out / "replay")
    samples = write_recorded_openmetrics(event, out / "recorded.om") if a.get("openmetrics") else None
    return {"files": files, "users": len(event.truths), "om_samples": samples}


def tsdb(a: dict[str, Any]) -> dict[str, Any]:
    """``recorded.om`` into the TSDB ``data``, which appears only once complete (the cache test)."""
    out = Path(a["out"])
    partial = out / "data.partial"
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", "recorded.om", partial.name],
        cwd=out,
        check=True,
        capture_output=True,
        timeout=3600,
    )
    partial.rename(out / "data")
    (out / "recorded.om").unlink()
    return {}


# ---------------------------------------------------------------------------------------------
# fetch, and the curl floor


def fetch(a: dict[str, Any]) -> dict[str, Any]:
    """Every query through ocq-batch's HTTP source; with ``parse``, each body also parsed."""
    start, end = a["window"]
    n_bytes = samples = 0
    options = HttpOptions(a["url"], compression=a.get("compression", "auto"))
    with http_source(config_for_step(), options) as source:
        for resp in source.responses(specs(), start, end):
            n_bytes += len(resp.body)
            if a["parse"]:
                samples += parse_response(resp, "user", "cluster").n_samples
    return {"bytes": n_bytes, "samples": samples}


def export_phases(a: dict[str, Any]) -> dict[str, Any]:
    """The demo export's phases, timed one by one in one process (imports included)."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import ocq_batch.cli"], check=True)  # a fresh interpreter
    out: dict[str, Any] = {"python start + imports (ocq_batch.cli)": time.perf_counter() - began}
    from ocq_batch.detect.steps import run_pipeline
    from ocq_batch.pull.replay import ReplayWriter

    start, end = a["window"]
    win = _win(a)
    with tempfile.TemporaryDirectory() as tmp:
        con = open_store(Path(tmp) / "store.duckdb")
        clock = time.perf_counter()
        with http_source(DEFAULT, HttpOptions(a["url"])) as source:
            source.recorder = ReplayWriter(Path(tmp) / "replay", source=source.label)
            loader_for(con, DEFAULT).add_all(source.responses(plan_queries(DEFAULT), start, end))
        out["fetch + parse + record + load"] = time.perf_counter() - clock
        folder = Path(tmp) / "archive"
        folder.mkdir()
        # as the export does: samples.parquet is written by a thread from here on, beside
        # the scoring and the audit (the phases below are timed with it running)
        with SamplesFile(con, folder, win) as samples:
            clock = time.perf_counter()
            run_pipeline(con, DEFAULT, win, alt_signal=False)
            one = time.perf_counter() - clock
            out["scoring SQL 01-07"] = one
            clock = time.perf_counter()
            run_pipeline(con, DEFAULT, win)
            out["the other signal for the audit (02-04, from samples)"] = time.perf_counter() - clock - one
            try:
                from ocq_batch.audit.run import run_audit  # type: ignore[attr-defined]

                clock = time.perf_counter()
                run_audit(con, DEFAULT)
                out["audit"] = time.perf_counter() - clock
            except Exception as exc:
                out["audit"] = f"skipped: {type(exc).__name__}"
            clock = time.perf_counter()
            write_files(con, folder, DEFAULT, samples=samples)
            out["archive write_files (the rest of samples.parquet, then the other files)"] = (
                time.perf_counter() - clock
            )
        con.close()
    out["seconds"] = time.perf_counter() - began
    return out


def curl(a: dict[str, Any]) -> dict[str, Any]:
    """The same POST requests with curl, bodies to /dev/null, as many in flight as ocq-batch."""
    start, end = a["window"]
    lines = []
    for path, form in requests(start, end):
        lines += [f'url = "{a["url"]}{path}"']
        lines += [f'data-urlencode = "{key}={_curl_quoted(value)}"' for key, value in form.items()]
        lines += ['output = "/dev/null"', "next"]
    with tempfile.NamedTemporaryFile("w", suffix=".curl", delete=False) as fh:
        fh.write("\n".join(lines[:-1]) + "\n")
    began = time.perf_counter()
    extra = ["--compressed"] if a.get("compressed") else []  # gzip, as ocq-batch asks a remote server
    subprocess.run(
        ["curl", "-sS", "--fail", "--parallel", "--parallel-max", "4", *extra, "-K", fh.name], check=True
    )
    seconds = time.perf_counter() - began
    Path(fh.name).unlink()
    return {"seconds": seconds, "requests": lines.count("next") + 1}


def _curl_quoted(value: str) -> str:
    """A value inside a double-quoted string of a curl config file (backslash escapes)."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def httpx_raw(a: dict[str, Any]) -> dict[str, Any]:
    """The same requests through a bare ``httpx.Client`` (4 in flight, no compression, as
    ocq-batch asks a loopback server), bodies read and dropped: the floor of any fetch built
    on httpx, without checks or parsing."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    start, end = a["window"]
    tasks = requests(start, end)
    with httpx.Client(headers={"Accept-Encoding": "identity"}, timeout=600.0) as client:  # 5 s by default

        def one(task: tuple[str, dict[str, str]]) -> int:
            path, form = task
            response = client.post(f"{a['url']}{path}", data=form)
            response.raise_for_status()
            return len(response.content)

        began = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            n_bytes = sum(pool.map(one, tasks))
        seconds = time.perf_counter() - began
    return {"seconds": seconds, "bytes": n_bytes}


# ---------------------------------------------------------------------------------------------
# the pipeline, stage by stage


def load(a: dict[str, Any]) -> dict[str, Any]:
    """Parse and append every response; ``changelog_seconds`` is the part spent on the change log."""
    store = Path(a["store"])
    store.unlink(missing_ok=True)
    con = open_store(store)
    start, end = a["window"]
    spent = [0.0]

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - began

        return run

    for name in ("from_batch", "append", "rebuild"):
        setattr(changelog, name, timed(getattr(changelog, name)))
    source = ReplaySource(Path(a["replay"]))
    loader = loader_for(con, DEFAULT)
    loader.fast = a["fast"]
    stats = loader.add_all(source.responses(specs(), start, end))
    con.close()
    return {"samples": stats.samples_added, "changelog_seconds": spent[0]}


def _steps(con: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    for name in names:
        con.execute(sql_text(name))
        if name.endswith("01_participants.sql"):
            write_exclusions(con, DEFAULT.exclude_users)


def _detect_steps(con: duckdb.DuckDBPyConnection, from_samples: bool) -> list[str]:
    """Steps 01 to 05 as ``run_pipeline`` picks them (from the change log, or the samples)."""
    first = step("01_participants", from_samples)
    return [
        first,
        step("02_intervals"),
        *signal_steps(con, DEFAULT.signal, from_samples),
        step("05_completions"),
    ]


def _sql_stage(
    names: list[str] | None = None, detect: bool = False, from_samples: bool = False
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """One stage of SQL steps, timed with the store's opening and closing (fresh process)."""

    def run(a: dict[str, Any]) -> dict[str, Any]:
        con = open_store(Path(a["store"]))
        if detect:
            write_params(con, config_for_step(), _win(a))
        _steps(con, _detect_steps(con, from_samples) if detect else names or [])
        con.close()
        return {}

    return run


detect = _sql_stage(detect=True)
detect_samples = _sql_stage(detect=True, from_samples=True)
score = _sql_stage([step("06_scores")])
rank = _sql_stage([step("07_ranking")])
timeline = _sql_stage([step("08_timeline")])


def detect_score_rank(a: dict[str, Any]) -> dict[str, Any]:
    """Parameters and steps 01 to 06 on an open store, in one transaction as ``run_pipeline``
    runs them, timed as the pandas baseline is (no I/O of the input, best of ``repeat``): the
    throughput the target compares."""
    con = open_store(Path(a["store"]))
    best = float("inf")
    for _ in range(a.get("repeat", 3)):
        began = time.perf_counter()
        con.execute("begin transaction")
        write_params(con, config_for_step(), _win(a))
        _steps(con, [*_detect_steps(con, False), step("06_scores"), step("07_ranking")])
        con.execute("commit")
        best = min(best, time.perf_counter() - began)
    con.close()
    return {"seconds": best}


def audit(a: dict[str, Any]) -> dict[str, Any]:
    """The audit of later issues, when this checkout has one (``ocq_batch.audit.run_audit``)."""
    try:
        from ocq_batch.audit.run import run_audit  # type: ignore[attr-defined]
        from ocq_batch.detect.steps import run_pipeline
    except ImportError as exc:
        return {"skipped": f"no audit step ({exc})"}
    con = open_store(Path(a["store"]))
    config = config_for_step()
    run_pipeline(con, config, _win(a))  # the audit's inputs (e.g. the other signal): not timed
    began = time.perf_counter()
    try:
        run_audit(con, config)
    except Exception as exc:  # another session's work in progress: report, do not fail the run
        return {"skipped": f"audit failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"}
    return {"seconds": time.perf_counter() - began}


def archive(a: dict[str, Any]) -> dict[str, Any]:
    con = open_store(Path(a["store"]))
    folder = Path(a["out"])
    folder.mkdir(parents=True, exist_ok=True)
    files = write_files(con, folder, config_for_step())
    con.close()
    return {"files": {k: v["sha256"][:12] for k, v in files.items()}}


# ---------------------------------------------------------------------------------------------
# the pandas baseline


def pandas_input(a: dict[str, Any]) -> dict[str, Any]:
    """Every sample with its series' attributes, as parquet: the baseline's input (not timed)."""
    con = open_store(Path(a["store"]), read_only=True)
    con.execute(
        "copy (select s.user, s.exercise, s.env, s.cluster, s.component, x.ts, x.value from samples as x "
        "join series as s using (series_id)) to ? (format parquet)",
        [a["parquet"]],
    )
    con.close()
    return {}


def pandas_baseline(a: dict[str, Any]) -> dict[str, Any]:
    """Users seen, transitions, completions, scores and ranking with groupby + shift (best of
    ``repeat``); checked against the pipeline's ranking."""
    frame = pd.read_parquet(a["parquet"])
    seconds = float("inf")
    for _ in range(a.get("repeat", 3)):
        began = time.perf_counter()
        ranking = _pandas_ranking(frame, a["window"])
        seconds = min(seconds, time.perf_counter() - began)
    con = open_store(Path(a["store"]), read_only=True)
    order = "order by rank, last_completed_at nulls last, user"
    want = con.execute(f"select user, score from ranking {order}").df()
    con.close()
    same = list(ranking.index) == list(want.user) and np.allclose(ranking.score, want.score, atol=1e-6)
    return {"seconds": seconds, "samples": len(frame), "same_ranking": bool(same)}


def _pandas_ranking(frame: pd.DataFrame, win: list[float]) -> pd.DataFrame:
    cfg = DEFAULT
    t0 = cfg.start.timestamp()
    lo, hi = (pd.Timestamp(x, unit="s", tz="UTC") for x in win)
    x = frame[(frame.ts >= lo) & (frame.ts <= hi) & frame.user.notna()]
    users = sorted(x.user.unique())
    x = x[(x.component == "completion") & x.exercise.notna() & np.isfinite(x.value)].copy()
    x["state"] = (x.value >= 0.5).astype(np.int8)
    x = x.sort_values(["user", "exercise", "env", "cluster", "ts"])
    prev = x.groupby(["user", "exercise", "env", "cluster"], sort=False).state.shift()
    ups = x[(x.state == 1) & (prev.isna() | (prev == 0))]
    first = ups.groupby(["user", "exercise", "env", "cluster"], sort=False).ts.min().reset_index()
    prod = first[first.env == cfg.env]
    done = prod.groupby(["user", "exercise"]).ts.min().reset_index()
    params = pd.DataFrame(
        [(e.name, e.base, e.expected_s, e.penalty) for e in cfg.exercises],
        columns=["exercise", "base", "expected_s", "penalty"],
    )
    done = done.merge(params, on="exercise")
    c = (done.ts - pd.Timestamp(t0, unit="s", tz="UTC")).dt.total_seconds()
    to_s = hi.timestamp() - t0
    bonus = done.base + done.penalty * (done.expected_s - c) / cfg.tick_s
    done["points"] = bonus + cfg.accelerator * (to_s - c) / cfg.tick_s
    excluded = {u for u in users for pat in cfg.exclude_users if re.search(pat, u)}
    per_user = done.groupby("user").agg(score=("points", "sum"), last=("ts", "max"))
    per_user = per_user.reindex([u for u in users if u not in excluded]).fillna({"score": 0.0})
    per_user["key"] = per_user.score.round(6)
    per_user = per_user.reset_index().sort_values(["key", "last", "user"], ascending=[False, True, True])
    return per_user.set_index("user")[["score"]]


# ---------------------------------------------------------------------------------------------
# parsers compared on the same bodies


def parsers(a: dict[str, Any]) -> dict[str, Any]:
    """samples/s of each way to read the recorded bodies (decompressed first, not timed)."""
    source = ReplaySource(Path(a["replay"]))
    start, end = a["window"]
    resps = list(source.responses(specs(), start, end))
    samples = sum(parse_response(r, "user", "cluster").n_samples for r in resps)
    out: dict[str, Any] = {"samples": samples, "bytes": sum(len(r.body) for r in resps)}

    def timed(fn: Callable[[], Any]) -> float:
        began = time.perf_counter()
        fn()
        return time.perf_counter() - began

    out["orjson.loads only"] = timed(lambda: [orjson.loads(r.body) for r in resps])
    out["plain (orjson + lists)"] = timed(lambda: [parse_response_plain(r, "user", "cluster") for r in resps])
    out["fast (byte matrix, else regex + Arrow CSV)"] = timed(
        lambda: [parse_response(r, "user", "cluster") for r in resps]
    )
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, r in enumerate(resps):
            path = Path(tmp) / f"{i}.json"
            path.write_bytes(r.body)
            files.append(str(path))
        con = duckdb.connect()
        cols = (
            "{'status': 'VARCHAR', 'data': 'STRUCT(resultType VARCHAR, "
            'result STRUCT(metric MAP(VARCHAR, VARCHAR), "values" VARCHAR[][])[])\'}'
        )
        query = (
            'select count(*) from (select unnest(r."values") as v from (select unnest(data.result) as r '
            f"from read_json(?, columns={cols}, format='unstructured', maximum_object_size=2000000000)))"
            " where v[1]::double is not null and v[2]::double is not null"
        )
        out["duckdb read_json"] = timed(lambda: con.execute(query, [files]).fetchall())
    return out


STAGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "simulate": simulate,
    "tsdb": tsdb,
    "fetch": fetch,
    "export_phases": export_phases,
    "curl": curl,
    "httpx_raw": httpx_raw,
    "load": load,
    "detect": detect,
    "detect_samples": detect_samples,
    "detect_score_rank": detect_score_rank,
    "score": score,
    "rank": rank,
    "timeline": timeline,
    "audit": audit,
    "archive": archive,
    "pandas_input": pandas_input,
    "pandas": pandas_baseline,
    "parsers": parsers,
}


def main() -> None:
    name, args = sys.argv[1], json.loads(sys.argv[2])
    began = time.perf_counter()
    result = STAGES[name](args)
    result.setdefault("seconds", time.perf_counter() - began)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
