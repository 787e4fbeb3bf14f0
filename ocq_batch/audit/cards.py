"""Winner verification: one evidence card per prize winner, for the jury."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from ocq_batch.audit.run import AuditResult
from ocq_batch.config.model import Config
from ocq_batch.errors import ConfigError
from ocq_batch.timeutil import local, zone


@dataclass
class ExerciseEvidence:
    """One exercise of one winner in the scoring environment."""

    exercise: str
    completed_at: datetime | None
    earliest_at: datetime | None  # the true moment lies in (earliest_at, completed_at]
    cluster: str | None
    points: float
    components: str  # the component_evidence sentence, when there is one


@dataclass
class Card:
    """Everything the jury needs to confirm one winner."""

    rank: int
    user: str
    score: float
    score_min: float
    score_max: float
    clusters: list[str]
    exercises: list[ExerciseEvidence] = field(default_factory=list)
    findings: list[tuple[str, str, str]] = field(default_factory=list)  # severity, check, message

    @property
    def worst(self) -> str:
        for severity in ("error", "warning"):
            if any(f[0] == severity for f in self.findings):
                return severity
        return "ok"


def evidence_cards(
    con: duckdb.DuckDBPyConnection, config: Config, audit: AuditResult, users: Sequence[str] | None = None
) -> list[Card]:
    """A card for every participant inside the top N (ties at the cut-off included), or for
    each of ``users``, in the order given; ConfigError for a name that is not ranked."""
    rob = audit.robustness
    if users:
        _check_ranked(con, list(rob.user), users)
        wanted = list(dict.fromkeys(users))
        winners = rob.set_index("user").loc[wanted].reset_index()
    else:
        winners = rob[rob.in_top].sort_values(["rank", "user"])
    clusters = dict(con.execute("select user, clusters from users_seen").fetchall())
    rows = con.execute(
        """
        select s.user, s.exercise, s.completed_at, b.earliest_at, s.cluster, s.points
        from scores as s
        join exercise_params as e using (exercise)
        cross join run_params as p
        join exercise_bounds as b on b.user = s.user and b.exercise = s.exercise
        where s.model = p.model order by s.user, e.ordinal
        """
    ).fetchall()
    per_user: dict[str, list[ExerciseEvidence]] = {}
    evidence = audit.findings[audit.findings.check == "component_evidence"]
    for user, exercise, at, earliest, cluster, points in rows:
        sentence = evidence[
            (evidence.user == user) & (evidence.exercise == exercise) & (evidence.env == config.env)
        ].message
        per_user.setdefault(user, []).append(
            ExerciseEvidence(
                exercise, at, earliest, cluster, float(points), sentence.iloc[0] if len(sentence) else ""
            )
        )
    cards = []
    notable = audit.findings[audit.findings.check != "component_evidence"]
    for row in winners.itertuples():
        user = str(row.user)
        mine = notable[notable.user == user]
        cards.append(
            Card(
                rank=int(row.rank),
                user=user,
                score=float(row.score),
                score_min=float(row.score_min),
                score_max=float(row.score_max),
                clusters=list(clusters.get(user) or []),
                exercises=per_user.get(user, []),
                findings=[(f.severity, f.check, f.message) for f in mine.itertuples()],
            )
        )
    return cards


def _check_ranked(con: duckdb.DuckDBPyConnection, ranked: list[str], users: Sequence[str]) -> None:
    """Every name in ``users`` is ranked; else say it was excluded, unseen, or what was meant."""
    excluded = dict(con.execute("select user, pattern from exclusions").fetchall())
    for user in users:
        if user in ranked:
            continue
        if user in excluded:
            raise ConfigError(
                f"--user {user!r} is excluded by [event] exclude_users ({excluded[user]!r}): not ranked"
            )
        close = difflib.get_close_matches(user, ranked, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else "; see the ranking for the names"
        raise ConfigError(f"--user {user!r} is not a ranked participant of this event{hint}")


def card_lines(card: Card, config: Config) -> list[str]:
    """Plain-text lines of a card (the CLI adds colour)."""
    tz = zone(config.timezone)
    hi = "unbounded" if card.score_max == float("inf") else f"{card.score_max:.1f}"
    lines = [
        f"#{card.rank} {card.user}: {card.score:.1f} points (could be {card.score_min:.1f} to {hi}); "
        f"clusters: {', '.join(card.clusters) or '-'}"
    ]
    for ex in card.exercises:
        if ex.completed_at is None:
            lines.append(f"  {ex.exercise:<8} not completed in {config.env}")
            continue
        since = local(ex.earliest_at, tz) if ex.earliest_at else "before the window"
        lines.append(
            f"  {ex.exercise:<8} {local(ex.completed_at, tz)} on {ex.cluster} (after {since}) "
            f"= {ex.points:.1f} pts"
        )
        if ex.components:
            lines.append(f"           {ex.components.split(': ', 1)[-1]}")
    for severity, check, message in card.findings:
        lines.append(f"  {severity}: {check}: {message}")
    return lines
