"""The live leaderboard's recording rules, written from an event configuration.

:func:`live_rules` rebuilds, from a :class:`~ocq_batch.config.model.Config`, rules of the kind the
live board used (completion inferred from kube-state-metrics, a one-time time bonus and an
accelerator ramp, points per user); :func:`rules_yaml` writes them as a Prometheus rule
file. The local bench (:mod:`testbench.prometheus`) backfills them, so that the tests and the
benchmarks have a live board to compare the batch with.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ocq_batch.config.model import Config
from ocq_batch.errors import ConfigError
from ocq_batch.sim.openmetrics import PIPELINE_ENV, SHARED_DB_ENV

_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_NAME = re.compile(r"^[a-zA-Z0-9_]+(-[a-zA-Z0-9_]+)*$")  # safe inside a regex and a namespace


def _render(template: str, exercise: str, env: str | None) -> str:
    name = template.replace("{exercise}", exercise).replace("{env}", env or "")
    if not _METRIC.match(name):
        raise ConfigError(f"query template {template!r} renders to {name!r}, which is not a metric name")
    return name


def _suffixed(name: str, suffix: str) -> str:
    """``a:env`` -> ``a<suffix>:env`` (the recording-rule naming convention); else append."""
    head, sep, tail = name.partition(":")
    return f"{head}{suffix}{sep}{tail}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def live_rules(config: Config, increase_window: str = "2m", lifetime_window: str = "1h") -> dict[str, Any]:
    """The live leaderboard as Prometheus recording rules, in four groups (YAML-ready).

    1. components per (user, cluster), 0 by default for every active participant;
    2. completion: every component at 1;
    3. one-time bonus: at each evaluation where the completion just rose;
    4. lifetime bonus: the one-time bonus summed over ``lifetime_window``.
    """
    q = config.queries
    user, cluster = q.user_label, q.cluster_label
    for label in (user, cluster):
        if not _LABEL.match(label):
            raise ConfigError(f"[queries] label {label!r} is not a Prometheus label name")
    for name in [*config.envs, *(ex.name for ex in config.exercises)]:
        if not _NAME.match(name):
            raise ConfigError(f"{name!r} cannot name a namespace or pod; use letters, digits, '_' and '-'")
    by = f"by ({user}, {cluster})"
    envs = "|".join(config.envs)
    active = (
        f"group {by} (label_replace(\n"
        f'  kube_namespace_status_phase{{namespace=~".+-workshop-({envs})",phase="Active"}} == 1,\n'
        f'  "{user}", "$1", "namespace", "(.+)-workshop-(?:{envs})"))'
    )

    def component(selector: str, env: str) -> str:
        return (
            f"clamp_max(sum {by} (label_replace(\n"
            f"  {selector},\n"
            f'  "{user}", "$1", "namespace", "(.+)-workshop-{env}")), 1)\n'
            f"or 0 * {active}"
        )

    components: list[dict[str, str]] = []
    completions: list[dict[str, str]] = []
    onetime: list[dict[str, str]] = []
    lifetime: list[dict[str, str]] = []
    pipelines_done: set[str] = set()
    for ex in config.exercises:
        for env in config.envs:
            parts: list[str] = []
            if "service" in ex.components:
                name = _render(q.service, ex.name, env)
                sel = (
                    f'kube_deployment_status_condition{{namespace=~".+-workshop-{env}",'
                    f'deployment="{ex.name}",condition="Available",status="true"}}'
                )
                components.append({"record": name, "expr": component(sel, env)})
                parts.append(name)
            if "database" in ex.components:
                name = _render(q.database, ex.name, env)
                if env == SHARED_DB_ENV:  # shared, pre-deployed databases: ready for everyone
                    expr = active
                else:
                    sel = (
                        f'kube_pod_status_phase{{namespace=~".+-workshop-{env}",'
                        f'pod="{ex.name}-database-1",phase="Running"}}'
                    )
                    expr = component(sel, env)
                components.append({"record": name, "expr": expr})
                parts.append(name)
            if "pipeline" in ex.components:
                # the dev namespace runs the pipeline; its resync pod counts for every env
                name = _render(q.pipeline, ex.name, env if "{env}" in q.pipeline else None)
                if name not in pipelines_done:
                    sel = (
                        f'kube_pod_status_phase{{namespace=~".+-workshop-{PIPELINE_ENV}",'
                        f'pod=~".+-{ex.name}-run-.+-resync-pod",phase="Succeeded"}}'
                    )
                    components.append({"record": name, "expr": component(sel, PIPELINE_ENV)})
                    pipelines_done.add(name)
                parts.append(name)
            done = _render(q.completion, ex.name, env)
            completions.append(
                {"record": done, "expr": f"max {by} (\n  ({' + '.join(parts)}) == bool {len(parts)}\n)"}
            )
            ahead = (
                f"({_num(config.start.timestamp())} + {_num(ex.expected_s)} - time()) / {_num(config.tick_s)}"
            )
            weight = "" if ex.penalty == 1 else f"{_num(ex.penalty)} * "
            bonus = _suffixed(done, "_onetime_bonus")
            onetime.append(
                {
                    "record": bonus,
                    "expr": (
                        f"(increase({done}[{increase_window}]) >= bool 0.5)\n"
                        f"* ({_num(ex.base)} + {weight}{ahead})"
                    ),
                }
            )
            lifetime.append(
                {
                    "record": _suffixed(done, "_lifetime_bonus"),
                    "expr": f"sum_over_time({bonus}[{lifetime_window}])",
                }
            )
    components.append({"record": _render(q.participants, "", None), "expr": active})
    records = [r["record"] for r in [*components, *completions, *onetime, *lifetime]]
    if len(set(records)) != len(records):
        twice = sorted({r for r in records if records.count(r) > 1})
        raise ConfigError(
            f"[queries] templates give several rules the name {twice[0]!r}; use {{exercise}} and {{env}}"
        )
    return {
        "groups": [
            {"name": "opencodequest_components", "rules": components},
            {"name": "opencodequest_completion", "rules": completions},
            {"name": "opencodequest_onetime_bonus", "rules": onetime},
            {"name": "opencodequest_lifetime_bonus", "rules": lifetime},
        ]
    }


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_:./-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(value: Any, indent: str) -> str:
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _num(value)
    text = str(value)
    if "\n" in text and not text[:1].isspace() and not text.endswith("\n"):
        body = "\n".join(f"{indent}  {line}" if line else "" for line in text.split("\n"))
        return "|-\n" + body
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(value: dict[str, Any] | list[Any], indent: str = "") -> str:
    """Block-style YAML for nested dicts, lists and scalars (enough for Prometheus rule files)."""
    out: list[str] = []
    items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
    for key, item in items:
        lead = f"{indent}{key}:" if key is not None else f"{indent}-"
        if isinstance(item, dict | list) and item:
            nested = to_yaml(item, indent + "  ")
            # a list item's first key goes on the dash line; a map value starts on the next line
            out.append(f"{lead} {nested[len(indent) + 2 :]}" if key is None else f"{lead}\n{nested}")
        else:
            out.append(f"{lead} {_scalar(item, indent)}\n")
    return "".join(out)


def rules_yaml(config: Config) -> str:
    """The rule file for ``config``: what ``data/rules/opencodequest.rules.yml`` holds for the default."""
    header = (
        "# The live leaderboard recording rules for the default config: do not edit, regenerate with\n"
        "# testbench.live_rules.rules_yaml(DEFAULT) (tests/test_bench.py checks that they match).\n"
    )
    return header + to_yaml(live_rules(config))
