"""The query plan: which PromQL series families one event needs, rendered from templates."""

from __future__ import annotations

from dataclasses import dataclass

from ocq_batch.config.model import Config
from ocq_batch.errors import ConfigError


@dataclass(frozen=True)
class QuerySpec:
    """One PromQL query and what its series mean.

    ``component`` is ``completion``, a component name (``service``, ``database``,
    ``pipeline``) or ``participants``; ``exercise`` and ``env`` are ``None`` when
    the query covers every exercise or environment (the dev-only pipeline counts
    for every environment, as in the live rules).
    """

    key: str
    component: str
    exercise: str | None
    env: str | None
    query: str
    optional: bool = False  # the live board's series: audited when present, never required


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
