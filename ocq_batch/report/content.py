"""What the reports show: the ranking with its score intervals, findings by participant in rank
order, the zoom of the uncertainty bars, the provenance.

``report.md`` (:mod:`ocq_batch.report.markdown`), ``report.html`` (:mod:`ocq_batch.report.html`)
and ``ceremony.html`` (:mod:`ocq_batch.report.ceremony`) lay the same content out; it is
gathered here once. The tables arrive as :class:`~ocq_batch.rows.Rows`, read as plain rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocq_batch.audit.run import AuditResult
from ocq_batch.audit.verdict import CutOff
from ocq_batch.config.model import Config
from ocq_batch.rows import Rows
from ocq_batch.timeutil import local, zone

INF = float("inf")


def with_bounds(ranking: Rows, result: AuditResult) -> list[dict[str, Any]]:
    """The ranking's rows, each with its score interval from the robustness table."""
    bounds = {r["user"]: r for r in result.tables["robustness"].rows}
    return [
        {**row, "score_min": bounds[row["user"]]["score_min"], "score_max": bounds[row["user"]]["score_max"]}
        for row in ranking.rows
        if row["user"] in bounds
    ]


def when(value: Any, config: Config) -> str:
    return "-" if value is None else local(value, zone(config.timezone))


WHOLE_EVENT = "(whole event)"  # the group of findings about no one participant
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass
class Group:
    """The findings about one participant (or the whole event), most severe first."""

    user: str
    rank: int | None  # None: the whole event, or someone not ranked (an excluded account)
    findings: list[dict[str, Any]]

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f["severity"] == severity)

    @property
    def worst(self) -> str:
        return self.findings[0]["severity"] if self.findings else "info"

    @property
    def notes(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["severity"] == "info"]

    @property
    def serious(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["severity"] != "info"]


def _order(row: dict[str, Any]) -> tuple[int, int, str]:
    severity = SEVERITY_ORDER.get(row["severity"], len(SEVERITY_ORDER))
    check = row["check"]
    return (severity, 0, check) if isinstance(check, str) else (severity, 1, "")


def by_rank(findings: Rows, ranking: Rows) -> list[Group]:
    """Findings per participant in rank order: the whole event first, then rank 1, 2, ...,
    then anyone not ranked (excluded accounts) by name. Within a group: by severity, then
    check (stable otherwise); an unknown severity sorts last, a missing check after every check.
    """
    ranks = {r["user"]: int(r["rank"]) for r in ranking.rows}
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in findings.rows:
        user = row["user"]
        groups.setdefault(WHOLE_EVENT if user is None else str(user), []).append(row)
    for rows in groups.values():
        rows.sort(key=_order)

    def place(user: str) -> tuple[int, int, str]:
        if user == WHOLE_EVENT:
            return (0, 0, "")
        return (1, ranks[user], user) if user in ranks else (2, 0, user)

    return [Group(u, ranks.get(u), groups[u]) for u in sorted(groups, key=place)]


def zoom(rows: list[dict[str, Any]], cutoff: CutOff) -> tuple[float, float]:
    """The score scale of the uncertainty bars: the contested places (or, when the cut-off is
    decided, the three places each side of it) with a margin, so overlaps can be seen."""
    focus = [r for r in rows if r["user"] in cutoff.contested_users]
    if not focus:
        focus = [r for r in rows if cutoff.top - 2 <= int(r["rank"]) <= cutoff.top + 3] or rows
    if not focus:
        return 0.0, 1.0
    lo = min(float(r["score_min"]) for r in focus)
    highs = [float(r["score_max"]) for r in focus if r["score_max"] != INF]
    hi = max([*highs, *(float(r["score_min"]) for r in focus)])
    pad = max((hi - lo) * 0.15, 1.0)
    return lo - pad, hi + pad


def lowest_winner(rows: list[dict[str, Any]]) -> float | None:
    """The lowest score a prize winner can have: a bar outside the prize reaching it overlaps."""
    inside = [float(r["score_min"]) for r in rows if r["in_top"]]
    return min(inside) if inside else None


@dataclass(frozen=True)
class Provenance:
    """Where a report comes from: the tool, the settings, the data (see :func:`data_digest`)."""

    tool_version: str
    config_digest: str
    data_digest: str
    data_files: tuple[str, ...]
    source: str

    def sentence(self) -> str:
        return (
            f"ocq-batch {self.tool_version}; config sha256 {self.config_digest}; data sha256 "
            f"{self.data_digest}, the sha256 of the manifest's 'name sha256' lines of its data files "
            f"({', '.join(self.data_files)}), sorted by name. The reports are not in it: the manifest "
            "lists each report's own sha256, which a report cannot contain."
        )
