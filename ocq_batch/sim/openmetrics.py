"""The raw kube-state-metrics series the hub held for a simulated event, as OpenMetrics text.

The file feeds ``promtool tsdb create-blocks-from openmetrics``, which is strict in
ways that fail silently: timestamps are read as **seconds** (milliseconds would be
taken as seconds), samples out of order within a series are dropped, every metric
family must be contiguous (one ``# TYPE`` line, then all its series), lines end in
LF and the last line is ``# EOF``.

Grain: one series per (participant, cluster, namespace or object), one sample per
simulator grid point outside the participant's gaps. Values are what the hub saw
(:meth:`Observer.component`, which applies the collection interval), so the live
rules of :mod:`testbench.live_rules` recompute the recorded series from them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from ocq_batch.pull.queries import plan_queries
from ocq_batch.sim.event import Event, Observer, Truth

# the environment whose namespace runs the Tekton pipelines (its resync pod counts for every env)
PIPELINE_ENV = "dev"
# the environment whose databases are shared and pre-deployed: no per-user database pod
SHARED_DB_ENV = "prod"

_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"
_BUFFER = 1 << 20


def namespace(user: str, env: str) -> str:
    """The namespace a participant works in for one environment."""
    return f"{user}-workshop-{env}"


def pipeline_pod(user: str, exercise: str, cluster: str) -> str:
    """A Tekton resync pod name, ``<user>-<exercise>-run-<5 chars>-resync-pod``, stable across runs."""
    digest = hashlib.sha256(f"{user}/{exercise}/{cluster}".encode()).digest()
    suffix = "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:5])
    return f"{user}-{exercise}-run-{suffix}-resync-pod"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    """Shortest exact text for a float: integers without a decimal point."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# one family: (metric name, its series as (labels, component key or None for a constant 1))
Series = tuple[dict[str, str], tuple[str, str, str | None] | None]


def _families(event: Event, truth: Truth, cluster: str) -> dict[str, list[Series]]:
    """Every raw series of one participant on one cluster, grouped by metric family."""
    config, user = event.config, truth.user
    lbl = config.queries.cluster_label
    fams: dict[str, list[Series]] = {
        "kube_namespace_status_phase": [],
        "kube_deployment_status_condition": [],
        "kube_pod_status_phase": [],
    }
    for env in config.envs:
        labels = {lbl: cluster, "namespace": namespace(user, env), "phase": "Active"}
        fams["kube_namespace_status_phase"].append((labels, None))
    for ex in config.exercises:
        for env in config.envs:
            if "service" in ex.components:
                labels = {
                    lbl: cluster,
                    "namespace": namespace(user, env),
                    "deployment": ex.name,
                    "condition": "Available",
                    "status": "true",
                }
                fams["kube_deployment_status_condition"].append((labels, ("service", ex.name, env)))
            if "database" in ex.components and env != SHARED_DB_ENV:
                labels = {
                    lbl: cluster,
                    "namespace": namespace(user, env),
                    "pod": f"{ex.name}-database-1",
                    "phase": "Running",
                }
                fams["kube_pod_status_phase"].append((labels, ("database", ex.name, env)))
        if "pipeline" in ex.components:
            labels = {
                lbl: cluster,
                "namespace": namespace(user, PIPELINE_ENV),
                "pod": pipeline_pod(user, ex.name, cluster),
                "phase": "Succeeded",
            }
            fams["kube_pod_status_phase"].append((labels, ("pipeline", ex.name, None)))
    return fams


def _series_text(prefix: str, values: np.ndarray, stamps: list[str], keep: np.ndarray) -> tuple[str, int]:
    """The sample lines of one series (kept grid points only) and their count."""
    uniq, inverse = np.unique(values, return_inverse=True)
    texts = [f"{prefix} {_number(u)} " for u in uniq]
    idx = np.flatnonzero(keep)
    lines = [texts[inverse[i]] + stamps[i] for i in idx]
    if not lines:
        return "", 0
    return "\n".join(lines) + "\n", len(lines)


def _iter_families(
    event: Event, observer: Observer
) -> Iterator[tuple[str, Iterator[tuple[dict[str, str], np.ndarray, Truth]]]]:
    """(metric name, its series) in file order; each series is (labels, values per grid point, truth)."""
    names = ("kube_namespace_status_phase", "kube_deployment_status_condition", "kube_pod_status_phase")

    def series_of(name: str) -> Iterator[tuple[dict[str, str], np.ndarray, Truth]]:
        ones = np.ones(len(observer.grid))
        for truth in event.truths:
            for cluster in truth.clusters:
                for labels, key in _families(event, truth, cluster)[name]:
                    if key is None:
                        yield labels, ones, truth
                        continue
                    comp, ex, env = key
                    values = observer.component(truth, comp, ex, env, cluster)
                    if values is not None:  # a component the truth never had: no series at all
                        yield labels, values, truth

    for name in names:
        yield name, series_of(name)


def write_openmetrics(event: Event, path: Path) -> int:
    """Write the raw kube-state-metrics series of ``event`` to ``path``; returns the sample count.

    Streams one series at a time, so memory stays small whatever the event size.
    """
    observer = Observer(event)
    stamps = [_number(t) for t in observer.grid]
    masks = {id(t): observer.mask(t) for t in event.truths}
    total = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n", buffering=_BUFFER) as out:
        for name, series in _iter_families(event, observer):
            out.write(f"# TYPE {name} gauge\n")
            total += _write_family(out, name, series, stamps, masks)
        out.write("# EOF\n")
    return total


def _write_family(
    out: TextIO,
    name: str,
    series: Iterator[tuple[dict[str, str], np.ndarray, Truth]],
    stamps: list[str],
    masks: dict[int, np.ndarray],
) -> int:
    n = 0
    for labels, values, truth in series:
        text, count = _series_text(name + _labels(labels), values, stamps, masks[id(truth)])
        out.write(text)
        n += count
    return n


def write_recorded_openmetrics(event: Event, path: Path) -> int:
    """Write the series every configured query returns (what the hub recorded) to ``path``.

    One family per query, named after it, with the ``cluster`` and ``user`` labels. A
    TSDB made from this file answers every query by itself, without the live rules, so
    a large simulated event can be served by a real Prometheus in seconds. It is not a
    replay: Prometheus bridges a gap shorter than its lookback (5 minutes) with the last
    value. Streams one series at a time; returns the sample count.
    """
    observer = Observer(event)
    stamps = [_number(t) for t in observer.grid]
    total = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n", buffering=_BUFFER) as out:
        for spec in plan_queries(event.config):
            if spec.optional:
                continue
            out.write(f"# TYPE {spec.query} gauge\n")
            for labels, values, keep in observer.series_arrays(spec):
                prefix = spec.query + _labels({k: v for k, v in labels.items() if k != "__name__"})
                text, count = _series_text(prefix, values, stamps, keep)
                out.write(text)
                total += count
        out.write("# EOF\n")
    return total
