"""A simulated event's answers, written as a replay folder (what ``export --source`` reads).

Every plain-selector query is answered as a server answers an instant query of a range
selector: the stored samples of each chunk ``(start, end]`` (:func:`~ocq_batch.pull.api.raw_chunks`),
at their own times, byte for byte as :func:`~ocq_batch.sim.promjson.matrix_body` writes
them. Bodies are streamed one series at a time, so memory does not grow with the number of
participants. The live board's queries need a rule engine: ``scripts/record-demo`` records
them from a real Prometheus.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ocq_batch.pull.api import DEFAULT_CHUNK_S, RAW, raw_chunks
from ocq_batch.pull.queries import QuerySpec, plan_queries
from ocq_batch.pull.replay import ReplayWriter
from ocq_batch.sim.event import Event, Observer
from ocq_batch.sim.promjson import format_ts, format_value, series_json
from ocq_batch.timeutil import from_epoch, iso


class _Entries:
    """The ``[<ts>,"<value>"]`` texts of one set of instants, as :func:`matrix_body` writes them.

    Series sampled at the same instants (every completion series at the ruler's evaluations,
    every component of a cluster at its collections) share one table of texts per value, so
    a series' entries are gathered with numpy instead of formatted one by one.
    """

    def __init__(self, times: np.ndarray) -> None:
        self.times = times
        self.heads = [b"[" + format_ts(float(t)).encode() + b',"' for t in times]
        self.width = len(self.heads[0]) if self.heads and len({len(h) for h in self.heads}) == 1 else 0
        self._tables: dict[float, np.ndarray] = {}

    def _table(self, value: float) -> np.ndarray:
        table = self._tables.get(value)
        if table is None:
            tail = format_value(value).encode() + b'"],'
            table = np.array([h + tail for h in self.heads], dtype=f"S{self.width + len(tail)}")
            self._tables[value] = table
        return table

    def join(self, values: np.ndarray, index: np.ndarray) -> bytes:
        """The comma-separated entries of ``values`` at the instants ``index``."""
        uniq, inverse = np.unique(values[index], return_inverse=True)
        texts = [format_value(float(u)).encode() for u in uniq]
        if self.width and len({len(t) for t in texts}) == 1:
            tables = np.stack([self._table(float(u)) for u in uniq])
            return tables[inverse, index].tobytes()[:-1]
        return b",".join(self.heads[i] + texts[k] + b'"]' for i, k in zip(index, inverse, strict=True))


class _Texts:
    """One :class:`_Entries` per set of instants (by identity of the array the observer returns)."""

    def __init__(self) -> None:
        self._by_times: dict[int, tuple[np.ndarray, _Entries]] = {}

    def entries(self, times: np.ndarray, full: np.ndarray) -> tuple[_Entries, np.ndarray]:
        """The texts of ``full`` (the instants ``times`` were taken from) and where ``times`` sit in it."""
        cached = self._by_times.get(id(full))
        if cached is None or cached[0] is not full:
            cached = (full, _Entries(full))
            self._by_times[id(full)] = cached
        return cached[1], np.searchsorted(full, times)


def iter_body(observer: Observer, spec: QuerySpec, lo: float, hi: float, texts: _Texts) -> Iterator[bytes]:
    """The body answering ``spec``'s stored samples in ``(lo, hi]``, one series at a time.

    Series without a sample in the range are left out, as Prometheus does.
    """
    yield b'{"status":"success","data":{"resultType":"matrix","result":['
    first = True
    for labels, at, values in observer.series_arrays(spec):
        keep = np.flatnonzero((at > lo) & (at <= hi))
        if not len(keep):
            continue
        full = _instants_of(observer, spec, labels, at)
        entries, index = texts.entries(at[keep], full)
        sample_values = np.zeros(len(full))
        sample_values[index] = values[keep]
        yield (b"" if first else b",") + series_json(labels, entries.join(sample_values, index))
        first = False
    yield b"]}}"


def _instants_of(observer: Observer, spec: QuerySpec, labels: dict[str, str], at: np.ndarray) -> np.ndarray:
    """The full set of instants a series' samples were taken from: the ruler's evaluations for a
    recorded rule, its cluster's collections for a component or a raw series."""
    if spec.component in ("completion", "participants"):
        return observer.rule_times
    cluster = labels.get(observer.event.config.queries.cluster_label, "")
    return observer.collections(cluster)


def write_replay(event: Event, folder: Path, chunk_s: float = DEFAULT_CHUNK_S) -> int:
    """Record the simulated hub's answer to every plain-selector query (the raw series behind the
    components included); returns the file count.

    Each query's range is split like a server's requests (:func:`~ocq_batch.pull.api.raw_chunks`)
    and each body is streamed to its file one series at a time.
    """
    p = event.params
    writer = ReplayWriter(folder, source=f"ocq-batch simulate --seed {p.seed}")
    observer = Observer(event)
    texts = _Texts()
    n = 0
    for spec in plan_queries(event.config):
        if spec.mode != "raw" or spec.component.startswith("live_"):  # the live board needs a rule engine
            continue
        for a, b in raw_chunks(p.start, p.end, chunk_s):
            body = iter_body(observer, spec, a, b, texts)
            # a fixed recording time keeps the demo files byte-identical across runs
            writer.add_stream(spec.query, a, b, RAW, body, key=spec.key, recorded_at=iso(from_epoch(p.end)))
            n += 1
    return n
