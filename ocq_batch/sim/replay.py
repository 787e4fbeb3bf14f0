"""A simulated event's ``query_range`` answers, written as a replay folder.

Each body is built as Prometheus would send it, byte for byte as
:func:`~ocq_batch.sim.promjson.matrix_body` writes it, and streamed one series at a time, so
memory does not grow with the number of participants.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson

from ocq_batch.pull.api import chunk_range
from ocq_batch.pull.queries import QuerySpec, plan_queries
from ocq_batch.pull.replay import ReplayWriter
from ocq_batch.sim.event import Event, Observer
from ocq_batch.sim.promjson import format_ts, format_value
from ocq_batch.timeutil import from_epoch, iso


class _Entries:
    """The ``[<ts>,"<value>"]`` texts of one grid, exactly as :func:`matrix_body` writes them.

    When every entry has the same width (whole-second timestamps of one length, one-character
    values) a series' entries are gathered with numpy and joined without a Python object each.
    """

    def __init__(self, grid: np.ndarray) -> None:
        self.heads = [b"[" + orjson.dumps(format_ts(float(t))) + b',"' for t in grid]
        self.width = len(self.heads[0]) if len({len(h) for h in self.heads}) == 1 else 0
        self._tables: dict[float, np.ndarray] = {}

    def _table(self, value: float) -> np.ndarray:
        table = self._tables.get(value)
        if table is None:
            tail = format_value(value).encode() + b'"],'
            table = np.array([h + tail for h in self.heads], dtype=f"S{self.width + len(tail)}")
            self._tables[value] = table
        return table

    def join(self, values: np.ndarray, index: np.ndarray) -> bytes:
        """The comma-separated entries of ``values`` at grid points ``index``."""
        uniq, inverse = np.unique(values[index], return_inverse=True)
        texts = [format_value(float(u)).encode() for u in uniq]
        if self.width and len({len(t) for t in texts}) == 1:
            tables = np.stack([self._table(float(u)) for u in uniq])
            return tables[inverse, index].tobytes()[:-1]
        return b",".join(self.heads[i] + texts[k] + b'"]' for i, k in zip(index, inverse, strict=True))


def series_json(labels: dict[str, str], entries: bytes) -> bytes:
    """One series of a matrix body, byte for byte as :func:`matrix_body` writes it."""
    return b'{"metric":' + orjson.dumps(labels) + b',"values":[' + entries + b"]}"


def iter_body(observer: Observer, spec: QuerySpec, lo: int, hi: int, entries: _Entries) -> Iterator[bytes]:
    """The ``query_range`` body for ``spec`` over grid points ``lo..hi``, one series at a time.

    Series without a point in the range are left out, as Prometheus does.
    """
    yield b'{"status":"success","data":{"resultType":"matrix","result":['
    first = True
    for labels, values, keep in observer.series_arrays(spec):
        index = lo + np.flatnonzero(keep[lo : hi + 1])
        if not len(index):
            continue
        yield (b"" if first else b",") + series_json(labels, entries.join(values, index))
        first = False
    yield b"]}}"


def write_replay(event: Event, folder: Path, max_points: int = 11000) -> int:
    """Record the simulated hub's answer to every configured query; returns the file count.

    Each query's range is split like a server's (:func:`~ocq_batch.pull.api.chunk_range`, at most
    ``max_points`` points per series and request) and each body is streamed to its file one
    series at a time, so memory does not grow with the number of participants.
    """
    p = event.params
    writer = ReplayWriter(folder, source=f"ocq-batch simulate --seed {p.seed}")
    observer = Observer(event)
    entries = _Entries(observer.grid)
    end = float(observer.grid[-1])
    n = 0
    for spec in plan_queries(event.config):
        if spec.optional:  # the live board needs a rule engine: recorded by scripts/record-demo
            continue
        for a, b in chunk_range(p.start, end, p.step_s, max_points):
            lo, hi = round((a - p.start) / p.step_s), round((b - p.start) / p.step_s)
            body = iter_body(observer, spec, lo, hi, entries)
            # a fixed recording time keeps the demo files byte-identical across runs
            writer.add_stream(
                spec.query, a, b, p.step_s, body, key=spec.key, recorded_at=iso(from_epoch(p.end))
            )
            n += 1
    return n
