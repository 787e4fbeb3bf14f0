"""The verdict: is the prize cut-off decidable at the data's resolution, and what to do if not.

A participant's final score lies in ``[score_min, score_max]`` (the robustness table, SQL
step 09). The top N is decided when every participant inside it scores more, in every
case the data allows, than everyone outside it, and no shared rank straddles the cut-off.

When it is not, the verdict says which places are *contested* (a participant whose interval
overlaps someone's across the cut-off, or who shares the rank at the cut-off), the nearest
top N below and above that the same intervals do decide, and the findings that need the
whole ranking: the cut-off's own, a prize winner whose score has no upper bound or an
interval much wider than the field's, and a ``--top`` that leaves nobody out.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

INF = float("inf")
# a winner's score interval wider than this many times the winners' median width is an error
WIDE_FACTOR = 2.0


@dataclass(frozen=True)
class Place:
    """One contested participant: rank, whether inside the prize, the score interval."""

    rank: int
    user: str
    in_top: bool
    score_min: float
    score_max: float

    def label(self) -> str:
        return f"{self.user} ({self.rank})"


@dataclass
class CutOff:
    """Whether the top N is decided at the data's resolution, and around it what is not."""

    top: int
    decidable: bool
    tied: list[str]  # users sharing the rank at the cut-off with someone outside the prize
    pairs: list[tuple[str, str]]  # (inside, outside) whose score intervals overlap
    ranked: int = 0  # participants ranked
    contested: list[Place] = field(default_factory=list)  # in rank order
    below: int | None = None  # the largest top N under ``top`` that is decided
    above: int | None = None  # the smallest top N over ``top`` (and under the field) decided

    @property
    def everyone_wins(self) -> bool:
        """True when ``top`` leaves no ranked participant outside the prize."""
        return self.ranked > 0 and self.top >= self.ranked

    @property
    def contested_users(self) -> set[str]:
        return {p.user for p in self.contested}

    @property
    def contested_ranks(self) -> tuple[int, int] | None:
        """The first and last contested rank (both included), or None."""
        if not self.contested:
            return None
        return min(p.rank for p in self.contested), max(p.rank for p in self.contested)

    def range_text(self) -> str:
        lo, hi = self.contested_ranks or (0, 0)
        return f"rank {lo}" if lo == hi else f"ranks {lo} to {hi}"

    def nearest(self) -> list[int]:
        """The decided top N below and above, nearest to ``top`` first."""
        found = [n for n in (self.below, self.above) if n is not None]
        return sorted(found, key=lambda n: (abs(n - self.top), n))

    def advice(self) -> str:
        """What to do about an undecided cut-off: the nearest decided top N, or the jury."""
        options = [f"--top {n}" for n in self.nearest()]
        if options:
            return (
                f"a prize list of another size is decided: {' or '.join(options)} "
                f"(e.g. 'ocq-batch verify {options[0]}'); or the jury decides the contested places"
            )
        return "no other top N is decided either; the jury decides the contested places"

    def sentence(self) -> str:
        """The verdict in one sentence (the manifest's summary, the end of every command)."""
        if self.everyone_wins:
            more = "more than" if self.top > self.ranked else "as many as"
            return (
                f"--top {self.top} is {more} the {self.ranked} participants ranked: every one of them "
                "wins a prize, so there is no cut-off to decide"
            )
        if self.decidable:
            return f"the top {self.top} is decided at the data's resolution"
        inside = sum(1 for p in self.contested if p.in_top)
        parts = [
            f"{self.range_text()} are contested ({inside} inside the prize, "
            f"{len(self.contested) - inside} outside)"
        ]
        if self.tied:
            parts.append(f"{', '.join(self.tied)} tie at the cut-off")
        nearest = [f"top {n}" for n in self.nearest()]
        if nearest:
            parts.append(f"nearest decided: {' and '.join(nearest)}")
        return f"the top {self.top} is NOT decidable at the data's resolution: " + "; ".join(parts)

    def contested_text(self) -> str:
        """Who is contested, with rank, side and interval."""
        return ", ".join(
            f"{p.user} (rank {p.rank}, {'in' if p.in_top else 'out'}, "
            f"{p.score_min:.1f} to {_fmt(p.score_max)})"
            for p in self.contested
        )


def _decided_tops(ordered: Sequence[dict[str, Any]]) -> list[bool]:
    """``out[n]``: whether the top n is decided, for n in 0..len (prefix min, suffix max: O(n)).

    The top n is decided when no shared rank straddles it (the participant after the n-th
    has rank n+1) and the lowest possible score inside beats the highest possible outside.
    """
    n = len(ordered)
    suffix = [-INF] * (n + 1)
    for i in range(n - 1, -1, -1):
        suffix[i] = max(suffix[i + 1], float(ordered[i]["score_max"]))
    out = [False] * (n + 1)
    low = INF
    for k in range(1, n):
        low = min(low, float(ordered[k - 1]["score_min"]))
        out[k] = int(ordered[k]["rank"]) > k and low > suffix[k]
    out[n] = n > 0
    return out


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
    named = {u for pair in pairs for u in pair} | set(tied)
    if tied:  # everyone sharing the straddling rank is contested, inside or not
        named |= {r["user"] for r in robustness if r["rank"] == rank[tied[0]]}
    contested = [
        Place(int(r["rank"]), str(r["user"]), bool(r["in_top"]), float(r["score_min"]), float(r["score_max"]))
        for r in robustness
        if r["user"] in named
    ]
    decidable = not tied and not pairs
    below = above = None
    if not decidable:
        decided = _decided_tops(robustness)
        below = next((n for n in range(min(top, len(robustness)) - 1, 0, -1) if decided[n]), None)
        above = next((n for n in range(top + 1, len(robustness)) if decided[n]), None)
    return CutOff(top, decidable, tied, pairs, len(robustness), contested, below, above)


Finding = tuple[Any, ...]  # severity, check, user, exercise, env, cluster, value, message


def cutoff_findings(cutoff: CutOff, robustness: list[dict[str, Any]]) -> list[Finding]:
    rows: list[Finding] = []
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


def score_findings(cutoff: CutOff, robustness: list[dict[str, Any]]) -> list[Finding]:
    """Errors about prize winners whose score the data cannot pin down, and a --top with no cut-off.

    ``unbounded_score``: a winner's interval has no upper bound (an exercise was already
    complete when the window opened), so neither their true score nor their place among the
    winners is known. ``wide_score``: a winner's interval is more than :data:`WIDE_FACTOR`
    times the median width among the winners (a gap in the data around a completion, usually;
    winners mostly completed every exercise, so their widths compare).
    ``top_exceeds_field`` (info: the verdict's own sentence says it): every ranked participant
    wins a prize.
    """
    rows: list[Finding] = []
    if cutoff.everyone_wins:
        rows.append(
            (
                "info",
                "top_exceeds_field",
                None,
                None,
                None,
                None,
                float(cutoff.top),
                f"{cutoff.sentence()}; check --top or [scoring] top",
            )
        )
    widths = [
        float(r["score_max"] - r["score_min"])
        for r in robustness
        if r["in_top"] and r["score_max"] != INF and r["score_max"] > r["score_min"]
    ]
    median = statistics.median(widths) if widths else 0.0
    for r in robustness:
        if not r["in_top"]:
            continue
        rank, user, low, high = int(r["rank"]), str(r["user"]), float(r["score_min"]), float(r["score_max"])
        if high == INF:
            rows.append(
                (
                    "error",
                    "unbounded_score",
                    user,
                    None,
                    None,
                    None,
                    None,
                    f"rank {rank}, inside the top {cutoff.top}: the score {low:.1f} has no upper bound, "
                    "because an exercise was already complete when the window opened "
                    "(complete_at_window_start); the true score and this winner's place are unknown: "
                    "check --from against the event start, or the participant's own evidence",
                )
            )
        elif median > 0 and high - low > WIDE_FACTOR * median:
            rows.append(
                (
                    "error",
                    "wide_score",
                    user,
                    None,
                    None,
                    None,
                    high - low,
                    f"rank {rank}, inside the top {cutoff.top}: the score could be anywhere from "
                    f"{low:.1f} to {high:.1f} ({high - low:.1f} points, more than {WIDE_FACTOR:g} times "
                    f"the winners' median of {median:.1f}); see the participant's data_gap and "
                    "wide_uncertainty findings before confirming this prize",
                )
            )
    return rows


def _fmt(x: float) -> str:
    return "unbounded" if x == INF else f"{x:.1f}"
