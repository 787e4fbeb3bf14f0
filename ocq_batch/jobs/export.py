"""The main job: pull a source into the store, rebuild the projections, audit, publish the archive.

:func:`run_export` is what ``ocq-batch export`` calls: it opens the source a
:class:`RunRequest` names (the bundled demo, a replay folder or a server) and runs
:func:`export`. :func:`fetch` only records a server's answers into a replay folder.

Both hold the lock of the folders they write (:mod:`ocq_batch.lock`) from before their
clean-up of what a killed run left to after their last write; OS errors leave them as
:class:`~ocq_batch.errors.DiskError` naming the path (:func:`ocq_batch.oserror.naming`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ocq_batch import __version__, faultpoint
from ocq_batch.archive.layout import MANIFEST, REPLAY_DIR, STORE_NAME, TABLES, data_digest
from ocq_batch.archive.publish import check_out_folder, discard, publish, recover, staging_for
from ocq_batch.archive.spreadsheet import check_xlsx
from ocq_batch.archive.write import SamplesFile, manifest, write_files, write_manifest, write_reports
from ocq_batch.audit.run import AuditResult, run_audit, summary_counts
from ocq_batch.config.model import Config, Window
from ocq_batch.detect.steps import run_pipeline
from ocq_batch.errors import ConfigError, ConflictError, EmptyResultError, WindowError
from ocq_batch.load.loader import Loader, LoadStats
from ocq_batch.load.received import check_scoring_data
from ocq_batch.load.store import claim, open_store
from ocq_batch.lock import locked
from ocq_batch.oserror import naming
from ocq_batch.pull.http_options import HttpOptions
from ocq_batch.pull.queries import plan_queries
from ocq_batch.pull.replay import HEADER, INDEX, ReplayReader, ReplayWriter, remove_temporaries
from ocq_batch.pull.source import ReplaySource, Source
from ocq_batch.report.content import Provenance
from ocq_batch.resources import demo_dir, sql_text
from ocq_batch.rows import Rows
from ocq_batch.timeutil import iso

if TYPE_CHECKING:
    from ocq_batch.pull.server import HttpSource


class Progress(Protocol):
    """A progress display: one task at a time."""

    def task(self, label: str, total: int | None) -> Callable[..., None]:
        """Start a task; the returned callable advances it: ``advance(steps, nbytes=0)``, where
        ``nbytes`` counts the bytes of answers received (a fetch)."""
        ...


class _Quiet:
    def task(self, label: str, total: int | None) -> Callable[..., None]:
        return lambda n, nbytes=0: None


@dataclass
class ExportResult:
    """What an export produced."""

    out: Path
    store: Path
    manifest: dict[str, Any]
    ranking: Rows
    stats: LoadStats
    window: Window
    config: Config
    participants: int
    excluded: list[str]
    audit: AuditResult


@dataclass(frozen=True)
class RunRequest:
    """What one run reads and writes: the resolved config and window, the source, the folders.

    ``source`` is a replay folder, a server URL (then ``http`` holds how to reach it), or None
    for the bundled demo event; ``store`` is ``<out>/store.duckdb`` unless given; ``wait_s``
    (seconds) how long to wait for another ocq-batch holding the lock of ``out`` or ``store``.
    """

    config: Config
    window: Window
    source: str | None = None
    http: HttpOptions | None = None
    out: Path = Path("ocq-out")
    store: Path | None = None
    xlsx: bool = False  # also write ranking.xlsx (needs openpyxl)
    wait_s: float = 0.0  # how long to wait for another ocq-batch writing the same folders
    fresh: bool = False  # set the old store aside (renamed with a timestamp) and start a new one
    allow_partial: bool = False  # read answers recorded partial from a replay folder (--allow-partial)


def replay_source(text: str | None, allow_partial: bool = False) -> Source:
    """A replay source from the --source text (default: the bundled demo event); answers
    recorded partial are read only with ``allow_partial``."""
    return ReplaySource(demo_dir() if text is None else Path(text), allow_partial=allow_partial)


def run_export(
    request: RunRequest, progress: Progress | None = None, say: Callable[[str], None] | None = None
) -> ExportResult:
    """The export of ``request``: from its server when it has HTTP options, else its replay
    folder; ``say`` is told when it waits for a lock (see :func:`export`)."""
    if request.xlsx:
        check_xlsx()  # before anything is fetched or written
    source = None if request.http is not None else replay_source(request.source, request.allow_partial)
    return export(
        request.config,
        request.window,
        source,
        request.out,
        store=request.store,
        progress=progress,
        http=request.http,
        xlsx=request.xlsx,
        wait_s=request.wait_s,
        say=say,
        fresh=request.fresh,
    )


def check_window(config: Config, window: Window) -> None:
    """A usable window: start before end (both UTC)."""
    if window.end <= window.start:
        raise WindowError(
            f"--from {iso(window.start)} is not before --to {iso(window.end)}; swap them or widen the window"
        )


def export(
    config: Config,
    window: Window,
    source: Source | None,
    out: Path,
    store: Path | None = None,
    progress: Progress | None = None,
    http: HttpOptions | None = None,
    xlsx: bool = False,
    wait_s: float = 0.0,
    say: Callable[[str], None] | None = None,
    fresh: bool = False,
) -> ExportResult:
    """Run the whole job; on any failure the previous archive (if any) is left untouched.

    ``source`` is a ready source (a replay folder), or None with ``http`` options: the
    history is then pulled from the server and recorded in ``<out>/replay``, so that a
    failed run resumes where it stopped and the archive can be replayed without it.

    The run holds the lock of ``out`` (and of ``store`` when it lives elsewhere) from before
    its clean-up to after its publish, waiting up to ``wait_s`` seconds for another holder;
    ``say`` is told one line when it waits or takes over a dead run's lock.

    The store (and ``out``'s recorded responses) belong to one event and one source
    (:func:`~ocq_batch.load.store.claim`); a run of another stops with ConflictError, unless
    ``fresh``: the old store is then set aside beside it, renamed with the time (and so is a
    replay folder in ``out`` recorded from another server), ``say`` is told where, and a new
    one is started. A failed run puts them back.
    """
    progress = progress or _Quiet()
    check_window(config, window)
    specs = plan_queries(config)
    start, end = window.start.timestamp(), window.end.timestamp()
    live: HttpSource | None = None
    if source is None:
        if http is None:
            raise ValueError("export needs a source or http options")
        source = live = http_source(config, http)
    n_requests = source.plan(specs, start, end)  # fails before anything is written
    out = out.resolve()
    store_path, store_inside = _store_path(out, store)
    with locked(lock_targets(out, store), wait_s, say), live or nullcontext():
        faultpoint.reach("lock:held")
        recover(out)  # what a killed run left: only now, under the lock
        check_out_folder(out)
        belongs_to = {"event": event_identity(config), "source": source.identity}
        if not fresh:
            check_archive_owner(out, belongs_to)
        remove_temporaries(out / REPLAY_DIR)
        created = not out.exists()
        staging: Path | None = None
        aside: list[tuple[Path, Path]] = []
        where = "--out" if store_inside else "--store"
        try:
            with naming(store_path, store=store_path):
                store_path.parent.mkdir(parents=True, exist_ok=True)
                repaired = None
                if fresh:
                    recorded_from = None if live is None else live.identity
                    aside = set_aside(out, store_path, store_inside, recorded_from)
                    for old, new in aside:
                        if say is not None and os.path.lexists(new) and not old.name.endswith(".wal"):
                            say(f"--fresh: the old {_what(old)} {old} is kept as {new}")
                con = open_store(store_path)
                try:
                    claim(con, store_path, belongs_to["event"], belongs_to["source"], where)
                    if live is not None:  # after the claim: another source's run records nothing
                        live.recorder = ReplayWriter(
                            out / REPLAY_DIR, source=live.identity, other=f"use another {where}, or --fresh"
                        )
                        repaired = live.recorder.repaired
                        if repaired and say is not None:
                            say(f"note: {repaired}")
                    loader = loader_for(con, config, source.allow_partial)
                    advance = progress.task("fetching" if live is not None else "loading replay", n_requests)
                    for resp in source.responses(specs, start, end):
                        loader.add(resp)
                        faultpoint.reach("load:response")
                        advance(1, len(resp.body))
                    loader.flush()
                    stats, received = loader.stats, loader.received
                    check_scoring_data(received, config, window, specs, source.label)
                    received.store(con)
                    staging = staging_for(out)
                    with naming(staging, store=store_path):
                        # samples.parquet only needs the samples: it is written while the rest runs
                        with SamplesFile(con, staging, window) as samples:
                            progress.task("scoring", None)
                            run_pipeline(con, config, window)
                            participants, excluded = _participants(con)
                            if participants == 0:
                                raise EmptyResultError(_empty_message(window, source.label, excluded))
                            progress.task("auditing", None)
                            audit = run_audit(con, config)
                            advance = progress.task("writing archive", len(TABLES))
                            files = write_files(con, staging, config, lambda _name: advance(1), samples, xlsx)
                        ranking = Rows.query(con, "select * from ranking order by rank, user")
                        timeline = Rows.query(con, "select * from timeline order by user, ts")
                        resolution = _resolution(con)
                        warnings = current_warnings(con, window)
                finally:
                    con.close()
            extra = {
                "load": {
                    "responses": stats.responses,
                    "responses_already_loaded": stats.responses_skipped,
                    "samples_seen": stats.samples_seen,
                    "samples_added": stats.samples_added,
                    "samples_outside_their_request": stats.samples_outside,
                    "samples_superseded": stats.samples_superseded,
                    "series_added": stats.series_added,
                    **received.totals(),
                    "index_lines_cut": 0 if repaired is None else 1,
                },
                "families": received.manifest(specs),
                "resolution": resolution,
                "warnings": warnings,
                "participants": participants,
                "excluded": excluded,
                "recording": REPLAY_DIR if live is not None else None,
                "belongs_to": belongs_to,
            }
            extra["verdict"] = {
                "clean": audit.clean,
                "cutoff_decidable": audit.cutoff.decidable,
                "summary": audit.cutoff.sentence(),
                "findings": summary_counts(audit.tables["findings"]),
            }
            with naming(staging):
                digest, data_files = data_digest(files)
                extra["data_digest"] = {"sha256": digest, "files": list(data_files)}
                provenance = Provenance(__version__, config.digest(), digest, data_files, source.label)
                files.update(write_reports(staging, config, window, ranking, timeline, audit, provenance))
                data = manifest(config, window, source.label, files, extra)
                write_manifest(staging, data)
            publish(staging, out, store_inside)
            staging = None
        except BaseException:
            if staging is not None:  # before the swap the new archive, after it the old one
                discard(staging, out)
            # a fresh folder goes away, unless it holds recorded responses to resume from
            if created and out.exists() and not _has_recording(out / REPLAY_DIR):
                shutil.rmtree(out, ignore_errors=True)
            put_back(aside)
            raise
    final_store = out / STORE_NAME if store_inside else store_path
    return ExportResult(out, final_store, data, ranking, stats, window, config, participants, excluded, audit)


def event_identity(config: Config) -> str:
    """The event a store belongs to, as its meta names it: the event's name and T0."""
    return f"{config.name} (start {iso(config.start)})"


def check_archive_owner(out: Path, belongs_to: dict[str, str]) -> None:
    """ConflictError when the archive in ``out`` is of another event or source than
    ``belongs_to`` (its manifest's ``belongs_to``; an archive without one is not checked: its
    store says whom it belongs to)."""
    try:
        found = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("belongs_to")
    except (OSError, ValueError, AttributeError):
        return  # no archive there, or none ocq-batch can read: check_out_folder and publish decide
    if isinstance(found, dict) and found != belongs_to:
        raise ConflictError(
            f"--out {out} holds the archive of event {found.get('event')} from {found.get('source')}, "
            f"not of event {belongs_to['event']} from {belongs_to['source']}; use another --out, or "
            "--fresh to replace it with a new store"
        )


def current_warnings(con: Any, window: Window) -> list[str]:
    """The warnings (``query: warning``) of the answers the store holds now over ``window``: what
    the manifest lists, and what the audit's partial_response finding counts."""
    params = {"from_ts": window.start, "to_ts": window.end}
    return [str(r[0]) for r in con.execute(sql_text("load/current_warnings.sql"), params).fetchall()]


def _what(path: Path) -> str:
    return "recorded responses" if path.name == REPLAY_DIR else "store"


def set_aside(
    out: Path, store: Path, store_inside: bool, recording_from: str | None
) -> list[tuple[Path, Path]]:
    """``--fresh``: rename the store (with its log) beside where it is, with the time in its name,
    and ``out``'s replay folder beside ``out`` when this run records into it from another source
    (``recording_from``); the (old, new) paths moved. The caller holds the locks of both."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved: list[tuple[Path, Path]] = []
    try:
        if store.exists():
            inside = out.parent / f"{out.name}-store-{stamp}"
            base = inside if store_inside else store.with_name(f"{store.stem}-{stamp}")
            target = _free(base, store.suffix)
            os.rename(store, target)
            moved.append((store, target))
            wal, kept = store.with_name(store.name + ".wal"), target.with_name(target.name + ".wal")
            if wal.exists():
                os.rename(wal, kept)
            moved.append((wal, kept))  # even without one: put_back removes the new store's log
        replay = out / REPLAY_DIR
        recorded = recording_from is not None and (replay / HEADER).exists()
        if recorded and ReplayReader(replay).source != recording_from:
            target = _free(out.parent / f"{out.name}-replay-{stamp}", "")
            os.rename(replay, target)
            moved.append((replay, target))
    except BaseException:
        put_back(moved)
        raise
    return moved


def _free(base: Path, suffix: str) -> Path:
    """``base`` + ``suffix``, or with ``-2``, ``-3``... before the suffix when that is taken."""
    path, n = base.with_name(base.name + suffix), 1
    while os.path.lexists(path):
        n += 1
        path = base.with_name(f"{base.name}-{n}{suffix}")
    return path


def put_back(moved: list[tuple[Path, Path]]) -> None:
    """Undo :func:`set_aside` after a failed run: what the run started in their place goes (the
    new store and its log, a new recording), and what was set aside comes back."""
    for old, new in reversed(moved):
        if os.path.isdir(old) and not os.path.islink(old):
            shutil.rmtree(old, ignore_errors=True)
        elif os.path.lexists(old):
            os.unlink(old)
        if os.path.lexists(new):
            os.rename(new, old)


def _resolution(con: Any) -> dict[str, dict[str, float | int]]:
    """Each family's native sample interval (s), measured from the raw times (step 02)."""
    query = "select query_key, native_s, n_series from family_intervals order by query_key"
    rows = con.execute(query).fetchall()
    return {key: {"native_interval_s": round(native, 3), "series": n} for key, native, n in rows}


def lock_targets(out: Path, store: Path | None) -> list[tuple[Path, str]]:
    """What an export into ``out`` (with ``store``) locks: ``out``, and the store when it lives
    elsewhere (inside ``out`` the folder's lock covers it)."""
    out = out.resolve()
    store_path, inside = _store_path(out, store)
    return [(out, "--out")] + ([] if inside else [(store_path, "--store")])


def _store_path(out: Path, store: Path | None) -> tuple[Path, bool]:
    """The store's path, and whether it lives in ``out`` (and so moves with each publish)."""
    inside = (out / STORE_NAME).resolve()
    if store is None or store.resolve() == inside:
        return inside, True
    path = store.resolve()
    if path.is_relative_to(out):
        raise ConfigError(
            f"--store {path} is inside --out {out}, which each export replaces; "
            f"leave --store out (the store is then {inside}) or put it elsewhere"
        )
    return path, False


def _has_recording(folder: Path) -> bool:
    index = folder / INDEX
    return index.exists() and index.stat().st_size > 0


def _participants(con: Any) -> tuple[int, list[str]]:
    row = con.execute(
        "select count(*) from users_seen where user not in (select user from exclusions)"
    ).fetchone()
    excluded = [r[0] for r in con.execute("select user from exclusions order by user").fetchall()]
    return int(row[0]) if row else 0, excluded


def _empty_message(window: Window, source: str, excluded: list[str]) -> str:
    span = f"{iso(window.start)} to {iso(window.end)}"
    if excluded:
        return (
            f"every user seen in {span} is excluded by [event] exclude_users ({', '.join(excluded[:5])}); "
            "loosen the patterns"
        )
    return f"no participant series in {span} from {source}; check --from/--to and the [queries] templates"


@dataclass
class FetchResult:
    """What a fetch recorded."""

    folder: Path
    requests: int
    already_recorded: int
    warnings: list[str]
    label: str
    repaired: str | None = None  # the index line an interrupted recording cut short, dropped


def http_source(config: Config, http: HttpOptions) -> HttpSource:
    """The server source of ``config``: its raw chunks' length, its expressions' grid."""
    from ocq_batch.pull.server import HttpSource

    step = config.step_s or config.audit.eval_interval_s
    return HttpSource(http, step_s=step, chunk_s=config.chunk_s)


def loader_for(con: Any, config: Config, allow_partial: bool = True) -> Loader:
    """A loader reading ``config``'s labels (and raw series' users from their namespace); one
    that stops at a partial answer unless ``allow_partial``."""
    q = config.queries
    return Loader(
        con,
        q.user_label,
        q.cluster_label,
        namespace=(q.namespace_label, q.namespace_user),
        allow_partial=allow_partial,
    )


def fetch(
    config: Config,
    window: Window,
    http: HttpOptions,
    folder: Path,
    progress: Progress | None = None,
    wait_s: float = 0.0,
    say: Callable[[str], None] | None = None,
) -> FetchResult:
    """Record every configured query over ``window`` into a replay folder; resumable.

    Requests already in ``folder`` are not fetched again, so re-running after an
    interruption fetches only what is missing. The folder's lock is held throughout
    (waiting up to ``wait_s`` seconds for another holder, as :func:`export` does).
    """
    progress = progress or _Quiet()
    check_window(config, window)
    specs = plan_queries(config)
    start, end = window.start.timestamp(), window.end.timestamp()
    with locked([(folder.resolve(), "--out")], wait_s, say), http_source(config, http) as source:
        faultpoint.reach("lock:held")
        requests = source.requests(specs, start, end)
        writer = ReplayWriter(folder, source=source.identity, other="use another --out")
        if writer.repaired and say is not None:
            say(f"note: {writer.repaired}")
        source.recorder = writer
        before = sum(writer.has(*r.key) for r in requests)
        advance = progress.task("fetching", len(requests))
        for resp in source.responses(specs, start, end):
            advance(1, len(resp.body))
        return FetchResult(
            folder, len(requests), before, list(source.warnings), source.label, writer.repaired
        )
