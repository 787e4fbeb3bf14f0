"""Sources of ``query_range`` responses: a recorded replay folder, or (see ``http.py``) a server."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ocq_batch.pull.queries import QuerySpec
from ocq_batch.pull.replay import ReplayReader
from ocq_batch.pull.scan import Scanned


@dataclass(frozen=True)
class Response:
    """One ``query_range`` response body for ``spec`` over ``[start, end]`` (unix s) at ``step``.

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

    def body_sha256(self) -> str:
        """The body's sha256 (hex): the source's, or computed here."""
        return self.sha256 or hashlib.sha256(self.body).hexdigest()


class Source(Protocol):
    """Where responses come from. ``label`` names it without any credential."""

    label: str

    def plan(self, specs: Sequence[QuerySpec], start: float, end: float, step: float) -> int:
        """Check the source can answer every query over the window; return the request count."""
        ...

    def responses(
        self, specs: Sequence[QuerySpec], start: float, end: float, step: float
    ) -> Iterator[Response]:
        """Yield every response of the plan, one per request."""
        ...


class ReplaySource:
    """Answers from a replay folder recorded by ``ocq-batch fetch`` or ``simulate``."""

    def __init__(self, folder: Path) -> None:
        self.reader = ReplayReader(folder)
        self.label = f"replay:{folder}"

    def plan(self, specs: Sequence[QuerySpec], start: float, end: float, step: float) -> int:
        return sum(len(self.reader.entries_for(s.query, start, end, step)) for s in self._present(specs))

    def _present(self, specs: Sequence[QuerySpec]) -> list[QuerySpec]:
        """Required specs, and optional ones only when the replay recorded them."""
        recorded = {e.query for e in self.reader.entries}
        return [s for s in specs if not s.optional or s.query in recorded]

    def responses(
        self, specs: Sequence[QuerySpec], start: float, end: float, step: float
    ) -> Iterator[Response]:
        for spec in self._present(specs):
            for entry, body in self.reader.iter_bodies(spec.query, start, end, step):
                # read() checked the body against entry.sha256
                yield Response(
                    spec, entry.start, entry.end, entry.step, body, self.label, sha256=entry.sha256
                )
