#!/usr/bin/env python3
"""Two ways to read each stored sample at its raw time, measured (not a test):
``python3 benchmarks/raw_times.py [--sizes 1e6,1e7] [--work DIR] [--repeat 3]``.

On the benchmark events of ``run.py`` (their TSDBs cached in ``--work``, built when
missing), against a local Prometheus, the requests of every configured family:

- **grid**: ``query_range`` at 30 s (what ocq-batch sent before it read raw times);
- **A**: the same, each paired with ``timestamp(<query>)`` on the same grid (the raw time of
  the latest sample at or before each grid point);
- **B**: an instant query of ``<selector>[<chunk>]`` (every stored sample of the chunk at its
  own time), as :func:`ocq_batch.pull.api.wire_form` sends it: what ocq-batch keeps.

For each: requests, bytes (identity and gzip), wall time, the server's CPU (utime + stime of
its process, from /proc), the client's CPU (and the part spent in ``orjson.loads``), and
the samples returned. Rounds are interleaved (grid, A, B, again) and the best wall time of
each is kept. Prints a Markdown table (for ``notes.md``) and writes ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import httpx  # noqa: E402
import orjson  # noqa: E402

from benchmarks.run import SIZES, stage  # noqa: E402
from benchmarks.stages import STEP_S, params, specs, window  # noqa: E402
from ocq_batch.pull.api import RAW, chunk_range, raw_chunks, wire_form  # noqa: E402
from testbench.prometheus import PromServer, copy_tsdb  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
Task = tuple[str, dict[str, str]]


def server_cpu(pid: int) -> float:
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def approaches(start: float, end: float) -> dict[str, list[Task]]:
    grid, twin, raw = [], [], []
    for spec in specs():
        for a, b in chunk_range(start, end, STEP_S):
            grid.append(wire_form(spec.query, a, b, STEP_S))
            twin += [wire_form(spec.query, a, b, STEP_S), wire_form(f"timestamp({spec.query})", a, b, STEP_S)]
        # an expression has no range selector (Prometheus refuses one): B keeps its grid
        raw += (
            [wire_form(spec.query, a, b, RAW) for a, b in raw_chunks(start, end)]
            if spec.mode == "raw"
            else [wire_form(spec.query, a, b, STEP_S) for a, b in chunk_range(start, end, STEP_S)]
        )
    return {
        "grid: query_range at 30 s": grid,
        "A: query_range + timestamp() twin": twin,
        "B: instant queries of range selectors": raw,
    }


class Meter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.parse_s = 0.0
        self.samples = 0
        self.bytes = 0


def run(client: httpx.Client, url: str, tasks: list[Task], meter: Meter) -> None:
    def one(task: Task) -> None:
        path, form = task
        response = client.post(url + path, data=form)
        response.raise_for_status()
        began = time.thread_time()
        n = sum(len(s["values"]) for s in orjson.loads(response.content)["data"]["result"])
        spent = time.thread_time() - began
        with meter.lock:
            meter.parse_s += spent
            meter.samples += n
            meter.bytes += len(response.content)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, tasks))


def measure(client: httpx.Client, url: str, pid: int, tasks: list[Task]) -> dict[str, Any]:
    meter = Meter()
    cpu0, use0, wall0 = server_cpu(pid), resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    run(client, url, tasks, meter)
    wall = time.perf_counter() - wall0
    use1 = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "requests": len(tasks),
        "bytes": meter.bytes,
        "wall_s": wall,
        "server_cpu_s": server_cpu(pid) - cpu0,
        "client_cpu_s": (use1.ru_utime - use0.ru_utime) + (use1.ru_stime - use0.ru_stime),
        "parse_cpu_s": meter.parse_s,
        "samples": meter.samples,
        "load_average": os.getloadavg()[0],
    }


def gzip_bytes(url: str, tasks: list[Task]) -> int:
    """Bytes on the wire when gzip is asked for (untimed, one request at a time)."""
    total = 0
    with httpx.Client(trust_env=False, headers={"Accept-Encoding": "gzip"}, timeout=300) as client:
        for path, form in tasks:
            with client.stream("POST", url + path, data=form) as response:
                total += sum(len(chunk) for chunk in response.iter_raw())
    return total


def bench(label: str, work: Path, repeat: int) -> dict[str, Any]:
    participants = SIZES[label]
    clusters = max(6, participants // 40)
    folder = work / f"p{participants}"
    if not (folder / "data").exists():
        stage("simulate", participants=participants, clusters=clusters, out=str(folder), openmetrics=True)
        stage("tsdb", out=str(folder))
    start, end = window(params(participants, clusters))
    tasks = approaches(start, end)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in tasks}
    with tempfile.TemporaryDirectory() as tmp:
        server = PromServer(Path(tmp)).start(copy_tsdb(folder / "data", Path(tmp) / "data"))
        identity = {"Accept-Encoding": "identity"}
        with server, httpx.Client(trust_env=False, headers=identity, timeout=300) as client:
            for todo in tasks.values():  # warm-up: the page cache, the connections
                run(client, server.url, todo, Meter())
            for _ in range(repeat):
                for name, todo in tasks.items():
                    runs[name].append(measure(client, server.url, server.pid, todo))
                    print(f"    {label} {name}: {json.dumps(runs[name][-1])}", flush=True)
            gz = {name: gzip_bytes(server.url, todo) for name, todo in tasks.items()}
    best = {name: min(r, key=lambda m: m["wall_s"]) | {"gzip_bytes": gz[name]} for name, r in runs.items()}
    return {"label": label, "participants": participants, "best": best, "runs": runs}


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| size | approach | requests | MB | MB gzip | wall s | server CPU s | client CPU s (parse) "
        "| samples returned | server CPU vs grid |\n|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for r in results:
        grid = next(iter(r["best"].values()))["server_cpu_s"]
        for name, m in r["best"].items():
            cells = [
                r["label"],
                name,
                str(m["requests"]),
                f"{m['bytes'] / 1e6:.1f}",
                f"{m['gzip_bytes'] / 1e6:.2f}",
                f"{m['wall_s']:.2f}",
                f"{m['server_cpu_s']:.2f}",
                f"{m['client_cpu_s']:.2f} ({m['parse_cpu_s']:.2f})",
                f"{m['samples']:,}",
                f"{m['server_cpu_s'] / grid:.1f}x",
            ]
            rows.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ocq-bench")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = [bench(label, args.work, args.repeat) for label in args.sizes.split(",") if label]
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
