"""A :class:`~ocq_batch.pull.source.Source` answering from a Prometheus or Thanos server.

The requests of the plan (:func:`~ocq_batch.pull.api.plan_requests`: the stored samples of
each plain selector chunk by chunk, then the expressions) are fetched by a small thread
pool through one :class:`~ocq_batch.pull.client.PromClient`, and yielded in plan order,
at most ``concurrency`` requests in flight and twice as many bodies held. With a
recorder, each body is also written to a replay folder (gzipped and written to its file
in the worker thread; the main thread appends its index line), and chunks already
recorded and settled are read back instead of fetched again: an interrupted run resumes
where it stopped. A chunk the server refuses for holding too many samples is split in two
(and again, down to one second), each half recorded as a request of its own.
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
from ocq_batch.errors import ChunkTooLargeError, ReplayError, TransientError
from ocq_batch.pull.api import DEFAULT_CHUNK_S, Request, check_body, plan_requests
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
    request: Request
    future: Future[list[tuple[Request, _Fetched]]] | None  # None: read back from the replay folder


MIN_SPLIT_S = 1.0  # a chunk too large for the server is halved down to this length


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
        step_s: float = 30.0,
        chunk_s: float = DEFAULT_CHUNK_S,
    ) -> None:
        self.options = options
        self.step_s, self.chunk_s = step_s, chunk_s  # the expressions' grid; the raw chunks' length
        self._owns_client = client is None
        self.client = client or PromClient(options, transport=transport, sleep=sleep)
        self.label = self.client.label
        self.identity = self.label  # what its recordings' header names (a replay counts as the server)
        self.allow_partial = options.allow_partial  # a recorded partial answer: the loader decides
        self.recorder = recorder
        self.progress = progress
        self.warnings: list[str] = []

    def close(self) -> None:
        """Close the client if this source created it."""
        if self._owns_client:
            self.client.close()

    def requests(self, specs: Sequence[QuerySpec], start: float, end: float) -> list[Request]:
        """The requests of the window (recorded ones included)."""
        return plan_requests(list(specs), start, end, self.step_s, self.chunk_s, self.options.max_points)

    def plan(self, specs: Sequence[QuerySpec], start: float, end: float) -> int:
        """The number of requests the window needs (recorded ones included)."""
        return len(self.requests(specs, start, end))

    def responses(self, specs: Sequence[QuerySpec], start: float, end: float) -> Iterator[Response]:
        """Every request's response, in plan order, at most ``concurrency`` requests in flight."""
        tasks = self.requests(specs, start, end)
        rec = self.recorder
        recorded: dict[tuple[str, float, float, float], Entry] = {}
        reader: ReplayReader | None = None
        if rec is not None and rec.has_any():
            reader = ReplayReader(rec.folder)
            # a partial answer recorded with --allow-partial is fetched again without it
            recorded = {
                (e.query, e.start, e.end, e.step): e
                for e in reader.entries
                if not self.options.refetch
                and _settled(e, self.options.settle_s)
                and (self.options.allow_partial or not e.partial)
            }
        cancel = threading.Event()
        window = max(1, self.options.concurrency) * 2  # bounds the bodies held in memory
        pool = ThreadPoolExecutor(max_workers=max(1, self.options.concurrency), thread_name_prefix="ocq-http")
        queue: deque[_Slot] = deque()
        pending = iter(tasks)
        try:
            while True:
                while len(queue) < window and (task := next(pending, None)) is not None:
                    future = None
                    if task.key not in recorded:
                        future = pool.submit(self._fetch, task, recorded, cancel)
                    queue.append(_Slot(task, future))
                if not queue:
                    return
                slot = queue[0]
                if slot.future is None:
                    assert reader is not None
                    entry = recorded[slot.request.key]
                    body = self._read_recorded(reader, entry)  # checked against entry.sha256
                    warnings, scanned = self._check_replayed(body, slot.request.spec.query)
                    parts = [(slot.request, _Fetched(body, warnings, scanned, entry.sha256, None))]
                else:
                    parts = slot.future.result()
                    for request, fetched in parts:
                        self._record(request, fetched)
                queue.popleft()
                for request, fetched in parts:
                    self.warnings.extend(fetched.warnings)
                    # a chunk recorded by an interrupted run came from this same server:
                    # same origin, so a resumed run leaves the store exactly as an uninterrupted one
                    yield Response(
                        request.spec, request.start, request.end, request.step, fetched.body, self.label,
                        fetched.scanned, fetched.sha256,
                    )  # fmt: skip
                if self.progress is not None:
                    self.progress(1)
        finally:
            cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
            for slot in queue:  # keep what finished, so the next run fetches only the rest
                f = slot.future
                if f is not None and f.done() and not f.cancelled() and f.exception() is None:
                    for request, fetched in f.result():
                        self._record(request, fetched)

    def _fetch(
        self,
        request: Request,
        recorded: dict[tuple[str, float, float, float], Entry],
        cancel: threading.Event,
    ) -> list[tuple[Request, _Fetched]]:
        """The answer to ``request`` (in a worker thread): one part, or the parts of a raw chunk
        the server found too large, split in halves (recorded halves are read back)."""
        query = request.spec.query
        try:
            if request.raw:
                body, warnings, scanned = self.client.fetch_raw(query, request.start, request.end, cancel)
            else:
                body, warnings, scanned = self.client.fetch_range(
                    query, request.start, request.end, request.step, cancel
                )
        except ChunkTooLargeError:
            if not request.raw or request.end - request.start <= MIN_SPLIT_S:
                raise
            middle = round((request.start + request.end) * 500) / 1000  # on a whole ms
            halves = [
                Request(request.spec, request.start, middle, request.step),
                Request(request.spec, middle, request.end, request.step),
            ]
            parts: list[tuple[Request, _Fetched]] = []
            for half in halves:
                entry = recorded.get(half.key)
                if entry is not None and self.recorder is not None:
                    body = ReplayReader(self.recorder.folder).read(entry)
                    warnings, scanned = self._check_replayed(body, query)
                    parts.append((half, _Fetched(body, warnings, scanned, entry.sha256, None)))
                else:
                    parts += self._fetch(half, recorded, cancel)
            return parts
        sha = hashlib.sha256(body).hexdigest()
        packed = None
        if self.recorder is not None:
            packed = pack(body)
            # the file, durably, here in the worker; the main thread only appends its index line
            self.recorder.store(query, request.start, request.end, request.step, packed, sha)
        return [(request, _Fetched(body, warnings, scanned, sha, packed))]

    def _record(self, request: Request, fetched: _Fetched) -> None:
        """Index a fetched answer in the replay folder (its file is written already); nothing
        without a recorder, or for an answer read back from the folder."""
        if self.recorder is None or fetched.packed is None:
            return
        self.recorder.add(
            request.spec.query,
            request.start,
            request.end,
            request.step,
            fetched.body,
            key=request.spec.key,
            replace=True,
            packed=fetched.packed,
            sha256=fetched.sha256,
            stored=True,  # the worker wrote the file (_fetch)
            warnings=tuple(w.removeprefix(f"{request.spec.query}: ") for w in fetched.warnings),
        )

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
            warnings, scanned = check_body(body, query, frozenset({"matrix"}), True)
        except TransientError as exc:
            raise ReplayError(
                f"the recorded answer to {query!r} is unusable ({exc.problem}); record it again"
            ) from None
        return [f"{query}: {w}" for w in warnings], scanned
