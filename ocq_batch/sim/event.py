"""A deterministic simulator of an Open Code Quest event, for the demo and for tests.

The simulator first draws the *truth*: when each participant's database, pipeline
and service became ready in each environment. It then *observes* that truth the way
the hub saw it: component values are forwarded every ``collect_s`` seconds (per
cluster, with a per-cluster phase) and stored at those times, and the hub's ruler,
evaluated every ``step_s`` seconds, ANDs the forwarded values into the completion series
(:class:`Observer`). Gaps drop samples.

The awkward cases of a real event are planted on purpose and listed in
:attr:`Event.cases`, so tests can check that each is handled.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ocq_batch.config.model import DEFAULT, Config, Exercise
from ocq_batch.detect.formula import is_done, points
from ocq_batch.pull.queries import QuerySpec
from ocq_batch.timeutil import parse_instant

# nominal minutes a median participant needs for each exercise in dev, and promotion delays
_WORK_MIN = {"hero": 48.0, "villain": 27.0, "fight": 40.0}
_PROMOTE_MIN = (3.0, 9.0)
# the near-tie search re-ranks the field several times: planted in events up to this size only
NEAR_TIE_MAX = 500


class NearTieError(RuntimeError):
    """The seed's event has no pair at the cut-off that a near-tie can be planted on."""


@dataclass(frozen=True)
class SimParams:
    """What to simulate. Times are unix seconds; the defaults give the bundled demo event."""

    seed: int = 2024
    participants: int = 74
    clusters: int = 6
    test_accounts: int = 2
    start: float = parse_instant("2024-10-04T13:00:00Z").timestamp()
    hours: float = 3.0
    step_s: float = 30.0
    collect_s: float = 300.0
    awkward: bool = True

    @property
    def end(self) -> float:
        return self.start + self.hours * 3600


@dataclass
class Truth:
    """One participant: clusters, and per (component, exercise, env) the true ready times.

    ``ready[(component, exercise, env)]`` is a list of ``(t, value)`` changes (initially 0);
    env is ``None`` for the dev-only pipeline. ``gaps`` are ``(from, to)`` spans with no sample.
    """

    user: str
    clusters: list[str]
    ready: dict[tuple[str, str, str | None, str], list[tuple[float, float]]] = field(default_factory=dict)
    gaps: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Event:
    """A simulated event: the truths and the named awkward cases (case -> users)."""

    params: SimParams
    config: Config
    truths: list[Truth]
    cases: dict[str, list[str]]
    phases: dict[str, float]


def cluster_names(n: int) -> list[str]:
    return [f"table{i}" for i in range(1, n + 1)]


def _draw_user(rng: random.Random, user: str, cluster: str, config: Config, p: SimParams) -> Truth:
    """Draw one participant's truth: dev first, then preprod, then prod, exercise by exercise."""
    truth = Truth(user, [cluster])
    t0 = config.start.timestamp()
    skill = math.exp(rng.gauss(0.0, 0.28))  # >1 slower
    now = t0 + rng.uniform(2, 12) * 60  # reading the instructions
    for ex in config.exercises:
        work = _WORK_MIN.get(ex.name, ex.expected_s / 60 / 2) * skill * rng.uniform(0.8, 1.25) * 60
        dev = now + work
        pre = dev + rng.uniform(*_PROMOTE_MIN) * 60
        prod = pre + rng.uniform(*_PROMOTE_MIN) * 60
        _set_env(truth, ex.name, ex.components, cluster, "dev", dev, db_at=now + work * 0.3)
        _set_env(truth, ex.name, ex.components, cluster, "preprod", pre, db_at=dev + 30)
        _set_env(truth, ex.name, ex.components, cluster, "prod", prod, db_at=None)
        if "pipeline" in ex.components:
            truth.ready[("pipeline", ex.name, None, cluster)] = [(dev - rng.uniform(20, 120), 1.0)]
        now = prod
    return truth


def _set_env(
    truth: Truth, ex: str, components: tuple[str, ...], cluster: str, env: str, at: float, db_at: float | None
) -> None:
    truth.ready[("service", ex, env, cluster)] = [(at, 1.0)]
    if "database" in components:
        # prod databases are shared and pre-deployed: always ready
        truth.ready[("database", ex, env, cluster)] = (
            [(db_at, 1.0)] if db_at is not None else [(-math.inf, 1.0)]
        )


def _prod_times(truth: Truth, config: Config) -> dict[str, float]:
    return {
        ex.name: truth.ready[("service", ex.name, "prod", truth.clusters[0])][0][0] for ex in config.exercises
    }


def _approx_score(truth: Truth, config: Config, at: float) -> float:
    """Continuous score from true prod times (used only to place the planted near-tie)."""
    t0 = config.start.timestamp()
    score = 0.0
    for ex in config.exercises:
        c = truth.ready[("service", ex.name, "prod", truth.clusters[0])][0][0]
        score += _points(config, ex, c - t0, at - t0)
    return score


def _points(config: Config, ex: Exercise, completed_s: float, at_s: float) -> float:
    """The continuous points of ``ex`` completed ``completed_s`` after T0, at ``at_s``."""
    args = (ex.base, ex.penalty, ex.expected_s, config.accelerator, completed_s, at_s, config.tick_s)
    return points("continuous", *args)


def build_event(p: SimParams = SimParams(), config: Config = DEFAULT) -> Event:
    """Draw a whole event deterministically from ``p.seed``."""
    rng = random.Random(p.seed)
    clusters = cluster_names(p.clusters)
    phases = {c: (37.0 * i) % max(p.collect_s, 1.0) for i, c in enumerate(clusters)}
    width = max(2, len(str(p.participants)))
    users = [f"user{i:0{width}d}" for i in range(1, p.participants + 1)]
    truths = [_draw_user(rng, u, clusters[i % len(clusters)], config, p) for i, u in enumerate(users)]
    cases: dict[str, list[str]] = {}
    if p.awkward and p.participants >= 20:
        _plant(rng, truths, clusters, phases, config, p, cases)
    event = Event(p, config, truths, cases, phases)
    if p.awkward and config.top + 5 < p.participants <= NEAR_TIE_MAX:
        _plant_near_tie(event)
    for i in range(p.test_accounts):
        test = _draw_user(rng, f"test{i + 1:02d}", clusters[i % len(clusters)], config, p)
        for key, changes in test.ready.items():  # the instructors' dry run: done early
            test.ready[key] = [(t - 40 * 60 if math.isfinite(t) else t, v) for t, v in changes]
        truths.append(test)
        cases.setdefault("test_account", []).append(test.user)
    return event


def _plant(
    rng: random.Random,
    truths: list[Truth],
    clusters: list[str],
    phases: dict[str, float],
    config: Config,
    p: SimParams,
    cases: dict[str, list[str]],
) -> None:
    """Plant the awkward cases a real event has, each on a distinct participant."""
    end = config.end.timestamp()
    by_score = sorted(truths, key=lambda t: -_approx_score(t, config, end))
    # participants who finish nothing: their services never become ready
    for t in by_score[-4:]:
        for key in list(t.ready):
            if key[0] == "service":
                t.ready[key] = []
        cases.setdefault("finished_nothing", []).append(t.user)
    # a participant who completes dev only
    dev_only = by_score[-5]
    for key in list(dev_only.ready):
        if key[0] == "service" and key[2] != "dev":
            dev_only.ready[key] = []
    cases["dev_only"] = [dev_only.user]
    top = config.top
    rest = by_score[2 : top - 3]
    # a service that flaps after completing (prod hero down for 8 minutes, then back)
    flap = rest[0]
    key = ("service", "hero", "prod", flap.clusters[0])
    done = flap.ready[key][0][0]
    flap.ready[key] = [(done, 1.0), (done + 20 * 60, 0.0), (done + 28 * 60, 1.0)]
    cases["flap"] = [flap.user]
    # a participant seen on two clusters: started on one, redid everything on another
    mover = rest[1]
    first = mover.clusters[0]
    second = clusters[(clusters.index(first) + 3) % len(clusters)]
    mover.clusters = [first, second]
    for (comp, ex, env, _c), changes in list(mover.ready.items()):
        mover.ready[(comp, ex, env, second)] = list(changes)
        # on the first cluster only hero reached dev, late
        stalled = [(t + 15 * 60, v) for t, v in changes] if (ex == "hero" and env in ("dev", None)) else []
        mover.ready[(comp, ex, env, first)] = stalled if comp != "database" else list(changes)
    cases["two_clusters"] = [mover.user]
    # a gap in the data around a completion (prod villain)
    gap = rest[2]
    at = gap.ready[("service", "villain", "prod", gap.clusters[0])][0][0]
    # long enough to survive two 5-minute lookbacks (raw series, then the recorded rule)
    gap.gaps.append((at - 5 * 60, at + 20 * 60))
    cases["gap"] = [gap.user]
    # villain before hero
    swap = rest[3]
    hero = {k: v for k, v in swap.ready.items() if k[1] == "hero"}
    villain = {k: v for k, v in swap.ready.items() if k[1] == "villain"}
    shift = min(t for ch in villain.values() for t, _ in ch if math.isfinite(t)) - min(
        t for ch in hero.values() for t, _ in ch if math.isfinite(t)
    )
    for k, ch in hero.items():
        swap.ready[k] = [(t + shift + 6 * 60 if math.isfinite(t) else t, v) for t, v in ch]
    for k, ch in villain.items():
        swap.ready[k] = [(t - shift if math.isfinite(t) else t, v) for t, v in ch]
    cases["villain_first"] = [swap.user]
    del rng  # every plant is positional: the draw order above stays stable


def _observed_score(observer: Observer, truth: Truth) -> tuple[float, float]:
    """(continuous score at [event] end, last completion) from the observed prod series: each
    exercise completes at its first completion sample at 1, as the pipeline reads it."""
    config = observer.event.config
    t0, end = config.start.timestamp(), config.end.timestamp()
    score, last = 0.0, 0.0
    for ex in config.exercises:
        times = []
        for cluster in truth.clusters:
            samples = observer.completion_samples(truth, ex.name, "prod", cluster)
            if samples is not None:
                at, values = samples
                hit = np.flatnonzero(is_done(values) & (at <= end))
                if len(hit):
                    times.append(float(at[hit[0]]))
        if times:
            c = min(times)
            score += _points(config, ex, c - t0, end - t0)
            last = max(last, c)
    return score, last


def _plant_near_tie(event: Event) -> None:
    """Make ranks N and N+1 a near-tie: B is a twin of A working on a cluster collected later.

    Same true completion times; the hub saw B's a collection phase later, so B scores
    a fraction of a point less. Candidates around the cut-off are tried in turn until
    the pair really lands at ranks N and N+1.
    """
    p, config = event.params, event.config
    truths, phases, top = event.truths, event.phases, config.top
    observer = Observer(event)
    planted = {u for users in event.cases.values() for u in users}

    def order() -> list[Truth]:
        return sorted(
            truths,
            key=lambda t: (
                -round(_observed_score(observer, t)[0], 6),
                _observed_score(observer, t)[1],
                t.user,
            ),
        )

    base = order()
    for offset in range(8):
        a, b = base[top - 1 - offset], base[top - offset]
        if a.user in planted or b.user in planted:
            continue
        saved = (a.ready, b.ready, b.clusters)
        cl_a = a.clusters[0]
        later = sorted((c for c in phases if phases[c] > phases[cl_a]), key=lambda c: phases[c])
        if not later:
            continue
        cl_b = later[0]
        a.ready = {k: list(v) for k, v in a.ready.items()}
        for key, changes in a.ready.items():
            if key[0] == "service" and key[2] == "prod" and changes and math.isfinite(changes[0][0]):
                # just before a collection of A's cluster: B's later phase sees it later
                k = math.ceil((changes[0][0] - p.start - phases[cl_a]) / p.collect_s) if p.collect_s else 0
                a.ready[key] = [(p.start + phases[cl_a] + k * p.collect_s - 5, 1.0)]
        b.clusters = [cl_b]
        b.ready = {(comp, ex, env, cl_b): list(ch) for (comp, ex, env, _c), ch in a.ready.items()}
        ranked = [t.user for t in order()]
        sa, sb = _observed_score(observer, a)[0], _observed_score(observer, b)[0]
        if ranked[top - 1] == a.user and ranked[top] == b.user and 0 < sa - sb < 2:
            event.cases["near_tie"] = [a.user, b.user]
            return
        a.ready, b.ready, b.clusters = saved
    raise NearTieError(f"seed {p.seed}: no pair at the cut-off takes a planted near-tie")


# the hub's ruler evaluates off the collection instants, as Prometheus offsets each rule group
RULE_OFFSET_S = 7.319
LOOKBACK_S = 300.0  # a rule reads an input sample up to this old (Prometheus' lookback)
# the environment whose databases are shared and pre-deployed: no per-user database pod
SHARED_DB_ENV = "prod"

Samples = tuple[np.ndarray, np.ndarray]  # the raw times (unix s) and values of one series


class Observer:
    """The samples the hub stored for an event, each at its own time (unix s).

    - **Components** (and the raw kube-state-metrics behind them) reached the hub at each
      collection of their cluster: every ``collect_s``, at the cluster's phase. A sample shows
      the true state at its instant. With ``collect_s`` 0 they are sampled at each rule
      evaluation.
    - **Completions** come from the hub's ruler, evaluated every ``step_s`` at
      ``RULE_OFFSET_S`` past the grid: the AND of the latest sample of each component, when
      every one is at most ``LOOKBACK_S`` old (else the rule has nothing to say: no sample).
    - **Participants**: at each evaluation while the user's collections are fresh.
    - **Gaps**: no collection of the user's series reaches the hub inside them; the rules
      carry the last values through the lookback, then fall silent.
    """

    def __init__(self, event: Event) -> None:
        p = event.params
        self.event = event
        n = max(0, math.floor((p.end - p.start - RULE_OFFSET_S) / p.step_s) + 1)
        self.rule_times = np.round((p.start + RULE_OFFSET_S + np.arange(n) * p.step_s) * 1000) / 1000
        self._collections: dict[str, np.ndarray] = {}

    def collections(self, cluster: str) -> np.ndarray:
        """When the hub received this cluster's component values."""
        p = self.event.params
        if p.collect_s <= 0:
            return self.rule_times
        if cluster not in self._collections:
            first = p.start + self.event.phases.get(cluster, 0.0)
            n = max(0, math.floor((p.end - first) / p.collect_s) + 1)
            self._collections[cluster] = first + np.arange(n) * p.collect_s
        return self._collections[cluster]

    def fresh(self, truth: Truth, at: np.ndarray) -> np.ndarray:
        """Which instants of ``at`` lie outside the participant's gaps."""
        keep = np.ones(len(at), dtype=bool)
        for lo, hi in truth.gaps:
            keep &= ~((at >= lo) & (at <= hi))
        return keep

    def component_samples(
        self, truth: Truth, comp: str, ex: str, env: str | None, cluster: str
    ) -> Samples | None:
        """A component's samples at the hub (None: the participant never had that series)."""
        changes = truth.ready.get((comp, ex, env, cluster))
        if changes is None:
            return None
        at = self.collections(cluster)
        at = at[self.fresh(truth, at)]
        return at, _step_values(changes, at)

    def _latest(self, samples: Samples) -> tuple[np.ndarray, np.ndarray]:
        """At each evaluation: the latest sample's value, and whether it is within the lookback."""
        at, values = samples
        r = self.rule_times
        idx = np.searchsorted(at, r, side="right") - 1
        ok = idx >= 0
        safe = np.where(ok, idx, 0)
        ok &= (r - at[safe]) <= LOOKBACK_S if len(at) else np.zeros(len(r), dtype=bool)
        return (values[safe] if len(at) else np.zeros(len(r))), ok

    def completion_samples(self, truth: Truth, ex: str, env: str, cluster: str) -> Samples | None:
        """The hub's completion samples of one exercise in one env on one cluster."""
        spec = next(e for e in self.event.config.exercises if e.name == ex)
        values = np.ones(len(self.rule_times))
        ok = np.ones(len(self.rule_times), dtype=bool)
        for comp in spec.components:
            samples = self.component_samples(truth, comp, ex, None if comp == "pipeline" else env, cluster)
            if samples is None:
                return None
            latest, fresh = self._latest(samples)
            values, ok = np.minimum(values, latest), ok & fresh
        return self.rule_times[ok], values[ok]

    def participant_samples(self, truth: Truth, cluster: str) -> Samples:
        at = self.collections(cluster)
        at = at[self.fresh(truth, at)]
        _values, ok = self._latest((at, np.ones(len(at))))
        return self.rule_times[ok], np.ones(int(ok.sum()))

    def series_arrays(self, spec: QuerySpec) -> Iterator[tuple[dict[str, str], np.ndarray, np.ndarray]]:
        """Every series the hub returns for ``spec``: labels, raw times, values."""
        if spec.component.startswith("raw_"):
            yield from self._raw_series(spec)
            return
        for truth in self.event.truths:
            for cluster in truth.clusters:
                if spec.component == "participants":
                    samples: Samples | None = self.participant_samples(truth, cluster)
                elif spec.component == "completion":
                    samples = self.completion_samples(truth, spec.exercise or "", spec.env or "", cluster)
                else:
                    samples = self.component_samples(
                        truth, spec.component, spec.exercise or "", spec.env, cluster
                    )
                if samples is not None and len(samples[0]):
                    yield (
                        {"__name__": spec.query, "cluster": cluster, "user": truth.user},
                        samples[0],
                        samples[1],
                    )

    def _raw_series(self, spec: QuerySpec) -> Iterator[tuple[dict[str, str], np.ndarray, np.ndarray]]:
        """The kube-state-metrics series behind a component, as the hub holds them (no user label:
        the user is in the namespace)."""
        from ocq_batch.sim.openmetrics import raw_labels  # the names the live rules read

        comp = spec.component.removeprefix("raw_")
        for truth in self.event.truths:
            for cluster in truth.clusters:
                if comp == "database" and spec.env == SHARED_DB_ENV:
                    continue
                samples = self.component_samples(truth, comp, spec.exercise or "", spec.env, cluster)
                if samples is not None and len(samples[0]):
                    labels = raw_labels(
                        self.event.config, truth.user, cluster, comp, spec.exercise or "", spec.env
                    )
                    yield labels, samples[0], samples[1]

    def series(self, spec: QuerySpec) -> Iterator[tuple[dict[str, str], list[tuple[float, float]]]]:
        """Every series the hub returns for ``spec``, as (labels, [(time, value), ...])."""
        for labels, at, values in self.series_arrays(spec):
            yield labels, [(float(t), float(v)) for t, v in zip(at, values, strict=True)]


def true_moments(event: Event) -> list[dict[str, object]]:
    """When each (user, exercise, env, cluster) really completed: the first instant every
    component it needs was ready (the AND of the true states going 0 -> 1), unix s.

    What ``ocq-batch simulate`` writes beside the event (``truths.json``), for checking that
    every completion interval the pipeline prints contains its true moment."""
    out: list[dict[str, object]] = []
    for truth in event.truths:
        for cluster in truth.clusters:
            for ex in event.config.exercises:
                for env in event.config.envs:
                    keys = [(c, ex.name, None if c == "pipeline" else env, cluster) for c in ex.components]
                    if any(k not in truth.ready for k in keys):
                        continue
                    instants = sorted({t for k in keys for t, _v in truth.ready[k] if math.isfinite(t)})
                    state = 0.0
                    for at in instants:
                        now = min(_value_at(truth.ready[k], at) for k in keys)
                        if now >= 0.5 > state:
                            out.append(
                                {
                                    "user": truth.user,
                                    "exercise": ex.name,
                                    "env": env,
                                    "cluster": cluster,
                                    "at": at,
                                }
                            )
                            break
                        state = now
    return out


def _value_at(changes: list[tuple[float, float]], at: float) -> float:
    value = 0.0
    for t, v in sorted(changes):
        if t <= at:
            value = v
    return value


def _step_values(changes: list[tuple[float, float]], at: np.ndarray) -> np.ndarray:
    """Value of a step function (0 before the first change) at each instant of ``at``."""
    out = np.zeros(len(at))
    for t, v in sorted(changes):
        out[at >= t] = v
    return out
