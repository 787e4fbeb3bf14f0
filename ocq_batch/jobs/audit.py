"""The jobs behind ``ocq-batch audit`` and ``verify``: an audited result, from an archive or an export.

With an archive folder, its samples go back into an in-memory store, are scored again with
its own settings (or the overrides given) and audited; the archive's own findings that need
samples it does not hold are carried over. Without one, the export of a
:class:`~ocq_batch.jobs.export.RunRequest` runs first and its store is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ocq_batch.archive.reload import carried_findings, load_archive
from ocq_batch.audit.cards import Card, evidence_cards
from ocq_batch.audit.run import AuditResult, run_audit
from ocq_batch.closing import Closing
from ocq_batch.config.model import Config, Window
from ocq_batch.detect.steps import run_pipeline
from ocq_batch.jobs.export import Progress, RunRequest, run_export
from ocq_batch.load.store import open_store


@dataclass
class Audited(Closing):
    """An audited result with the store it was read from (closed by :meth:`close`)."""

    con: duckdb.DuckDBPyConnection
    config: Config
    window: Window
    result: AuditResult
    where: str  # the archive or out folder audited

    def close(self) -> None:
        self.con.close()


def audited(
    archive: Path | None,
    request: RunRequest | None,
    progress: Progress | None = None,
    **overrides: Any,
) -> Audited:
    """Audit ``archive`` re-scored with ``overrides`` (env, model, top), or the export of ``request``."""
    if archive is not None:
        con, archived, window, _manifest = load_archive(archive)
        try:
            config = archived.with_overrides(**overrides)
            run_pipeline(con, config, window)
            result = run_audit(con, config, carried_findings(archive, archived, config))
        except BaseException:
            con.close()
            raise
        return Audited(con, config, window, result, str(archive))
    if request is None:
        raise ValueError("audited needs an archive or a run request")
    exported = run_export(request, progress)
    con = open_store(exported.store, read_only=True)
    return Audited(con, exported.config, exported.window, exported.audit, str(exported.out))


def verified(
    archive: Path | None,
    request: RunRequest | None,
    progress: Progress | None = None,
    users: Sequence[str] | None = None,
    **overrides: Any,
) -> tuple[Audited, list[Card]]:
    """:func:`audited`, with an evidence card for every participant inside the top N, or for
    each of ``users`` (ConfigError naming one that is not ranked)."""
    with audited(archive, request, progress, **overrides) as done:
        return done, evidence_cards(done.con, done.config, done.result, users)
