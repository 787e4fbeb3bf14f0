"""A local Prometheus test bench: replay a simulated event through the live leaderboard rules.

The bench writes the raw kube-state-metrics series of an event (:mod:`ocq_batch.sim.openmetrics`),
turns them into TSDB blocks with ``promtool``, then backfills the live recording rules one
group at a time. Each group reads the previous group's output, and a Prometheus server only
sees blocks that were in its folder when it started, so every group gets a fresh server::

    raw.om --promtool--> data/ --server + promtool rules (group 1)--> blocks --move--> data/
                                --server + promtool rules (group 2)--> ...

Every subprocess is bounded in time and logs to ``bench.log`` in the work folder. Servers
listen on 127.0.0.1 only, on a free port.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx

from ocq_batch.closing import Closing
from ocq_batch.sim.event import Event
from ocq_batch.sim.openmetrics import write_openmetrics
from ocq_batch.timeutil import parse_duration

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
TOOL_TIMEOUT_S = 300.0


class BenchError(RuntimeError):
    """The local Prometheus bench could not build a TSDB or start a server."""


def split_groups(text: str) -> list[str]:
    """Split a block-style rule file into one rule file per group, in order."""
    lines = text.splitlines(keepends=True)
    body = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    if not body or lines[body[0]].rstrip() != "groups:":
        raise BenchError("the rule file must start with 'groups:' (block style, as live_rules writes)")
    items = [i for i in body[1:] if lines[i].lstrip().startswith("- ")]
    if not items:
        raise BenchError("the rule file holds no rule group")
    indent = len(lines[items[0]]) - len(lines[items[0]].lstrip())
    starts = [i for i in items if len(lines[i]) - len(lines[i].lstrip()) == indent]
    bounds = [*starts, len(lines)]
    return ["groups:\n" + "".join(lines[a:b]) for a, b in pairwise(bounds)]


# ---------------------------------------------------------------------------------------------
# servers and tools


def tool(name: str) -> str:
    """Path of a Prometheus binary, or a BenchError saying how to install it."""
    path = shutil.which(name)
    if path is None:
        raise BenchError(
            f"{name} is not installed; run: apt-get install -y --no-install-recommends prometheus"
        )
    return path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, n: int = 20) -> str:
    try:
        return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-n:])
    except OSError:
        return ""


class PromServer(Closing):
    """A Prometheus server on 127.0.0.1 over one TSDB folder; a context manager that stops it."""

    def __init__(self, workdir: Path, ready_timeout_s: float = READY_TIMEOUT_S) -> None:
        self.workdir = workdir
        self.ready_timeout_s = ready_timeout_s
        self.port = 0
        self.log_path = workdir / "prometheus.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self._proc is None:
            raise BenchError("the Prometheus server is not running; call start() first")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id (the benchmarks read its CPU time from /proc)."""
        if self._proc is None:
            raise BenchError("the Prometheus server is not running; call start() first")
        return self._proc.pid

    def start(self, data_dir: Path, *flags: str) -> PromServer:
        """Start on a free port and wait until ``/-/ready`` answers 200; ``flags`` are passed on
        (e.g. ``--query.max-samples=2000``)."""
        if self._proc is not None:
            raise BenchError("this Prometheus server is already running")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus-empty.yml"
        config.write_text("")  # no scrape job: the server only serves its TSDB
        for _attempt in range(3):  # the free port may be taken before the server binds it
            self.port = free_port()
            self.log_path = self.workdir / f"prometheus-{self.port}.log"
            with self.log_path.open("wb") as log:
                self._proc = subprocess.Popen(
                    [
                        tool("prometheus"),
                        f"--config.file={config}",
                        f"--storage.tsdb.path={data_dir}",
                        f"--web.listen-address=127.0.0.1:{self.port}",
                        "--storage.tsdb.retention.time=100y",
                        *flags,
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_ready():
                return self
            self.stop()
        raise BenchError(f"Prometheus could not bind a free port on 127.0.0.1; log:\n{_tail(self.log_path)}")

    def _wait_ready(self) -> bool:
        """True when ready; False if the port was taken; BenchError on any other failure."""
        assert self._proc is not None
        url = f"http://127.0.0.1:{self.port}/-/ready"
        deadline = time.monotonic() + self.ready_timeout_s
        with httpx.Client(trust_env=False, timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    tail = _tail(self.log_path)
                    if "address already in use" in tail:
                        return False
                    code, self._proc = self._proc.returncode, None
                    raise BenchError(f"Prometheus exited with code {code}; log:\n{tail}")
                try:
                    if client.get(url).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise BenchError(
            f"Prometheus was not ready within {self.ready_timeout_s:g}s; log:\n{_tail(self.log_path)}"
        )

    def stop(self) -> None:
        """Terminate the server and wait for it (killed after STOP_TIMEOUT_S)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT_S)

    def close(self) -> None:
        """The same as :meth:`stop` (``with server:`` stops it at the end)."""
        self.stop()


def _run(args: list[str], cwd: Path, log: Path) -> None:
    """Run one promtool command in ``cwd``, appending its output to ``log``; BenchError if it fails."""
    with log.open("ab") as out:
        out.write(f"$ {' '.join(args)}\n".encode())
        out.flush()
        try:
            proc = subprocess.run(
                args,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=TOOL_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"{args[0]} {args[1]} took more than {TOOL_TIMEOUT_S:g}s; see {log}") from None
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(args[:4])} failed with code {proc.returncode}; log:\n{_tail(log)}")


def copy_tsdb(src: Path, dst: Path) -> Path:
    """A private copy of a TSDB folder (a running server compacts its blocks in place)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("lock", "queries.active"))
    return dst


def build_tsdb(event: Event, workdir: Path, rules: Path | None, eval_interval: str = "30s") -> Path:
    """Build ``workdir/data``: the raw series of ``event`` plus, group by group, the backfilled rules.

    Rules are evaluated every ``eval_interval`` from the event start to its end (inclusive).
    ``rules=None`` gives the raw series only. Timings and counts go to ``workdir/bench.json``.
    """
    return build_tsdb_from(
        lambda path: write_openmetrics(event, path), event.params.start, event.params.end, workdir, rules,
        eval_interval,
    )  # fmt: skip


def build_tsdb_from(
    write: Callable[[Path], int],
    start_s: float,
    end_s: float,
    workdir: Path,
    rules: Path | None,
    eval_interval: str = "30s",
) -> Path:
    """Build ``workdir/data`` from the OpenMetrics text ``write(path)`` writes (returning its sample
    count), then backfill ``rules`` group by group, evaluated every ``eval_interval`` from
    ``start_s`` to ``end_s`` (unix s, inclusive)."""
    data = workdir / "data"
    if data.exists():
        raise BenchError(f"{data} already exists; build into a fresh work folder")
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "bench.log"
    step = parse_duration(eval_interval)
    report: dict[str, Any] = {"eval_interval": eval_interval, "timings_s": {}, "groups": []}
    clock = began = time.perf_counter()

    raw = workdir / "raw.om"
    report["samples"] = write(raw)
    report["timings_s"]["openmetrics"] = round(time.perf_counter() - clock, 3)
    clock = time.perf_counter()
    _run([tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", raw.name, data.name], workdir, log)
    raw.unlink()  # tens of MB, and the blocks hold the same samples
    report["timings_s"]["promtool_openmetrics"] = round(time.perf_counter() - clock, 3)

    groups = split_groups(rules.read_text(encoding="utf-8")) if rules is not None else []
    start = math.floor(start_s)
    end = math.ceil(end_s + step)  # promtool leaves the end out
    for i, text in enumerate(groups, start=1):
        clock = time.perf_counter()
        # relative names: promtool offsets each group's timestamps by a hash of group name and
        # file name, so a fixed name keeps the recorded timestamps the same from run to run
        name = f"rules-{i}.yml"
        (workdir / name).write_text(text, encoding="utf-8")
        out = workdir / f"rules-{i}-blocks"
        with PromServer(workdir).start(data) as server:
            ready_s = time.perf_counter() - clock
            _run(
                [
                    tool("promtool"),
                    "tsdb",
                    "create-blocks-from",
                    "rules",
                    f"--url={server.url}",
                    f"--start={start}",
                    f"--end={end}",
                    f"--eval-interval={eval_interval}",
                    f"--output-dir={out.name}",
                    name,
                ],
                workdir,
                log,
            )
        blocks = [b for b in sorted(out.iterdir()) if (b / "meta.json").exists()] if out.exists() else []
        for block in blocks:
            shutil.move(block, data / block.name)
        report["groups"].append(
            {
                "file": name,
                "blocks": len(blocks),
                "server_ready_s": round(ready_s, 3),
                "seconds": round(time.perf_counter() - clock, 3),
            }
        )
    report["timings_s"]["total"] = round(time.perf_counter() - began, 3)
    (workdir / "bench.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return data
