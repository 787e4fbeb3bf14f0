"""The local Prometheus bench: raw series through promtool, the live rules backfilled, checked
against the simulator's own view of the event."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
from promfixtures import RULES, demo_params, query, query_range, require_prometheus

from ocq_batch.config.model import DEFAULT, Exercise
from ocq_batch.sim.event import Event, Observer, SimParams, build_event
from ocq_batch.sim.openmetrics import write_openmetrics
from testbench.live_rules import live_rules, rules_yaml
from testbench.prometheus import BenchError, PromServer, split_groups

STEP = 30.0
T0 = DEFAULT.start.timestamp()
# the bench's two rule levels (components, then completion), 30 s each, against the simulator's
# one ruler reading the collected components directly: either may see a collection first
LAG_S = 60.0


def expected_pairs(event: Event) -> set[tuple[str, str]]:
    return {(t.user, c) for t in event.truths for c in t.clusters}


def by_pair(result: list[dict[str, object]]) -> dict[tuple[str, str], list[tuple[float, float]]]:
    out = {}
    for series in result:
        labels = series["metric"]
        assert isinstance(labels, dict)
        values = series["values"]
        assert isinstance(values, list)
        out[(labels["user"], labels["cluster"])] = [(float(t), float(v)) for t, v in values]
    return out


def rises(points: list[tuple[float, float]]) -> list[float]:
    """Timestamps of every 0 -> 1 step between consecutive present points."""
    return [t for (_, a), (t, b) in pairwise(points) if a < 0.5 <= b]


def first_one(points: list[tuple[float, float]]) -> float | None:
    return next((t for t, v in points if v >= 0.5), None)


def simulated(event: Event, exercise: str, env: str) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """The simulator's completion series per (user, cluster): its ruler's samples."""
    observer = Observer(event)
    out = {}
    for truth in event.truths:
        for cluster in truth.clusters:
            samples = observer.completion_samples(truth, exercise, env, cluster)
            if samples is not None:
                out[(truth.user, cluster)] = [(float(t), float(v)) for t, v in zip(*samples, strict=True)]
    return out


def test_openmetrics_file_follows_promtool_rules(tmp_path: Path) -> None:
    event = build_event(SimParams(participants=3, clusters=2, test_accounts=0, awkward=False, hours=0.5))
    path = tmp_path / "raw.om"
    n = write_openmetrics(event, path)
    data = path.read_bytes()
    assert b"\r" not in data and data.endswith(b"\n# EOF\n")
    lines = data.decode().splitlines()
    families = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    assert families == sorted(set(families), key=families.index)  # each family declared once
    last: dict[str, float] = {}
    family = ""
    for line in lines[:-1]:
        if line.startswith("# TYPE"):
            family = line.split()[2]
            continue
        series, value, stamp = line.rsplit(" ", 2)
        assert series.startswith(family + "{")  # families are contiguous
        assert value in ("0", "1") and 1e9 < float(stamp) < 1e10  # seconds, not milliseconds
        assert float(stamp) > last.get(series, 0.0)  # ascending per series
        last[series] = float(stamp)
    assert n == len(lines) - len(families) - 1
    pods = {m for m in re.findall(r'pod="([^"]+-resync-pod)"', data.decode())}
    assert all(re.fullmatch(r"user\d+-(hero|villain|fight)-run-[a-z0-9]{5}-resync-pod", p) for p in pods)


def test_promtool_imports_every_sample(demo_tsdb: Path, prometheus: PromServer) -> None:
    report = json.loads((demo_tsdb.parent / "bench.json").read_text())
    p = demo_params()
    (total,) = query(prometheus, 'sum(count_over_time({__name__=~"kube_.+"}[4h]))', p.end)
    # one sample per collection (every 5 minutes) of each kube-state-metrics series
    assert int(total["value"][1]) == report["samples"] > 40_000


def test_leaderboard_has_one_series_per_user_and_cluster(prometheus: PromServer, demo_event: Event) -> None:
    p = demo_params()
    result = query_range(prometheus, "opencodequest_leaderboard_hero:prod", p.start, p.end, STEP)
    assert all(set(s["metric"]) == {"__name__", "user", "cluster"} for s in result)
    pairs = set(by_pair(result))
    assert pairs == expected_pairs(demo_event)
    users = {u for u, _ in pairs}
    assert len(users) == 76 and {"test01", "test02"} <= users
    assert len(pairs) == 77  # the participant seen on two clusters


@pytest.mark.parametrize("env", ["dev", "preprod", "prod"])
def test_recorded_completion_agrees_with_the_simulator(
    prometheus: PromServer, demo_event: Event, env: str
) -> None:
    p = demo_params()
    horizon = p.end - LAG_S
    for ex in demo_event.config.exercises:
        result = query_range(prometheus, f"opencodequest_leaderboard_{ex.name}:{env}", p.start, p.end, STEP)
        recorded, truth = by_pair(result), simulated(demo_event, ex.name, env)
        assert set(recorded) == set(truth)
        for pair, points in truth.items():
            sim_at, rec_at = first_one(points), first_one(recorded[pair])
            if sim_at is None:
                assert rec_at is None, (ex.name, env, pair)
            elif sim_at <= horizon or rec_at is not None:  # the rules may miss the very last samples
                assert rec_at is not None and abs(rec_at - sim_at) <= LAG_S, (ex.name, env, pair, sim_at)
            # a flap completes twice on both sides (the live board pays its bonus twice)
            sim_rises = rises(points)
            n_recorded = len(rises(recorded[pair]))
            assert len([t for t in sim_rises if t <= horizon]) <= n_recorded <= len(sim_rises), pair


def test_every_participant_has_users_and_default_zero_series(
    prometheus: PromServer, demo_event: Event
) -> None:
    at = demo_params().start + 400  # every cluster collected once, and nobody has anything ready
    expected = expected_pairs(demo_event)
    users = query(prometheus, "opencodequest_users", at)
    assert {(s["metric"]["user"], s["metric"]["cluster"]) for s in users} == expected
    assert {s["value"][1] for s in users} == {"1"}
    for family in (
        "opencodequest_hero_quarkus_pod:dev",
        "opencodequest_villain_db_pod:preprod",
        "opencodequest_fight_pipeline",
    ):
        series = query(prometheus, family, at)
        assert {(s["metric"]["user"], s["metric"]["cluster"]) for s in series} == expected, family
    shared = query(prometheus, "opencodequest_hero_db_pod:prod", at)
    assert len(shared) == len(expected) and {s["value"][1] for s in shared} == {"1"}


def test_lifetime_bonus_sums_the_onetime_bonus(prometheus: PromServer, demo_event: Event) -> None:
    p = demo_params()
    name = "opencodequest_leaderboard_hero{}:prod"
    done = by_pair(query_range(prometheus, name.format(""), p.start, p.end, STEP))
    onetime = by_pair(query_range(prometheus, name.format("_onetime_bonus"), p.start, p.end, STEP))
    lifetime = by_pair(query_range(prometheus, name.format("_lifetime_bonus"), p.start, p.end, STEP))
    checked = 0
    for pair, points in done.items():
        if len(rises(points)) != 1:
            continue  # never completed, complete from the start, or flapping
        c = first_one(points)
        assert c is not None
        before = [v for t, v in lifetime[pair] if t < c]
        assert before and max(before) == 0
        bonuses = [v for t, v in onetime[pair] if v != 0]
        # a few evaluations see increase(...[2m]) >= 0.5, each paying the bonus at its time
        assert 1 <= len(bonuses) <= 5 and all(abs(b - bonuses[0]) < 1 for b in bonuses)
        window = [v for t, v in lifetime[pair] if c + 10 * 60 <= t <= min(c + 50 * 60, p.end)]
        assert window and all(v == pytest.approx(sum(bonuses)) for v in window), pair
        checked += 1
    assert checked > 50


def test_checked_in_rules_are_generated_from_the_default_config() -> None:
    assert RULES.read_text(encoding="utf-8") == rules_yaml(DEFAULT)
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(RULES.read_text(encoding="utf-8")) == live_rules(DEFAULT)


def test_promtool_accepts_generated_rules(tmp_path: Path) -> None:
    require_prometheus()
    boss = Exercise("boss", 10.0, 140 * 60.0, 3.0, ("service", "pipeline"))
    config = replace(DEFAULT, envs=("dev", "prod"), exercises=(*DEFAULT.exercises, boss))
    for i, text in enumerate([rules_yaml(DEFAULT), rules_yaml(config)]):
        path = tmp_path / f"rules{i}.yml"
        path.write_text(text, encoding="utf-8")
        check = subprocess.run(
            ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert len(split_groups(text)) == 4
    assert "opencodequest_leaderboard_boss_onetime_bonus:prod" in rules_yaml(config)
    assert "(10 + 3 * (1728047700 + 8400 - time()) / 300)" in rules_yaml(config)


def test_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    require_prometheus()
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(BenchError, match="Prometheus exited"), PromServer(tmp_path).start(not_a_folder):
        pass


def test_custom_event_gets_rules_for_its_config(prometheus_for: Callable[..., PromServer]) -> None:
    """Penalty weights 1, 2, 3 (the author's design model): the one-time bonus follows them."""
    weights = {"hero": 1.0, "villain": 2.0, "fight": 3.0}
    config = replace(DEFAULT, exercises=tuple(replace(e, penalty=weights[e.name]) for e in DEFAULT.exercises))
    params = SimParams(participants=4, clusters=2, test_accounts=0, awkward=False, start=T0 - 900)
    event = build_event(params, config)
    server = prometheus_for(event)
    t0 = config.start.timestamp()
    seen = 0
    for ex in config.exercises:
        result = query_range(
            server, f"opencodequest_leaderboard_{ex.name}_onetime_bonus:prod", params.start, params.end, STEP
        )
        assert len(result) == 4
        for pair, points in by_pair(result).items():
            for t, v in points:
                if v:  # evaluated in (t - step, t]
                    low = ex.base + ex.penalty * (t0 + ex.expected_s - t) / config.tick_s
                    high = ex.base + ex.penalty * (t0 + ex.expected_s - t + STEP) / config.tick_s
                    assert low <= v <= high, (ex.name, pair, t, v)
                    seen += 1
    assert seen > 4
