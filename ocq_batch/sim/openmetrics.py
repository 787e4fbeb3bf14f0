"""A simulated event's series as OpenMetrics text, for ``promtool tsdb create-blocks-from openmetrics``.

promtool is strict in ways that fail silently: timestamps are read as **seconds**
(milliseconds would be taken as seconds), samples out of order within a series are
dropped, every metric family must be contiguous (one ``# TYPE`` line, then all its
series), lines end in LF and the last line is ``# EOF``.

Two files: ``raw.om`` holds the raw kube-state-metrics series the hub received (one sample
per collection of the participant's cluster, outside gaps: :class:`Observer`), which the
live rules of ``testbench/live_rules.py`` read; ``recorded.om`` holds the series every
configured query returns (what the hub's rules recorded), so that a TSDB answers the
queries without rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from ocq_batch.config.model import Config
from ocq_batch.pull.queries import plan_queries
from ocq_batch.sim.event import SHARED_DB_ENV, Event, Observer, Truth

# the environment whose namespace runs the Tekton pipelines (its resync pod counts for every env)
PIPELINE_ENV = "dev"

_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"
_BUFFER = 1 << 20
KSM = ("kube_namespace_status_phase", "kube_deployment_status_condition", "kube_pod_status_phase")


def namespace(user: str, env: str) -> str:
    """The namespace a participant works in for one environment."""
    return f"{user}-workshop-{env}"


def pipeline_pod(user: str, exercise: str, cluster: str) -> str:
    """A Tekton resync pod name, ``<user>-<exercise>-run-<5 chars>-resync-pod``, stable across runs."""
    digest = hashlib.sha256(f"{user}/{exercise}/{cluster}".encode()).digest()
    suffix = "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:5])
    return f"{user}-{exercise}-run-{suffix}-resync-pod"


def raw_labels(
    config: Config, user: str, cluster: str, comp: str, exercise: str, env: str | None
) -> dict[str, str]:
    """The labels of the kube-state-metrics series behind one component (``__name__`` first)."""
    lbl = config.queries.cluster_label
    if comp == "service":
        return {"__name__": KSM[1], lbl: cluster, "namespace": namespace(user, env or PIPELINE_ENV),
                "deployment": exercise, "condition": "Available", "status": "true"}  # fmt: skip
    if comp == "database":
        return {"__name__": KSM[2], lbl: cluster, "namespace": namespace(user, env or PIPELINE_ENV),
                "pod": f"{exercise}-database-1", "phase": "Running"}  # fmt: skip
    return {"__name__": KSM[2], lbl: cluster, "namespace": namespace(user, PIPELINE_ENV),
            "pod": pipeline_pod(user, exercise, cluster), "phase": "Succeeded"}  # fmt: skip


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items() if k != "__name__") + "}"


def _number(value: float) -> str:
    """Shortest exact text for a float: integers without a decimal point."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _stamp(value: float) -> str:
    """A timestamp in seconds, to the millisecond (promtool reads seconds)."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def _series_text(prefix: str, at: np.ndarray, values: np.ndarray) -> str:
    """The sample lines of one series."""
    return "".join(
        f"{prefix} {_number(v)} {_stamp(t)}\n" for t, v in zip(at.tolist(), values.tolist(), strict=True)
    )


def _raw_series(
    event: Event, observer: Observer, truth: Truth, cluster: str
) -> Iterator[tuple[dict[str, str], np.ndarray, np.ndarray]]:
    """Every kube-state-metrics series of one participant on one cluster: namespaces, then the
    components' deployments and pods."""
    config = event.config
    at = observer.collections(cluster)
    at = at[observer.fresh(truth, at)]
    lbl = config.queries.cluster_label
    for name in config.envs:
        labels = {
            "__name__": KSM[0],
            lbl: cluster,
            "namespace": namespace(truth.user, name),
            "phase": "Active",
        }
        yield labels, at, np.ones(len(at))
    for ex in config.exercises:
        for comp in ex.components:
            envs = (None,) if comp == "pipeline" else config.envs
            for env in envs:
                if comp == "database" and env == SHARED_DB_ENV:
                    continue
                samples = observer.component_samples(truth, comp, ex.name, env, cluster)
                if samples is not None and len(samples[0]):
                    yield raw_labels(config, truth.user, cluster, comp, ex.name, env), *samples


def write_openmetrics(event: Event, path: Path) -> int:
    """Write the raw kube-state-metrics series of ``event`` to ``path``; returns the sample count.

    One family at a time (promtool wants them contiguous), one series at a time: memory
    stays small whatever the event size.
    """
    observer = Observer(event)
    total = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n", buffering=_BUFFER) as out:
        for family in KSM:
            out.write(f"# TYPE {family} gauge\n")
            for truth in event.truths:
                for cluster in truth.clusters:
                    for labels, at, values in _raw_series(event, observer, truth, cluster):
                        if labels["__name__"] == family:
                            total += _write(out, family + _labels(labels), at, values)
        out.write("# EOF\n")
    return total


def _write(out: TextIO, prefix: str, at: np.ndarray, values: np.ndarray) -> int:
    out.write(_series_text(prefix, at, values))
    return len(at)


def write_recorded_openmetrics(event: Event, path: Path) -> int:
    """Write the series every configured query returns (what the hub recorded) to ``path``.

    One family per plain-selector query, named after it, with the ``cluster`` and ``user``
    labels (and the raw families under their own names). A TSDB made from this file answers
    every query by itself, without the live rules, so a large simulated event can be served
    by a real Prometheus in seconds. Streams one series at a time; returns the sample count.
    """
    observer = Observer(event)
    total = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n", buffering=_BUFFER) as out:
        for spec in plan_queries(event.config):
            if spec.optional:
                continue
            out.write(f"# TYPE {spec.query} gauge\n")
            for labels, at, values in observer.series_arrays(spec):
                total += _write(out, spec.query + _labels(labels), at, values)
        out.write("# EOF\n")
    return total
