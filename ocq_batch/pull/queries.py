"""The query plan: which PromQL series families one event needs, rendered from templates.

A query that is a plain selector (a metric name with label matchers) is read as the samples
the TSDB stores, at their own times (``mode = "raw"``: an instant query of a range selector,
see :mod:`ocq_batch.pull.api`). An expression (the live board's ``sum_over_time``) has no
stored samples of its own: it is read with ``query_range`` on a grid (``mode = "range"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ocq_batch.config.model import Config
from ocq_batch.errors import ConfigError


@dataclass(frozen=True)
class QuerySpec:
    """One PromQL query and what its series mean.

    ``component`` is ``completion``, a component name (``service``, ``database``,
    ``pipeline``), ``participants``, the raw series behind a component (``raw_service`` ...)
    or a part of the live board (``live_bonus``, ``live_ramp``); ``exercise`` and ``env`` are ``None`` when
    the query covers every exercise or environment (the dev-only pipeline counts
    for every environment, as in the live rules).
    """

    key: str
    component: str
    exercise: str | None
    env: str | None
    query: str
    optional: bool = False  # the live board's series: audited when present, never required
    mode: str = field(default="")  # raw | range; derived from the query

    def __post_init__(self) -> None:
        if not self.mode:
            object.__setattr__(self, "mode", "raw" if is_selector(self.query) else "range")


# a metric name, optionally followed by label matchers: {a="x", b=~"y.*", c!="z"}
_MATCHER = r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*'
_SELECTOR = re.compile(rf"^\s*[a-zA-Z_:][a-zA-Z0-9_:]*\s*(?:\{{(?:{_MATCHER}(?:,{_MATCHER})*,?)?\}})?\s*$")


def is_selector(query: str) -> bool:
    """Whether ``query`` is a plain series selector (``metric`` or ``metric{label="v", ...}``),
    whose stored samples can be read as they are (``query[range]``)."""
    return _SELECTOR.match(query) is not None


def _render(template: str, exercise: str | None, env: str | None) -> str:
    return template.replace("{exercise}", exercise or "").replace("{env}", env or "")


def plan_queries(config: Config) -> list[QuerySpec]:
    """Every query the event needs, in a stable order, each rendered once."""
    q = config.queries
    specs: list[QuerySpec] = []
    for ex in config.exercises:
        families = [("completion", q.completion)] + [(comp, getattr(q, comp)) for comp in ex.components]
        for component, template in families:
            envs: tuple[str | None, ...] = config.envs if "{env}" in template else (None,)
            for env in envs:
                specs.append(
                    QuerySpec(
                        key=f"{component}/{ex.name}/{env or '*'}",
                        component=component,
                        exercise=ex.name,
                        env=env,
                        query=_render(template, ex.name, env),
                    )
                )
    specs.append(QuerySpec("participants/*/*", "participants", None, None, q.participants))
    # the raw kube-state-metrics behind each component: optional, audited when present
    for ex in config.exercises:
        for comp in ex.components:
            template = getattr(q, f"raw_{comp}")
            envs = config.envs if "{env}" in template else (None,)
            for env in envs:
                specs.append(
                    QuerySpec(
                        key=f"raw_{comp}/{ex.name}/{env or '*'}",
                        component=f"raw_{comp}",
                        exercise=ex.name,
                        env=env,
                        query=_render(template, ex.name, env),
                        optional=True,
                    )
                )
    # the live board's two parts, per exercise, in the scoring environment only
    for component, template in (
        ("live_bonus", config.audit.live_bonus),
        ("live_ramp", config.audit.live_ramp),
    ):
        for ex in config.exercises:
            specs.append(
                QuerySpec(
                    key=f"{component}/{ex.name}/{config.env}",
                    component=component,
                    exercise=ex.name,
                    env=config.env,
                    query=_render(template, ex.name, config.env),
                    optional=True,
                )
            )
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.query in seen:
            raise ConfigError(
                f"queries {seen[spec.query]} and {spec.key} both render to {spec.query!r}; "
                "put {exercise} and {env} in the [queries] templates so each series family is distinct"
            )
        seen[spec.query] = spec.key
    return specs
