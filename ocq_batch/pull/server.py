"""A :class:`~ocq_batch.pull.source.Source` answering from a Prometheus or Thanos server.

The chunks of every query (:func:`~ocq_batch.pull.api.chunk_range`) are fetched by a small
thread pool through one :class:`~ocq_batch.pull.client.PromClient`, and yielded in plan order,
at most ``concurrency`` requests in flight and twice as many bodies held. With a
recorder, each body is also written to a replay folder (gzipped and written to its file
in the worker thread; the main thread appends its index line), and chunks already
recorded and settled are read back instead of fetched again: an interrupted run resumes
where it stopped.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import httpx

from ocq_batch.closing import Closing
from ocq_batch.errors import ReplayError, TransientError
from ocq_batch.pull.api import check_body, chunk_range
from ocq_batch.pull.client import PromClient
from ocq_batch.pull.http_options import HttpOptions
from ocq_batch.pull.queries import QuerySpec
from ocq_batch.pull.replay import Entry, ReplayReader, ReplayWriter, pack
from ocq_batch.pull.scan import Scanned
from ocq_batch.pull.source import Response


def _settled(entry: Entry, settle_s: float) -> bool:
    """A recorded chunk is final when it was recorded ``settle_s`` after its end.

    A chunk recorded while the event was still running (or before late data reached
    the hub: collection interval plus lookback) is fetched again, never reused.
    """
    try:
        at = datetime.fromisoformat(entry.recorded_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return False
    return at >= entry.end + settle_s


@dataclass(frozen=True)
class _Fetched:
    """One chunk's answer as a worker thread leaves it: checked, scanned, hashed, and when
    recording packed and written to its file in the replay folder (``packed`` is then set).
    gzip, sha256 and the file's write release the GIL: they overlap the main thread's
    loading. The recorder and the loader both use this one digest."""

    body: bytes
    warnings: list[str]
    scanned: Scanned | None
    sha256: str
    packed: bytes | None


@dataclass
class _Slot:
    spec: QuerySpec
    start: float
    end: float
    future: Future[_Fetched] | None  # None: read back from the replay folder
    recorded: bool = False


class HttpSource(Closing):
    """A :class:`~ocq_batch.pull.source.Source` answering from a server, chunk by chunk.

    With a ``recorder``, every fetched body is recorded and chunks already in
    its folder are read back instead of refetched, so a failed fetch resumes.
    """

    def __init__(
        self,
        options: HttpOptions,
        *,
        recorder: ReplayWriter | None = None,
        progress: Callable[[int], None] | None = None,
        client: PromClient | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self._owns_client = client is None
        self.client = client or PromClient(options, transport=transport, sleep=sleep)
        self.label = self.client.label
        self.recorder = recorder
        self.progress = progress
        self.warnings: list[str] = []

    def close(self) -> None:
        """Close the client if this source created it."""
        if self._owns_client:
            self.client.close()

    def plan(self, specs: Sequence[QuerySpec], start: float, end: float, step: float) -> int:
        """The number of chunk requests the window needs (recorded ones included)."""
        return len(specs) * len(chunk_range(start, end, step, self.options.max_points))

    def responses(
        self, specs: Sequence[QuerySpec], start: float, end: float, step: float
    ) -> Iterator[Response]:
        """Every chunk's response, in spec then chunk order, at most ``concurrency`` requests in flight."""
        chunks = chunk_range(start, end, step, self.options.max_points)
        tasks = [(spec, a, b) for spec in specs for a, b in chunks]
        rec = self.recorder
        recorded: dict[tuple[str, float, float, float], Entry] = {}
        reader: ReplayReader | None = None
        if rec is not None and any(rec.has(s.query, a, b, step) for s, a, b in tasks):
            reader = ReplayReader(rec.folder)
            recorded = {
                (e.query, e.start, e.end, e.step): e
                for e in reader.entries
                if not self.options.refetch and _settled(e, self.options.settle_s)
            }
        cancel = threading.Event()
        window = max(1, self.options.concurrency) * 2  # bounds the bodies held in memory
        pool = ThreadPoolExecutor(max_workers=max(1, self.options.concurrency), thread_name_prefix="ocq-http")
        queue: deque[_Slot] = deque()
        pending = iter(tasks)
        try:
            while True:
                while len(queue) < window and (task := next(pending, None)) is not None:
                    spec, a, b = task
                    future = None
                    if (spec.query, a, b, step) not in recorded:
                        future = pool.submit(self._fetch, spec.query, a, b, step, cancel)
                    queue.append(_Slot(spec, a, b, future))
                if not queue:
                    return
                slot = queue[0]
                if slot.future is None:
                    assert reader is not None
                    entry = recorded[(slot.spec.query, slot.start, slot.end, step)]
                    body = self._read_recorded(reader, entry)  # checked against entry.sha256
                    sha = entry.sha256
                    warnings, scanned = self._check_replayed(body, slot.spec.query)
                else:
                    fetched = slot.future.result()
                    body, warnings, scanned = fetched.body, fetched.warnings, fetched.scanned
                    sha = fetched.sha256
                    self._record(slot, step, fetched)
                # a chunk recorded by an interrupted run came from this same server:
                # same origin, so a resumed run leaves the store exactly as an uninterrupted one
                origin = self.label
                queue.popleft()
                self.warnings.extend(warnings)
                if self.progress is not None:
                    self.progress(1)
                yield Response(slot.spec, slot.start, slot.end, step, body, origin, scanned, sha)
        finally:
            cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
            for slot in queue:  # keep what finished, so the next run fetches only the rest
                f = slot.future
                if f is not None and f.done() and not f.cancelled() and f.exception() is None:
                    self._record(slot, step, f.result())

    def _fetch(self, query: str, start: float, end: float, step: float, cancel: threading.Event) -> _Fetched:
        body, warnings, scanned = self.client.fetch_range(query, start, end, step, cancel)
        sha = hashlib.sha256(body).hexdigest()
        packed = None
        if self.recorder is not None:
            packed = pack(body)
            # the file, durably, here in the worker; the main thread only appends its index line
            self.recorder.store(query, start, end, step, packed, sha)
        return _Fetched(body, warnings, scanned, sha, packed)

    def _record(self, slot: _Slot, step: float, fetched: _Fetched) -> None:
        if self.recorder is not None and not slot.recorded:
            self.recorder.add(
                slot.spec.query,
                slot.start,
                slot.end,
                step,
                fetched.body,
                key=slot.spec.key,
                replace=True,
                packed=fetched.packed,
                sha256=fetched.sha256,
                stored=fetched.packed is not None,  # the worker wrote the file (_fetch)
            )
            slot.recorded = True

    def _read_recorded(self, reader: ReplayReader, entry: Entry) -> bytes:
        try:
            return reader.read(entry)
        except ReplayError:  # lost or damaged since an earlier run recorded it
            raise ReplayError(
                f"the recorded answer to {entry.query!r} in {reader.folder / entry.file} is missing or "
                "damaged; run the same command again with --refetch to fetch it anew"
            ) from None

    def _check_replayed(self, body: bytes, query: str) -> tuple[list[str], Scanned | None]:
        try:
            warnings, scanned = check_body(body, query, frozenset({"matrix"}), self.options.allow_partial)
        except TransientError as exc:
            raise ReplayError(
                f"the recorded answer to {query!r} is unusable ({exc.problem}); record it again"
            ) from None
        return [f"{query}: {w}" for w in warnings], scanned
