"""The replay format: recorded Prometheus API responses, replayable without a server.

A replay folder holds::

    replay.json      {"format": "ocq-replay", "version": 2, "source": "<where it was recorded>"}
    index.jsonl      one JSON line per recorded response (query, start, end, step, file, sha256, ...;
                     ``warnings`` when the answer was partial, recorded with --allow-partial)
    responses/       the response bodies, byte for byte as the server sent them, gzip-compressed

``step`` 0 marks the stored samples of ``(start, end]`` (the answer to an instant query of a
range selector, see :mod:`ocq_batch.pull.api`); a positive step a ``query_range`` of an
expression over ``[start, end]``. Version 1 folders hold ``query_range`` grid values of
every query (not the samples the TSDB stored): they are refused, saying how to record again.

Each response is written to a temporary name, renamed into place, and only then
appended to the index, so an interrupted recording leaves a valid folder and the
next run records only what is missing (:meth:`ReplayWriter.has`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ocq_batch import faultpoint
from ocq_batch.durable import fsync_dir
from ocq_batch.errors import ConflictError, ReplayError, WindowError
from ocq_batch.oserror import naming
from ocq_batch.timeutil import from_epoch, iso

FORMAT = "ocq-replay"
VERSION = 2
HEADER = "replay.json"
INDEX = "index.jsonl"
# zlib's default: a quarter larger than level 9 on these bodies, and seven times faster to write
COMPRESS_LEVEL = 6


@dataclass(frozen=True)
class Entry:
    """One recorded response: the query, its range and step (unix seconds), and its file."""

    query: str
    start: float
    end: float
    step: float
    file: str
    sha256: str
    key: str = ""
    recorded_at: str = ""
    warnings: tuple[str, ...] = ()  # the server's warnings: a partial answer (--allow-partial)

    @property
    def partial(self) -> bool:
        return bool(self.warnings)

    def line(self) -> str:
        """The entry's index line (``warnings`` only when there are some)."""
        fields = {k: v for k, v in self.__dict__.items() if k != "warnings"}
        if self.warnings:
            fields["warnings"] = list(self.warnings)
        return json.dumps(fields, sort_keys=True) + "\n"


def request_id(query: str, start: float, end: float, step: float) -> str:
    """A stable name for one request (same request, same file)."""
    blob = json.dumps([query, start, end, step]).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


class ReplayWriter:
    """Appends responses to a replay folder (created if missing)."""

    def __init__(self, folder: Path, source: str, other: str = "record into another folder") -> None:
        """Open ``folder`` for recording answers from ``source``; the caller holds its lock (an
        export's ``--out``, a fetch's folder), so the temporary files of a killed run found there
        are removed. A folder recorded from another source is refused (ConflictError, saying
        ``other``: what to do instead): one folder, one source."""
        self.folder = folder
        header = folder / HEADER
        if header.exists():
            recorded = str(_read_header(folder).get("source", ""))
            if recorded != source:
                raise ConflictError(
                    f"replay folder {folder} holds answers recorded from {recorded or 'an unnamed source'}, "
                    f"not {source}; {other}"
                )
        (folder / "responses").mkdir(parents=True, exist_ok=True)
        remove_temporaries(folder)
        if not header.exists():
            _atomic_write(
                header, json.dumps({"format": FORMAT, "version": VERSION, "source": source}).encode()
            )
        # a line an interrupted run cut short, dropped: its answer is fetched again (None: none)
        self.repaired = _repair_index(folder / INDEX)
        self._known = {(e.query, e.start, e.end, e.step): e for e in _read_index(folder)}

    def has_any(self) -> bool:
        """True when the folder records any response already."""
        return bool(self._known)

    def has(self, query: str, start: float, end: float, step: float) -> bool:
        """True when this exact request is already recorded."""
        return (query, start, end, step) in self._known

    def entry(self, query: str, start: float, end: float, step: float) -> Entry | None:
        """The latest recording of this exact request, if any."""
        return self._known.get((query, start, end, step))

    def add(
        self,
        query: str,
        start: float,
        end: float,
        step: float,
        body: bytes,
        key: str = "",
        recorded_at: str | None = None,
        replace: bool = False,
        packed: bytes | None = None,
        sha256: str | None = None,
        stored: bool = False,
        warnings: tuple[str, ...] = (),
    ) -> Entry:
        """Record one response body; idempotent for the same request.

        With ``replace``, a newer answer to a request already recorded is added and
        wins over the older one (the older file stays, its index line is shadowed).
        ``packed`` is ``pack(body)`` and ``sha256`` the body's digest when the caller
        computed them already (e.g. in a worker thread, while the main thread loads);
        ``stored`` says :meth:`store` already wrote its file, so only the index line is left;
        ``warnings`` marks a partial answer (the server's warnings, without the query).
        """
        sha = sha256 or hashlib.sha256(body).hexdigest()
        entry = self._entry(query, start, end, step, sha, key, recorded_at, warnings)
        old = self.entry(query, start, end, step)
        if old is not None and (not replace or old.sha256 == sha):
            if replace and not self._intact(old):  # the same answer again: repair a lost or damaged file
                _atomic_write(self.folder / old.file, packed if packed is not None else pack(body))
            return old
        if not stored:
            _atomic_write(self.folder / entry.file, packed if packed is not None else pack(body))
        return self._index(entry)

    def store(self, query: str, start: float, end: float, step: float, packed: bytes, sha256: str) -> None:
        """Write the file of one answer (``pack(body)``, ``sha256`` its body's digest), durably,
        without indexing it: :meth:`add` with ``stored=True`` does that afterwards.

        Safe from several threads at once, as each answer to each request has its own file:
        the fetch's worker threads write while the main thread loads. A file never indexed
        (the run stopped first) is written again, the same, when its request is fetched again.
        """
        _atomic_write(self.folder / _file_name(query, start, end, step, sha256), packed)

    def add_stream(
        self,
        query: str,
        start: float,
        end: float,
        step: float,
        pieces: Iterable[bytes],
        key: str = "",
        recorded_at: str | None = None,
    ) -> Entry:
        """Record one response body given as consecutive pieces, never held whole in memory.

        Same file and index line as :meth:`add` with ``b"".join(pieces)``; a request
        already recorded is kept (``pieces`` is then not read).
        """
        old = self.entry(query, start, end, step)
        if old is not None:
            return old
        tmp = self.folder / "responses" / f".stream-{os.getpid()}.tmp"
        digest = hashlib.sha256()
        try:
            with (
                naming(tmp),
                open(tmp, "wb") as raw,
                gzip.GzipFile("", "wb", COMPRESS_LEVEL, fileobj=raw, mtime=0) as gz,
            ):
                for piece in pieces:
                    digest.update(piece)
                    gz.write(piece)
            entry = self._entry(query, start, end, step, digest.hexdigest(), key, recorded_at)
            with open(tmp, "rb+") as fh:
                fh.flush()
                os.fsync(fh.fileno())
            faultpoint.reach("replay:tmp", tmp)
            os.replace(tmp, self.folder / entry.file)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(tmp.parent)
        return self._index(entry)

    def _entry(
        self,
        query: str,
        start: float,
        end: float,
        step: float,
        sha: str,
        key: str,
        recorded_at: str | None,
        warnings: tuple[str, ...] = (),
    ) -> Entry:
        return Entry(
            query=query,
            start=start,
            end=end,
            step=step,
            file=_file_name(query, start, end, step, sha),
            sha256=sha,
            key=key,
            recorded_at=recorded_at or iso(datetime.now(UTC)),
            warnings=tuple(warnings),
        )

    def _intact(self, entry: Entry) -> bool:
        """True when ``entry``'s file is there and holds the body it was recorded with."""
        try:
            _read_verified(self.folder, entry)
        except ReplayError:
            return False
        return True

    def _index(self, entry: Entry) -> Entry:
        """Append ``entry`` to the index (its file is already in place, durably) and remember it."""
        line = entry.line()
        index = self.folder / INDEX
        created = not index.exists()
        with naming(index), open(index, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        if created:
            fsync_dir(self.folder)
        self._known[(entry.query, entry.start, entry.end, entry.step)] = entry
        return entry


class ReplayReader:
    """Answers queries from a replay folder, checking integrity and coverage."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise ReplayError(
                f"replay folder {folder} does not exist; pass --source with a recorded folder or a URL"
            )
        self.folder = folder
        self.source = str(_read_header(folder).get("source", ""))
        self.entries = _read_index(folder)

    def entries_for(self, query: str, start: float, end: float, raw: bool) -> list[Entry]:
        """The recorded responses of ``query`` that overlap the window ``[start, end]``: its
        stored samples (``raw``), or its ``query_range`` answers at the finest step recorded.

        Raises ReplayError when nothing is recorded for the query, WindowError when the
        recordings do not cover the whole window.
        """
        same = sorted((e for e in self.entries if e.query == query), key=lambda e: (e.start, e.end))
        if not same:
            raise ReplayError(
                f"the replay in {self.folder} has no response for query {query!r}; "
                "record it with 'ocq-batch fetch' or fix the [queries] templates"
            )
        if raw:
            kept = [e for e in same if e.step == 0]
        else:
            grid = sorted({e.step for e in same if e.step > 0})
            kept = [e for e in same if grid and e.step == grid[0]]
        if not kept:
            what = "as stored samples" if raw else "as a query_range"
            raise ReplayError(f"the replay in {self.folder} does not hold {query!r} {what}; record it again")
        covered = _cover(kept)
        # raw chunks are (a, b]: the window's first instant needs a < start
        inside = (
            (lambda lo, hi: lo < start <= end <= hi) if raw else (lambda lo, hi: lo <= start <= end <= hi)
        )
        if not any(inside(lo, hi) for lo, hi in covered):
            first = 0.001 if raw else 0.0  # a raw chunk (a, b] covers from a + 1 ms
            spans = "; ".join(f"{iso(from_epoch(lo + first))} to {iso(from_epoch(hi))}" for lo, hi in covered)
            raise WindowError(
                f"the window {iso(from_epoch(start))} to {iso(from_epoch(end))} is outside the recorded data "
                f"for {query!r} ({spans}); choose --from/--to inside it"
            )
        return [e for e in kept if e.end >= start and e.start <= end]

    def read(self, entry: Entry) -> bytes:
        """The response body of ``entry``, verified against its recorded sha256."""
        return _read_verified(self.folder, entry)

    def iter_bodies(self, query: str, start: float, end: float, raw: bool) -> Iterator[tuple[Entry, bytes]]:
        """Each overlapping recorded response with its body."""
        for entry in self.entries_for(query, start, end, raw):
            yield entry, self.read(entry)


def _read_verified(folder: Path, entry: Entry) -> bytes:
    """The body recorded in ``entry``'s file; ReplayError when it is missing, unreadable or corrupt."""
    path = folder / entry.file
    try:
        body = gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise ReplayError(f"replay file {path} is missing; record the event again") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ReplayError(f"replay file {path} is unreadable ({exc}); record the event again") from None
    if hashlib.sha256(body).hexdigest() != entry.sha256:
        raise ReplayError(
            f"replay file {path} does not match its recorded sha256; it is corrupt, record it again"
        )
    return body


def _cover(entries: list[Entry]) -> list[tuple[float, float]]:
    """Merge recorded ranges: raw chunks ``(a, b]`` and ``(b, c]`` are contiguous, and so are the
    ``query_range`` chunks ``[a, b]`` and ``[b + step, c]``."""
    spans: list[tuple[float, float]] = []
    for e in entries:
        if spans and e.start <= spans[-1][1] + e.step:
            spans[-1] = (spans[-1][0], max(spans[-1][1], e.end))
        else:
            spans.append((e.start, e.end))
    return spans


def _read_header(folder: Path) -> dict[str, object]:
    path = folder / HEADER
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReplayError(
            f"{folder} is not a replay folder (no {HEADER}); pass a folder made by 'ocq-batch fetch'"
        ) from None
    except (OSError, ValueError) as exc:
        raise ReplayError(f"{path} is unreadable ({exc}); record the event again") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ReplayError(f"{path} is not an ocq-batch replay header")
    if header.get("version") == 1:
        raise ReplayError(
            f"{folder} was recorded by an older ocq-batch as query_range grid values, not the samples the "
            "TSDB stores; record it again from its server with 'ocq-batch fetch --source URL --out "
            f"{folder}-v2' (or 'ocq-batch simulate' for a simulated event)"
        )
    if header.get("version") != VERSION:
        raise ReplayError(
            f"{path} has replay version {header.get('version')!r}; this ocq-batch reads version {VERSION}"
        )
    return header


def _read_index(folder: Path) -> list[Entry]:
    """Index entries, one per request: the latest recording of each."""
    path = folder / INDEX
    if not path.exists():
        return []
    entries: dict[tuple[str, float, float, float], Entry] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                fields = json.loads(line)
                fields["warnings"] = tuple(fields.get("warnings") or ())
                e = Entry(**fields)
                entries.pop((e.query, e.start, e.end, e.step), None)  # a later recording wins
                entries[(e.query, e.start, e.end, e.step)] = e
            except (ValueError, TypeError, AttributeError) as exc:
                if not line.endswith("\n"):  # the last line, cut by an interrupted recording
                    raise ReplayError(
                        f"{path} line {n} is cut short (a recording was interrupted), so its answer is "
                        "missing; resume the recording with the same 'ocq-batch fetch' command (it fetches "
                        "that answer again), or record the event again"
                    ) from None
                raise ReplayError(f"{path} line {n} is corrupt ({exc}); record the event again") from None
    return list(entries.values())


def _repair_index(path: Path) -> str | None:
    """Drop a last index line that an interrupted run left without its newline; the sentence
    naming the file and line dropped (None: the index was whole). Its answer is then missing,
    and the recording fetches it again."""
    if not path.exists():
        return None
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return None
    keep = data[: data.rfind(b"\n") + 1]
    line = keep.count(b"\n") + 1
    with open(path, "r+b") as fh:
        fh.truncate(len(keep))
        fh.flush()
        os.fsync(fh.fileno())
    return (
        f"{path} line {line} was cut short by an interrupted recording ({len(data) - len(keep)} bytes); "
        "dropped, its answer is fetched again"
    )


def pack(body: bytes) -> bytes:
    """A response file's bytes: the body gzipped, with no timestamp (same body, same file)."""
    return gzip.compress(body, compresslevel=COMPRESS_LEVEL, mtime=0)


def _file_name(query: str, start: float, end: float, step: float, sha256: str) -> str:
    """Where one answer to one request is kept, inside the folder."""
    return f"responses/{request_id(query, start, end, step)}-{sha256[:12]}.json.gz"


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all, and durably: its bytes, then its name. A failure
    (a full disk, a signal) removes the temporary file; a killed run's is removed by the next
    writer (:func:`remove_temporaries`)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with naming(path):
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            faultpoint.reach("replay:tmp", tmp)
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


# the temporary names of _atomic_write and add_stream: a file under one is never a recording
_TEMPORARY = re.compile(r"^\.(.+\.tmp-\d+|stream-\d+\.tmp)$")


def remove_temporaries(folder: Path) -> int:
    """Remove the temporary files a killed recording left in ``folder``; how many there were.

    Only for the holder of the folder's lock (:mod:`ocq_batch.lock`): a live writer's
    temporary file looks the same.
    """
    removed = 0
    for where in (folder, folder / "responses"):
        if not where.is_dir():
            continue
        for path in where.iterdir():
            if _TEMPORARY.match(path.name) and path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
    return removed
