"""Sources of Prometheus API responses: a recorded replay folder, or (``pull/server.py``) a server.

Every source answers the same plan (:func:`~ocq_batch.pull.api.plan_requests`): the stored
samples of each plain selector, chunk by chunk, and the ``query_range`` answers of each
expression. A response carries its request's range so that the loader keeps exactly the
samples of ``(start, end]``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ocq_batch.errors import OcqError, ReplayError
from ocq_batch.pull.api import RAW
from ocq_batch.pull.queries import QuerySpec
from ocq_batch.pull.replay import ReplayReader
from ocq_batch.pull.scan import Scanned
from ocq_batch.resources import demo_dir

DEMO = "the bundled demo event"  # the source the bundled demo counts as, wherever it is installed


@dataclass(frozen=True)
class Response:
    """One response body for ``spec``: its stored samples in ``(start, end]`` (``step`` 0, raw), or
    its ``query_range`` over ``[start, end]`` at ``step`` (unix s).

    ``scanned`` is the body already read by :func:`ocq_batch.pull.scan.scan_matrix` when the
    source checked it that way, and ``sha256`` the body's digest when the source computed or
    verified it: the loader does not read the body again for either.
    """

    spec: QuerySpec
    start: float
    end: float
    step: float
    body: bytes
    origin: str
    scanned: Scanned | None = field(default=None, compare=False, repr=False)
    sha256: str | None = field(default=None, compare=False, repr=False)

    @property
    def raw(self) -> bool:
        return self.step == RAW

    def body_sha256(self) -> str:
        """The body's sha256 (hex): the source's, or computed here."""
        return self.sha256 or hashlib.sha256(self.body).hexdigest()


class Source(Protocol):
    """Where responses come from. ``label`` names it without any credential, and ``identity``
    names the source of the data, which a store belongs to (a server's redacted URL; a replay
    folder counts as the source it was recorded from)."""

    label: str
    identity: str
    allow_partial: bool  # whether an answer with warnings (partial data) may be loaded

    def plan(self, specs: Sequence[QuerySpec], start: float, end: float) -> int:
        """Check the source can answer every query over the window; return the request count."""
        ...

    def responses(self, specs: Sequence[QuerySpec], start: float, end: float) -> Iterator[Response]:
        """Yield every response of the plan, one per request."""
        ...


class ReplaySource:
    """Answers from a replay folder recorded by ``ocq-batch fetch`` or ``simulate``."""

    def __init__(self, folder: Path, identity: str | None = None, allow_partial: bool = False) -> None:
        """``identity``: the source the folder counts as (default: the one its header names, or
        the folder itself when it names none); ``allow_partial``: whether answers recorded
        partial (with --allow-partial) may be read."""
        self.reader = ReplayReader(folder)
        self.label = f"replay:{folder}"
        recorded = self.reader.source or f"replay:{folder.resolve()}"
        self.identity = identity or (DEMO if _is_demo(folder) else recorded)
        self.allow_partial = allow_partial

    def plan(self, specs: Sequence[QuerySpec], start: float, end: float) -> int:
        """The request count; SourceError when an answer the window needs was recorded partial
        and partial answers are not allowed."""
        reader = self.reader
        entries = []
        for spec in self._present(specs):
            entries += reader.entries_for(spec.query, start, end, spec.mode == "raw")
        partial = [e for e in entries if e.partial]
        if partial and not self.allow_partial:
            first = partial[0]
            raise ReplayError(
                f"{len(partial)} recorded answer(s) in {reader.folder} are partial (e.g. {first.query!r}: "
                f"{first.warnings[0]}); run with --allow-partial, or --refetch against the server"
            )
        return len(entries)

    def _present(self, specs: Sequence[QuerySpec]) -> list[QuerySpec]:
        """Required specs, and optional ones only when the replay recorded them."""
        recorded = {e.query for e in self.reader.entries}
        return [s for s in specs if not s.optional or s.query in recorded]

    def responses(self, specs: Sequence[QuerySpec], start: float, end: float) -> Iterator[Response]:
        for spec in self._present(specs):
            for entry, body in self.reader.iter_bodies(spec.query, start, end, spec.mode == "raw"):
                # read() checked the body against entry.sha256
                yield Response(
                    spec, entry.start, entry.end, entry.step, body, self.label, sha256=entry.sha256
                )


def _is_demo(folder: Path) -> bool:
    """Whether ``folder`` is the bundled demo event."""
    try:
        return folder.resolve() == demo_dir().resolve()
    except OcqError:  # a zipped install has no demo folder
        return False
