"""The audit: findings, live board vs batch, and whether the prize cut-off is decidable.

Runs the SQL steps of ``sql/audit/`` (09 score bounds, 10 findings, 11 live board) over the
projections of a scoring run, then adds the findings that need the whole ranking at once
(the cut-off, see :mod:`ocq_batch.audit.verdict`; prizes the live board gave otherwise).
Everything is a projection: rebuilt from the samples on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from ocq_batch.archive.write import table_query
from ocq_batch.audit.verdict import CutOff, cutoff_findings, decide_cutoff, score_findings
from ocq_batch.config.model import Config
from ocq_batch.load.store import utc_session
from ocq_batch.resources import sql_names, sql_text
from ocq_batch.rows import Rows

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

SEVERITIES = ("error", "warning", "info")
CUTOFF_CHECKS = ("cutoff_undecidable", "tie_at_cutoff")  # what the verdict's own sentence says


@dataclass
class AuditResult:
    """The audit's tables and its verdict.

    ``tables`` holds ``findings``, ``live`` (live_vs_batch) and ``robustness`` as
    :class:`~ocq_batch.rows.Rows`: the export and its reports read their plain rows, without
    pandas; the properties of the same names give them as DataFrames.
    """

    tables: dict[str, Rows]
    cutoff: CutOff

    @property
    def findings(self) -> pd.DataFrame:
        return self.tables["findings"].frame

    @property
    def live(self) -> pd.DataFrame:
        return self.tables["live"].frame

    @property
    def robustness(self) -> pd.DataFrame:
        return self.tables["robustness"].frame

    def errors_touching_top(self) -> list[dict[str, Any]]:
        """Findings of severity error about a prize winner, or about the whole event."""
        winners = {r["user"] for r in self.tables["robustness"].rows if r["in_top"]}
        return [
            f
            for f in self.tables["findings"].rows
            if f["severity"] == "error" and (f["user"] is None or f["user"] in winners)
        ]

    def live_summary(self) -> list[str]:
        """Sentences on the live board: the same prize winners, or who differs and why."""
        live = self.tables["live"].rows
        if all(row["live_rank"] is None for row in live):
            return ["no live board series in the source"]
        differ = [r for r in live if r["live_in_top"] is not None and r["live_in_top"] != r["batch_in_top"]]
        if not differ:
            return ["the live board and the batch give the same prize winners"]
        return [
            f"{row['user']} wins a prize under the "
            f"{'batch only' if row['batch_in_top'] else 'live board only'} "
            f"(batch rank {row['batch_rank']}, live rank {int(row['live_rank'])}); cause: {row['cause']}"
            for row in differ
        ]

    def concern_findings(self) -> list[dict[str, Any]]:
        """The error findings touching the top N besides the cut-off's own."""
        return [f for f in self.errors_touching_top() if f["check"] not in CUTOFF_CHECKS]

    def concerns(self) -> list[str]:
        """The error findings touching the top N besides the cut-off's own, one sentence each."""
        return [
            (f"{f['user']}: " if f["user"] is not None else "") + f"{f['check']}: {f['message']}"
            for f in self.concern_findings()
        ]

    def verdict_lines(self) -> list[tuple[str, str]]:
        """The verdict as (kind, text) lines, for every place that shows it: ``headline`` (the
        sentence), ``contested`` (who, with rank and interval), ``advice`` (what to do),
        ``error`` (an error finding touching the top N)."""
        cut = self.cutoff
        lines = [("headline", cut.sentence())]
        if cut.contested:
            lines.append(("contested", f"contested, {cut.range_text()}: {cut.contested_text()}"))
        if not cut.decidable:
            lines.append(("advice", f"what to do: {cut.advice()}"))
        lines += [("error", concern) for concern in self.concerns()]
        return lines

    @property
    def clean(self) -> bool:
        """True when the top N is decided and no error finding touches it (exit code 0)."""
        return self.cutoff.decidable and not self.errors_touching_top()


def write_audit_params(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """The audit's settings as the table ``audit_params`` (``sql/audit/audit_params.sql``)."""
    a = config.audit
    con.execute(
        sql_text("audit/audit_params.sql"),
        {"repeats": a.bonus_repeats, "window": a.live_window_s, "fast": a.fast_factor},
    )


def run_audit(con: duckdb.DuckDBPyConnection, config: Config, carried: pa.Table | None = None) -> AuditResult:
    """Build robustness, findings and live_vs_batch, then the cut-off and prize findings.

    ``carried`` are findings this store cannot make again, from an earlier audit of the
    same event (rows of an archive's ``audit.parquet``: see
    :func:`ocq_batch.archive.reload.carried_findings`); they are added by column name.
    """
    write_audit_params(con, config)
    con.execute("set TimeZone = ?", [config.timezone])  # sentences speak the event's time
    try:
        for step in sql_names("audit"):
            con.execute(sql_text(step))
        robustness = Rows.query(con, table_query("robustness"))
        cutoff = decide_cutoff(robustness.rows, config.top)
        extra = (
            cutoff_findings(cutoff, robustness.rows)
            + score_findings(cutoff, robustness.rows)
            + _prize_findings(con, config)
        )
        if extra:
            con.executemany(sql_text("audit/insert_finding.sql"), extra)
        if carried is not None and carried.num_rows:
            con.register("carried", carried)
            try:
                con.execute(sql_text("audit/insert_carried.sql"))
            finally:
                con.unregister("carried")
        findings = Rows.query(con, table_query("audit"))
        live = Rows.query(con, table_query("live_vs_batch"))
    finally:
        utc_session(con)
    return AuditResult({"findings": findings, "live": live, "robustness": robustness}, cutoff)


def _prize_findings(con: duckdb.DuckDBPyConnection, config: Config) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    frame = con.execute(
        """
        select user, batch_rank, live_rank, batch_in_top, live_in_top, cause, live_score_raw, batch_score
        from live_vs_batch where live_in_top is not null and live_in_top <> batch_in_top
        order by batch_rank, user
        """
    ).fetchall()
    for user, brank, lrank, b_in, _l_in, cause, live_raw, batch in frame:
        side = (
            "wins a prize in the batch ranking but not on the live board"
            if b_in
            else ("won a prize on the live board but not in the batch ranking")
        )
        rows.append(
            (
                "warning",
                "live_prize_differs",
                user,
                None,
                config.env,
                None,
                float(live_raw - batch),
                f"{side} (batch rank {brank}, {batch:.1f} pts; live rank {lrank}, {live_raw:.1f} live pts); "
                f"cause: {cause}",
            )
        )
    return rows


def verdict_exit_code(result: AuditResult) -> int:
    """0: the top N is decided and clean; 3: an error touches it or the cut-off is undecidable."""
    return 0 if result.clean else 3


def summary_counts(findings: Rows) -> dict[str, int]:
    """How many findings of each severity."""
    severities = findings.column("severity")
    return {s: severities.count(s) for s in SEVERITIES}
