"""What both reports show: the ranking with its score intervals, findings grouped by participant.

``report.md`` (:mod:`ocq_batch.report.markdown`) and ``report.html``
(:mod:`ocq_batch.report.html`) lay the same content out; it is gathered here once. The
tables arrive as :class:`~ocq_batch.rows.Rows`, read as plain Python rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ocq_batch.audit.run import AuditResult
from ocq_batch.config.model import Config
from ocq_batch.rows import Rows
from ocq_batch.timeutil import local, zone


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


def grouped(findings: Rows) -> Iterable[tuple[str, list[dict[str, Any]]]]:
    """Findings per participant, most severe participant first; in a group by severity, then check.

    Within a group the sort is stable, so findings keep their order otherwise. An unknown
    severity sorts last, and a missing check after every check.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in findings.rows:
        user = row["user"]
        groups.setdefault(WHOLE_EVENT if user is None else str(user), []).append(row)

    def order(row: dict[str, Any]) -> tuple[int, int, str]:
        severity = SEVERITY_ORDER.get(row["severity"], len(SEVERITY_ORDER))
        check = row["check"]
        return (severity, 0, check) if isinstance(check, str) else (severity, 1, "")

    for rows in groups.values():
        rows.sort(key=order)
    worst = {user: order(rows[0])[0] for user, rows in groups.items()}
    for user in sorted(groups, key=lambda u: (worst[u], u != WHOLE_EVENT, u)):
        yield user, groups[user]
