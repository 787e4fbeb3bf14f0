#!/usr/bin/env python3
"""ocq-batch benchmarks (not a test): ``python3 benchmarks/run.py [--quick] [--sizes 1e5,1e6]``.

For events of about 1e5, 1e6, 1e7 and 1e8 samples (3 hours at 30 s, more participants),
each stage runs in its own process (``benchmarks/stages.py``) and reports wall time and
peak RSS. Two baselines are measured in the same run: curl downloading the same
requests (instant queries of range selectors for the stored samples, ``query_range`` for
the expressions) to /dev/null (the fetch floor), and a pandas groupby + shift
implementation of detection, scoring and ranking (checked to give the same ranking).
Each size is also exported whole twice (wall time and peak RSS): by one ``ocq-batch
export`` from its local Prometheus (fetch to archive and report: the end to end), and by one
of its replay folder. The demo export is timed end to end against a local Prometheus. Results
go to ``benchmarks/RESULTS.md``; events and TSDBs are cached in ``--work`` (the first run
builds them: the 1e8 TSDB takes about 6 minutes, and 8.4 GB of disk for a while).

``--quick`` (1e5 and 1e6, the demo export once) takes about a minute and a half.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from ocq_batch.sim.event import SimParams, build_event  # noqa: E402
from testbench.prometheus import PromServer, build_tsdb, copy_tsdb  # noqa: E402

# participants for each size: the samples the TSDB stores for one participant over 3 hours
# (raw kube-state-metrics at 5 minutes, recorded series at 30 s, only once they exist) are
# about 4,850, plus about 8,800 for the event (test accounts, the live board); measured by
# loading simulated events of 17 and 97 participants (91,272 and 479,312 samples)
PER_PARTICIPANT, PER_EVENT = 4_850, 8_800
SIZES = {"1e5": 19, "1e6": 204, "1e7": 2060, "1e8": 20_617}
PANDAS_MAX = 12_000_000  # the baseline holds every completion sample in memory
PARSERS_MAX = 12_000_000  # the parser comparison holds every body, and the plain parser every sample
ROUNDS_MAX = 12_000_000  # above this, two rounds of the fetches at most (each takes 10 to 40 s)
PLAIN_MAX = 1_500_000  # the reference loader (one Python object per sample)
DEMO_WINDOW = ("2024-10-04T13:15:00Z", "2024-10-04T15:45:00Z")
RULES = REPO / "data" / "rules" / "opencodequest.rules.yml"
EXE = shutil.which("ocq-batch") or "ocq-batch"


def stage(name: str, timeout: float = 7200, **args: Any) -> dict[str, Any]:
    """Run one stage in a fresh process; its JSON line, or {"error": ...}."""
    proc = subprocess.run(
        [sys.executable, str(HERE / "stages.py"), name, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        print(f"    {name}: FAILED {tail}", flush=True)
        return {"error": tail}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    shown = {k: v for k, v in result.items() if k != "files"}
    print(f"    {name}: {json.dumps(shown)}", flush=True)
    return result


def command(cmd: list[str]) -> dict[str, Any]:
    """Run an ``ocq-batch`` command line: its wall time, its own peak RSS and exit code."""
    with tempfile.TemporaryFile() as err:  # not a pipe: a full pipe would stall the command
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - began
        code = os.waitstatus_to_exitcode(status)
        run = {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "exit": code}
        if code not in (0, 3, 4):  # 3 and 4: the audit's verdicts, the archive is written
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines()
            run["error"] = lines[-1] if lines else "?"
    print(f"    {cmd[1]}: {json.dumps(run)}", flush=True)
    return run


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    return min(ok, key=lambda r: r["seconds"]) if ok else runs[-1]


def bench_size(label: str, work: Path, repeat: int) -> dict[str, Any]:
    participants = SIZES[label]
    clusters = max(6, participants // 40)
    folder = work / f"p{participants}"
    from benchmarks.stages import params, window

    win = list(window(params(participants, clusters)))
    expected = participants * PER_PARTICIPANT + PER_EVENT
    out: dict[str, Any] = {"label": label, "participants": participants, "clusters": clusters}
    print(f"== {label}: {participants} participants, {clusters} clusters", flush=True)
    if not (folder / "replay" / "index.jsonl").exists() or not (folder / "data").exists():
        # first run only (cached in --work): at 1e8 the OpenMetrics file takes 8.4 GB of disk
        # until promtool has read it
        shutil.rmtree(folder, ignore_errors=True)
        out["simulate"] = stage("simulate", participants=participants, clusters=clusters, out=str(folder),
                                openmetrics=True)  # fmt: skip
        out["tsdb"] = stage("tsdb", out=str(folder))
    store = folder / "store.duckdb"
    span = [datetime.fromtimestamp(t, UTC).isoformat() for t in win]
    with (
        tempfile.TemporaryDirectory() as tmp,
        PromServer(Path(tmp)).start(copy_tsdb(folder / "data", Path(tmp) / "data")) as server,
    ):
        args = {"url": server.url, "window": win}
        stage("curl", **args)  # warm the server's page cache
        fetches: dict[str, tuple[str, dict[str, Any]]] = {
            "curl": ("curl", {}),
            "curl_gzip": ("curl", {"compressed": True}),
            "httpx_raw": ("httpx_raw", {}),
            "fetch": ("fetch", {"parse": False}),
            "fetch_parse": ("fetch", {"parse": True}),
            "fetch_parse_gzip": ("fetch", {"parse": True, "compression": "gzip"}),
        }
        # round after round rather than one stage's runs in a row: the machine's slow and
        # fast moments then fall on the baselines and on ocq-batch alike
        runs: dict[str, list[dict[str, Any]]] = {key: [] for key in fetches}
        for _ in range(repeat if expected <= ROUNDS_MAX else min(repeat, 2)):
            for key, (name, extra) in fetches.items():
                runs[key].append(stage(name, **extra, **args))
        out.update({key: best(results) for key, results in runs.items()})
        # end to end as the organiser runs it: fetch from the server to archive and report
        with tempfile.TemporaryDirectory() as out_tmp:
            source = ["--source", server.url, "--from", span[0], "--to", span[1]]
            out["export_server"] = command([EXE, "export", "-q", *source, "--out", f"{out_tmp}/out"])
    out["load"] = stage("load", replay=str(folder / "replay"), store=str(store), window=win, fast=True)
    samples = out["load"].get("samples", expected)
    out["samples"] = samples
    if samples <= PLAIN_MAX:
        plain = folder / "plain.duckdb"
        out["load_plain"] = stage(
            "load", replay=str(folder / "replay"), store=str(plain), window=win, fast=False
        )
        plain.unlink(missing_ok=True)
    for name in ("detect", "detect_samples", "score", "rank", "timeline", "audit"):
        out[name] = stage(name, store=str(store), window=win, repeat=repeat + 2)
    with tempfile.TemporaryDirectory() as tmp:
        out["archive"] = stage("archive", store=str(store), out=tmp)
    # the same work as one `ocq-batch export` from the replay folder, in one process: its
    # peak RSS is the one a user meets (the stages' peaks above are each their own process)
    with tempfile.TemporaryDirectory() as tmp:
        source = ["--source", str(folder / "replay"), "--from", span[0], "--to", span[1]]
        out["export"] = command([EXE, "export", "-q", *source, "--out", f"{tmp}/out"])
    # detect + score + rank and the pandas baseline, round after round (as the fetches):
    # the steps take a tenth of a second, so each round takes the best of 4 of them, as timeit
    # would take more loops of a short statement; pandas, a second or more, the best of 2
    parquet = folder / "samples.parquet"
    with_pandas = samples <= PANDAS_MAX
    if with_pandas:
        stage("pandas_input", store=str(store), parquet=str(parquet))
    steps, baseline = [], []
    for _ in range(repeat + 2):
        steps.append(stage("detect_score_rank", store=str(store), window=win, repeat=4))
        if with_pandas:
            baseline.append(stage("pandas", store=str(store), parquet=str(parquet), window=win, repeat=2))
    out["detect_score_rank"] = best(steps)
    if with_pandas:
        out["pandas"] = best(baseline)
        parquet.unlink()
    if samples <= PARSERS_MAX:
        out["parsers"] = stage("parsers", replay=str(folder / "replay"), window=win)
    store.unlink(missing_ok=True)
    Path(str(store) + ".wal").unlink(missing_ok=True)
    return out


def compact(data: Path, timeout_s: float = 180.0) -> None:
    """Let Prometheus merge the overlapping blocks the backfill leaves (144 for the demo), as
    any long-running server would have, so the timed queries do not merge them every time.

    Its first compaction runs a minute after start; done when the block count has dropped
    and held for 5 s. A marker file keeps the cached TSDB from being compacted again.
    """
    marker = data.parent / "compacted"
    if marker.exists():
        return

    def blocks() -> int:
        return sum(1 for p in data.iterdir() if (p / "meta.json").exists())

    before = last = blocks()
    print(f"    compacting the demo's {before} blocks in the background (a minute's wait)", flush=True)
    with tempfile.TemporaryDirectory() as tmp, PromServer(Path(tmp)).start(data):
        deadline = held = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            time.sleep(1)
            n = blocks()
            if n != last:
                last, held = n, time.monotonic()
            elif n < before and time.monotonic() - held >= 5:
                break
    print(f"    {last} blocks left", flush=True)
    if last < before:
        marker.write_text(f"{before} -> {last} blocks\n")


def prepare_demo(work: Path) -> threading.Thread:
    """Build the demo's TSDB (raw series + live rules) once, and start compacting it.

    The compaction waits a minute for Prometheus (:func:`compact`, at once done when an
    earlier run compacted the TSDB): it goes on in the background while the sizes are
    measured; the caller joins it before the demo.
    """
    folder = work / "demo"
    if not (folder / "data").exists():
        print("== building the demo TSDB (first run only)", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
        start = 1728047700.0 - 900  # the demo's data start (T0 - 15 min)
        build_tsdb(build_event(SimParams(start=start)), folder, RULES)
    thread = threading.Thread(target=compact, args=(folder / "data",), name="compact-demo", daemon=True)
    thread.start()
    return thread


def bench_demo(work: Path, repeat: int) -> dict[str, Any]:
    """``ocq-batch export`` of the demo event from a local Prometheus (raw series + live rules)."""
    print("== demo export from a local Prometheus", flush=True)
    folder = work / "demo"
    runs: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        PromServer(Path(tmp)).start(copy_tsdb(folder / "data", Path(tmp) / "data")) as server,
    ):
        from benchmarks.stages import DEFAULT

        t0 = DEFAULT.start.timestamp()
        win = [t0, t0 + 150 * 60]
        stage("curl", url=server.url, window=win)
        curl = best([stage("curl", url=server.url, window=win) for _ in range(repeat)])
        window = ["--from", DEMO_WINDOW[0], "--to", DEMO_WINDOW[1]]
        export = [EXE, "export", "-q", "--source", server.url, *window]
        # one export first, not timed: it warms the page cache (the server's blocks, the
        # package's files), as the curl run above does for curl
        warm_up = [*export, "--out", str(Path(tmp) / "warm-up")]
        subprocess.run(warm_up, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        for i in range(repeat):
            runs.append(command([*export, "--out", str(Path(tmp) / f"out{i}")]))
        phases = stage("export_phases", url=server.url, window=win)
    return {"export": runs, "curl": curl, "phases": phases}


SPEED_PROBE = """
import time
t = time.perf_counter()
s = 0
for i in range(10_000_000):
    s += i
print(time.perf_counter() - t)
"""


def speed_probe() -> str:
    """How fast the machine runs Python now: a loop of 1e7 additions, best of 3, in a fresh process.
    This shared machine's speed moves from hour to hour; the probe dates a run's figures."""
    runs = [
        float(subprocess.run([sys.executable, "-c", SPEED_PROBE], capture_output=True, text=True).stdout)
        for _ in range(3)
    ]
    return f"{min(runs):.2f} s"


def machine() -> dict[str, str]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    versions = {
        name: metadata.version(name) for name in ("duckdb", "pyarrow", "numpy", "pandas", "orjson", "httpx")
    }

    def first_line(cmd: list[str]) -> str:
        try:
            text = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (text.stdout or text.stderr).splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"

    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": f"{int(mem.split()[1]) / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "os": platform.platform(),
        "libraries": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "prometheus": first_line(["prometheus", "--version"]),
        "curl": first_line(["curl", "--version"]),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "speed probe at start (a Python loop of 1e7 additions)": speed_probe(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 and 1e6 only, one repetition")
    parser.add_argument("--sizes", help="comma-separated sizes among " + ", ".join(SIZES))
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ocq-bench")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo export")
    parser.add_argument(
        "--merge", type=Path, action="append", default=[], help="add the sizes of a --json file"
    )
    args = parser.parse_args()
    sizes = (
        [s for s in args.sizes.split(",") if s]
        if args.sizes is not None
        else (["1e5", "1e6"] if args.quick else list(SIZES))
    )
    repeat = 1 if args.quick else 3
    args.work.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "sizes": []}
    # the bytecode pip leaves in an installed package: with PYTHONDONTWRITEBYTECODE set (as on
    # the machine these figures come from) each export would compile every changed module again
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "ocq_batch")], check=True)
    compacting = None if args.no_demo else prepare_demo(args.work)
    try:
        for label in sizes:
            results["sizes"].append(bench_size(label, args.work, repeat))
    finally:
        if compacting is not None:
            compacting.join()  # its Prometheus stops with it, whatever happened here
    if not args.no_demo:
        results["demo"] = bench_demo(args.work, repeat)
    for extra in args.merge:
        merged = json.loads(extra.read_text())
        results["sizes"] += merged["sizes"]
        results.setdefault("demo", merged.get("demo"))
        if not sizes and args.no_demo:  # nothing measured here: describe the machine that ran them
            results["machine"] = merged["machine"]
        results.setdefault("merged", []).append(f"{extra.name}: {merged['seconds']:.0f} s")
        began -= merged["seconds"]
    if sizes or not args.no_demo:
        results["machine"]["speed probe at end"] = speed_probe()
    results["seconds"] = time.perf_counter() - began
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    from benchmarks.report import render

    args.out.write_text(render(results), encoding="utf-8")
    print(f"wrote {args.out} in {results['seconds']:.0f} s")


if __name__ == "__main__":
    main()
