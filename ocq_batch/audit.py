"""The audit: findings, live board vs batch, and whether the prize cut-off is decidable.

Runs SQL steps 08-10 over the projections of a scoring run, then adds the findings
that need the whole ranking at once (the cut-off, prize differences with the live
board). Everything is a projection: rebuilt from the samples on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from ocq_batch.config import Config
from ocq_batch.paths import sql_steps, sql_text
from ocq_batch.pipeline import LAST_SCORING_STEP
from ocq_batch.rows import Rows
from ocq_batch.store import utc_session

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

SEVERITIES = ("error", "warning", "info")


@dataclass
class CutOff:
    """Whether the top N is decided at the data's resolution."""

    top: int
    decidable: bool
    tied: list[str]  # users sharing the rank at the cut-off with someone outside the prize
    pairs: list[tuple[str, str]]  # (inside, outside) whose score intervals overlap

    def sentence(self) -> str:
        if self.decidable:
            return f"the top {self.top} is decided at the data's resolution"
        parts = []
        if self.tied:
            parts.append(f"{', '.join(self.tied)} tie at the cut-off")
        if self.pairs:
            shown = "; ".join(f"{a} (in) vs {b} (out)" for a, b in self.pairs[:6])
            more = f" and {len(self.pairs) - 6} more" if len(self.pairs) > 6 else ""
            parts.append(f"cannot be separated at the data's resolution: {shown}{more}")
        return f"the top {self.top} is NOT decidable: " + "; ".join(parts)


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

    @property
    def clean(self) -> bool:
        """True when the top N is decided and no error finding touches it (exit code 0)."""
        return self.cutoff.decidable and not self.errors_touching_top()


def write_audit_params(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    a = config.audit
    con.execute(
        """
        create or replace table audit_params as
        select $eval::double as eval_interval_s, $repeats::double as bonus_repeats,
               $window::double as live_window_s, $collect::double as collect_interval_s,
               $fast::double as fast_factor
        """,
        {
            "eval": a.eval_interval_s,
            "repeats": a.bonus_repeats,
            "window": a.live_window_s,
            "collect": a.collect_interval_s,
            "fast": a.fast_factor,
        },
    )


def decide_cutoff(robustness: list[dict[str, Any]], top: int) -> CutOff:
    """Is the prize set the same for every completion time inside the uncertainty intervals?

    ``robustness`` holds the rows of the robustness table (rank, user, score_min,
    score_max, in_top), in rank order.
    """
    inside = [r for r in robustness if r["in_top"]]
    outside = [r for r in robustness if not r["in_top"]]
    tied: list[str] = []
    if len(inside) > top:  # a shared rank straddles the cut-off
        last_rank = max(r["rank"] for r in inside)
        tied = sorted(r["user"] for r in inside if r["rank"] == last_rank)
    pairs = [
        (str(a["user"]), str(b["user"])) for a in inside for b in outside if a["score_min"] <= b["score_max"]
    ]
    rank = {r["user"]: int(r["rank"]) for r in robustness}
    pairs.sort(key=lambda ab: (-rank[ab[0]], rank[ab[1]]))
    return CutOff(top, not tied and not pairs, tied, pairs)


def run_audit(con: duckdb.DuckDBPyConnection, config: Config, carried: pa.Table | None = None) -> AuditResult:
    """Build robustness, findings and live_vs_batch, then the cut-off and prize findings.

    ``carried`` are findings this store cannot make again, from an earlier audit of the
    same event (rows of an archive's ``audit.parquet``: see
    :func:`ocq_batch.reload.carried_findings`); they are added by column name.
    """
    write_audit_params(con, config)
    con.execute("set TimeZone = ?", [config.timezone])  # sentences speak the event's time
    try:
        for step in sql_steps(LAST_SCORING_STEP + 1):
            con.execute(sql_text(step))
        robustness = Rows.query(con, "select * from robustness order by rank, user")
        cutoff = decide_cutoff(robustness.rows, config.top)
        extra = _cutoff_findings(cutoff, robustness.rows) + _prize_findings(con, config)
        if extra:
            con.executemany(
                """
                insert into findings (severity, "check", user, exercise, env, cluster, value, message)
                values (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                extra,
            )
        if carried is not None and carried.num_rows:
            con.register("carried", carried)
            try:
                con.execute("insert into findings by name select * from carried")
            finally:
                con.unregister("carried")
        findings = Rows.query(
            con,
            """
            select * from findings order by
              case severity when 'error' then 0 when 'warning' then 1 else 2 end, user nulls first,
              "check", exercise, env, evidence_at
            """,
        )
        live = Rows.query(con, "select * from live_vs_batch order by batch_rank, user")
    finally:
        utc_session(con)
    return AuditResult({"findings": findings, "live": live, "robustness": robustness}, cutoff)


def _cutoff_findings(cutoff: CutOff, robustness: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    if cutoff.tied:
        inside = sum(1 for r in robustness if r["in_top"])
        rows.append(
            (
                "error",
                "tie_at_cutoff",
                None,
                None,
                None,
                None,
                float(len(cutoff.tied)),
                f"{', '.join(cutoff.tied)} share the last prize rank: {len(cutoff.tied)} people for "
                f"{cutoff.top - (inside - len(cutoff.tied))} place(s); "
                "the jury decides",
            )
        )
    ranks = {r["user"]: r for r in robustness}
    partners: dict[str, list[str]] = {}
    for inside_user, outside_user in cutoff.pairs:
        partners.setdefault(inside_user, []).append(outside_user)
        partners.setdefault(outside_user, []).append(inside_user)
    for user in sorted(partners, key=lambda u: (int(ranks[u]["rank"]), u)):
        me = ranks[user]
        where = "inside" if bool(me["in_top"]) else "outside"
        others = ", ".join(
            f"{o} (rank {int(ranks[o]['rank'])}, {ranks[o]['score_min']:.1f} to "
            f"{_fmt(ranks[o]['score_max'])})"
            for o in sorted(partners[user], key=lambda o: int(ranks[o]["rank"]))
        )
        rows.append(
            (
                "error",
                "cutoff_undecidable",
                user,
                None,
                None,
                None,
                float(me["score_max"] - me["score_min"]),
                f"rank {int(me['rank'])}, {where} the top {cutoff.top}: "
                f"score {me['score_min']:.1f} could be up to "
                f"{_fmt(me['score_max'])} at the data's resolution, which overlaps {others}; "
                "the prize cut-off is not decidable",
            )
        )
    return rows


def _fmt(x: float) -> str:
    return "unbounded" if x == float("inf") else f"{x:.1f}"


def _prize_findings(con: duckdb.DuckDBPyConnection, config: Config) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    frame = con.execute(
        """
        select user, batch_rank, live_rank, batch_in_top, live_in_top, cause, live_score_raw, batch_score
        from live_vs_batch where live_in_top is not null and live_in_top <> batch_in_top
        order by batch_rank
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
