"""The verdict: is the prize cut-off decidable at the data's resolution?

A participant's final score lies in ``[score_min, score_max]`` (the robustness table, SQL
step 08). The top N is decided when every participant inside it scores more, in every
case the data allows, than everyone outside it, and no shared rank straddles the cut-off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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


def cutoff_findings(cutoff: CutOff, robustness: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
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
