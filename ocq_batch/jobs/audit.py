"""The jobs behind ``ocq-batch audit`` and ``verify``: an audited result, from an archive or an export.

With an archive folder, its samples go back into an in-memory store, are scored again with
its own settings (or the overrides given) and audited; the archive's own findings that need
samples it does not hold are carried over. Without one, the export of a
:class:`~ocq_batch.jobs.export.RunRequest` runs first and its store is read.

Verification changes nothing it did not create: the archive is only read, and an export for
an audit publishes into ``--out`` only when that folder (and ``--store``, when given) does not
exist yet. Otherwise it runs in a temporary folder (the system's, ``$TMPDIR``), which the
:class:`Audited` removes when closed: an existing archive or store is never written, whatever
``--top``, ``--env`` or ``--model`` the audit asks for.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from ocq_batch.archive.reload import carried_findings, load_archive
from ocq_batch.audit.cards import Card, evidence_cards
from ocq_batch.audit.run import AuditResult, run_audit
from ocq_batch.closing import Closing
from ocq_batch.config.model import Config, Window
from ocq_batch.detect.steps import run_pipeline
from ocq_batch.jobs.export import Progress, RunRequest, lock_targets, run_export
from ocq_batch.load.store import open_store
from ocq_batch.lock import locked


@dataclass
class Audited(Closing):
    """An audited result with the store it was read from (closed by :meth:`close`), and the
    locks of an export's folders, held until then so that no other export rewrites them."""

    con: duckdb.DuckDBPyConnection
    config: Config
    window: Window
    result: AuditResult
    where: str  # the archive or out folder audited
    locks: ExitStack = field(default_factory=ExitStack)

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            self.locks.close()


def audited(
    archive: Path | None,
    request: RunRequest | None,
    progress: Progress | None = None,
    *,
    say: Callable[[str], None] | None = None,
    **overrides: Any,
) -> Audited:
    """Audit ``archive`` re-scored with ``overrides`` (env, model, top), or the export of
    ``request`` (``say`` is told when it waits for a lock). An archive is only read: no lock."""
    if archive is not None:
        con, opened = load_archive(archive)
        try:
            config = opened.config.with_overrides(**overrides)
            run_pipeline(con, config, opened.window)
            result = run_audit(con, config, carried_findings(opened, config))
        except BaseException:
            con.close()
            raise
        finally:
            opened.close()
        return Audited(con, config, opened.window, result, str(archive))
    if request is None:
        raise ValueError("audited needs an archive or a run request")
    locks = ExitStack()
    try:
        scratch = None if publishes(request) else Path(tempfile.mkdtemp(prefix="ocq-batch-audit-"))
        if scratch is not None:
            locks.callback(shutil.rmtree, scratch, ignore_errors=True)  # last, after the store closed
            aside = existing(request)
            request = replace(request, out=scratch / "out", store=None, xlsx=False, wait_s=0.0)
        locks.enter_context(locked(lock_targets(request.out, request.store), request.wait_s, say))
        exported = run_export(request, progress, say)
        con = open_store(exported.store, read_only=True)
        if scratch is not None and say is not None:  # after the export: an error stays one line
            say(f"note: {aside} exists and is not changed: {AUDITED_ASIDE}")
    except BaseException:
        locks.close()
        raise
    where = str(exported.out) if scratch is None else f"a temporary export of {exported.manifest['source']}"
    return Audited(con, exported.config, exported.window, exported.audit, where, locks)


AUDITED_ASIDE = (
    "the audit exports into a temporary folder, removed after "
    "(--archive DIR re-scores an archive instead; a new --out keeps the export)"
)


def publishes(request: RunRequest) -> bool:
    """Whether the export of an audit may publish where ``request`` says: only into a new
    ``--out`` with a new ``--store`` (or none), so that no existing archive or store changes."""
    return existing(request) is None


def existing(request: RunRequest) -> str | None:
    """The option naming an existing folder or file an export of ``request`` would write
    (``--out DIR`` or ``--store FILE``), or None."""
    if request.out.exists():
        return f"--out {request.out}"
    if request.store is not None and request.store.exists():
        return f"--store {request.store}"
    return None


def verified(
    archive: Path | None,
    request: RunRequest | None,
    progress: Progress | None = None,
    users: Sequence[str] | None = None,
    *,
    say: Callable[[str], None] | None = None,
    **overrides: Any,
) -> tuple[Audited, list[Card]]:
    """:func:`audited`, with an evidence card for every participant inside the top N, or for
    each of ``users`` (ConfigError naming one that is not ranked)."""
    with audited(archive, request, progress, say=say, **overrides) as done:
        return done, evidence_cards(done.con, done.config, done.result, users)
