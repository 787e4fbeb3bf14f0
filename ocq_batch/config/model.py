"""The resolved configuration of one event: what is scored, how, and over which window.

Every field defaults to Open Code Quest 2024 (:data:`DEFAULT`); :mod:`ocq_batch.config.toml`
reads a TOML file over it, :mod:`ocq_batch.config.settings` reads it back from a manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from ocq_batch.errors import ConfigError
from ocq_batch.timeutil import iso, parse_instant

MODELS = ("continuous", "stepped")
SIGNALS = ("recorded", "components")
COMPONENTS = ("service", "database", "pipeline")


@dataclass(frozen=True)
class Exercise:
    """One exercise: base points, expected end after the event start (s), penalty weight."""

    name: str
    base: float
    expected_s: float
    penalty: float
    components: tuple[str, ...]


@dataclass(frozen=True)
class Queries:
    """PromQL templates; ``{exercise}`` and ``{env}`` are filled in per series family."""

    completion: str = "opencodequest_leaderboard_{exercise}:{env}"
    service: str = "opencodequest_{exercise}_quarkus_pod:{env}"
    database: str = "opencodequest_{exercise}_db_pod:{env}"
    pipeline: str = "opencodequest_{exercise}_pipeline"
    participants: str = "opencodequest_users"
    user_label: str = "user"
    cluster_label: str = "cluster"
    # the raw kube-state-metrics behind the components (optional: audited when the source has
    # them, e.g. forwarded by ACM's allowlist); their user is read from the namespace label
    raw_service: str = (
        'kube_deployment_status_condition{deployment="{exercise}",condition="Available",status="true",'
        'namespace=~".+-workshop-{env}"}'
    )
    raw_database: str = (
        'kube_pod_status_phase{pod="{exercise}-database-1",phase="Running",namespace=~".+-workshop-{env}"}'
    )
    raw_pipeline: str = 'kube_pod_status_phase{pod=~".+-{exercise}-run-.+-resync-pod",phase="Succeeded"}'
    namespace_label: str = "namespace"
    namespace_user: str = "^(.+)-workshop-[^-]+$"  # a regex whose first group is the user


# the [queries] keys, in the order of the class (a config file's keys are the field names)
QUERY_KEYS = tuple(f.name for f in fields(Queries))


@dataclass(frozen=True)
class Audit:
    """How the audit reads the live board and judges the data's resolution."""

    # per-exercise PromQL templates of the live board's two parts (summed over exercises)
    live_bonus: str = "opencodequest_leaderboard_{exercise}_lifetime_bonus:{env}"
    live_ramp: str = "sum_over_time(opencodequest_leaderboard_{exercise}:{env}[1h])"
    eval_interval_s: float = 30.0  # the ruler's evaluation interval: one live ramp point per evaluation
    bonus_repeats: float = 3.0  # evaluations in which the live one-time bonus fires (increase[2m] at 30s)
    live_window_s: float = 3600.0  # the live board's sum_over_time window
    # the lineage of a completion sample (SCORING.md, time model): component values reached the
    # hub every collect_interval, and were up to component_lag older than the sample showing them
    collect_interval_s: float = 300.0
    component_lag_s: float = 30.0  # the managed cluster's rule evaluation and kube-state-metrics scrape
    fast_factor: float = 0.5  # faster than this fraction of the field's median duration: suspicious


@dataclass(frozen=True)
class Config:
    """The resolved configuration of one event."""

    name: str = "opencodequest-2024"
    start: datetime = field(default_factory=lambda: parse_instant("2024-10-04T13:15:00Z"))
    end: datetime = field(default_factory=lambda: parse_instant("2024-10-04T15:45:00Z"))
    timezone: str = "Europe/Paris"
    envs: tuple[str, ...] = ("dev", "preprod", "prod")
    exclude_users: tuple[str, ...] = ("^test",)
    env: str = "prod"
    model: str = "continuous"
    signal: str = "recorded"
    tick_s: float = 300.0
    accelerator: float = 1.0
    top: int = 30
    step_s: float | None = None  # the grid of expression queries; None: [audit] eval_interval
    chunk_s: float = 6 * 3600.0  # the longest range of one request for stored samples
    exercises: tuple[Exercise, ...] = (
        Exercise("hero", 55.0, 55 * 60.0, 1.0, COMPONENTS),
        Exercise("villain", 25.0, 85 * 60.0, 1.0, COMPONENTS),
        Exercise("fight", 29.0, 130 * 60.0, 1.0, ("service", "pipeline")),
    )
    queries: Queries = field(default_factory=Queries)
    audit: Audit = field(default_factory=Audit)
    origin: str = "built-in Open Code Quest 2024 configuration"

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready view of every setting (used for the digest and manifest)."""
        data = asdict(self)
        data.pop("origin")
        data["start"] = iso(self.start)
        data["end"] = iso(self.end)
        return data

    def digest(self) -> str:
        """sha256 of the canonical JSON of every setting: same digest, same scoring."""
        blob = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def with_overrides(self, **changes: Any) -> Config:
        """A copy with command-line overrides applied and validated."""
        clean = {k: v for k, v in changes.items() if v is not None}
        if "env" in clean and clean["env"] not in self.envs:
            raise ConfigError(
                f"--env {clean['env']!r} is not one of this event's environments "
                f"({', '.join(self.envs)}); pick one of those or add it to [event] envs"
            )
        if "model" in clean and clean["model"] not in MODELS:
            raise ConfigError(f"--model {clean['model']!r} is unknown; use one of {', '.join(MODELS)}")
        if "top" in clean and clean["top"] < 1:
            raise ConfigError(f"--top {clean['top']} must be at least 1")
        return replace(self, **clean)


DEFAULT = Config()


@dataclass(frozen=True)
class Window:
    """The scoring window ``[start, end]`` (UTC, both included); scores are taken at ``end``."""

    start: datetime
    end: datetime
