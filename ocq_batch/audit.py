"""The audit: findings, live board vs batch, and whether the prize cut-off is decidable.

Runs SQL steps 08-10 over the projections of a scoring run, then adds the findings
that need the whole ranking at once (the cut-off, prize differences with the live
board). Everything is a projection: rebuilt from the samples on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from ocq_batch.config import Config
from ocq_batch.paths import sql_steps, sql_text
from ocq_batch.pipeline import LAST_SCORING_STEP

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
    """The audit's tables (pandas) and its verdict."""

    findings: pd.DataFrame
    live: pd.DataFrame
    robustness: pd.DataFrame
    cutoff: CutOff

    def errors_touching_top(self) -> pd.DataFrame:
        """Findings of severity error about a prize winner, or about the whole event."""
        winners = set(self.robustness.loc[self.robustness.in_top, "user"])
        f = self.findings
        return f[(f.severity == "error") & (f.user.isna() | f.user.isin(winners))]

    def live_summary(self) -> list[str]:
        """Sentences on the live board: the same prize winners, or who differs and why."""
        live = self.live
        if live.live_rank.isna().all():
            return ["no live board series in the source"]
        differ = live[live.live_in_top.notna() & (live.live_in_top != live.batch_in_top)]
        if differ.empty:
            return ["the live board and the batch give the same prize winners"]
        return [
            f"{row.user} wins a prize under the {'batch only' if row.batch_in_top else 'live board only'} "
            f"(batch rank {row.batch_rank}, live rank {int(row.live_rank)}); cause: {row.cause}"
            for row in differ.itertuples()
        ]

    @property
    def clean(self) -> bool:
        """True when the top N is decided and no error finding touches it (exit code 0)."""
        return self.cutoff.decidable and self.errors_touching_top().empty


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


def decide_cutoff(robustness: pd.DataFrame, top: int) -> CutOff:
    """Is the prize set the same for every completion time inside the uncertainty intervals?"""
    inside = robustness[robustness.in_top]
    outside = robustness[~robustness.in_top]
    tied: list[str] = []
    if len(inside) > top:  # a shared rank straddles the cut-off
        last_rank = inside["rank"].max()
        tied = sorted(inside.loc[inside["rank"] == last_rank, "user"])
    pairs: list[tuple[str, str]] = []
    if not outside.empty:
        for a in inside.itertuples():
            for b in outside.itertuples():
                if a.score_min <= b.score_max:
                    pairs.append((str(a.user), str(b.user)))
    pairs.sort(key=lambda ab: (-_rank(robustness, ab[0]), _rank(robustness, ab[1])))
    return CutOff(top, not tied and not pairs, tied, pairs)


def _rank(frame: pd.DataFrame, user: str) -> int:
    return int(frame.loc[frame.user == user, "rank"].iloc[0])


def run_audit(con: duckdb.DuckDBPyConnection, config: Config) -> AuditResult:
    """Build robustness, findings and live_vs_batch, then the cut-off and prize findings."""
    write_audit_params(con, config)
    con.execute("set TimeZone = ?", [config.timezone])  # sentences speak the event's time
    try:
        for step in sql_steps(LAST_SCORING_STEP + 1):
            con.execute(sql_text(step))
        robustness = con.execute("select * from robustness order by rank, user").df()
        cutoff = decide_cutoff(robustness, config.top)
        extra = _cutoff_findings(cutoff, robustness) + _prize_findings(con, config)
        if extra:
            frame = pd.DataFrame(
                extra, columns=["severity", "check", "user", "exercise", "env", "cluster", "value", "message"]
            )
            con.register("extra", frame)
            con.execute(
                """
                insert into findings
                select severity, "check", user, exercise, env, cluster, null, null, value, message from extra
                """
            )
            con.unregister("extra")
        findings = con.execute(
            """
            select * from findings order by
              case severity when 'error' then 0 when 'warning' then 1 else 2 end, user nulls first,
              "check", exercise, env, evidence_at
            """
        ).df()
        live = con.execute("select * from live_vs_batch order by batch_rank, user").df()
    finally:
        con.execute("set TimeZone = 'UTC'")
    return AuditResult(findings, live, robustness, cutoff)


def _cutoff_findings(cutoff: CutOff, robustness: pd.DataFrame) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    if cutoff.tied:
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
                f"{cutoff.top - (len(robustness[robustness.in_top]) - len(cutoff.tied))} place(s); "
                "the jury decides",
            )
        )
    ranks = robustness.set_index("user")
    partners: dict[str, list[str]] = {}
    for inside, outside in cutoff.pairs:
        partners.setdefault(inside, []).append(outside)
        partners.setdefault(outside, []).append(inside)
    for user in sorted(partners, key=lambda u: (int(ranks.loc[u, "rank"]), u)):
        me = ranks.loc[user]
        where = "inside" if bool(me.in_top) else "outside"
        others = ", ".join(
            f"{o} (rank {int(ranks.loc[o, 'rank'])}, {ranks.loc[o, 'score_min']:.1f} to "
            f"{_fmt(ranks.loc[o, 'score_max'])})"
            for o in sorted(partners[user], key=lambda o: int(ranks.loc[o, "rank"]))
        )
        rows.append(
            (
                "error",
                "cutoff_undecidable",
                user,
                None,
                None,
                None,
                float(me.score_max - me.score_min),
                f"rank {int(me['rank'])}, {where} the top {cutoff.top}: "
                f"score {me.score_min:.1f} could be up to "
                f"{_fmt(me.score_max)} at the data's resolution, which overlaps {others}; "
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


def summary_counts(findings: pd.DataFrame) -> dict[str, int]:
    return {s: int((findings.severity == s).sum()) for s in SEVERITIES}
