"""The time model (SCORING.md) against events whose true completion moments are known.

- A scripted bench in the manner of the live board's own (a Prometheus scraping itself every
  5 s, rules evaluated every 5 s switching each scripted user's completion to 1 at a scripted
  moment, 5-second ticks), backfilled with promtool and served by a real Prometheus: every
  scripted moment strictly inside its interval, every exact score inside its bounds.
- A simulated event where one participant's raw kube-state-metrics stop for 12 minutes around
  a completion: the stale values the rules carried through the gap are seen for what they are.
- The simulator's own events (it writes their true moments beside them), over several seeds.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import run_cli
from promfixtures import require_prometheus

from ocq_batch.config.model import DEFAULT
from ocq_batch.jobs.simulate import simulate
from ocq_batch.sim.event import SimParams, build_event, true_moments
from ocq_batch.timeutil import from_epoch, iso
from testbench.prometheus import PromServer, build_tsdb_from
from testbench.scripted import scripted_rules, write_up

T0 = 1_728_047_700.0  # 2024-10-04T13:15:00Z
TO = T0 + 160  # scores are taken 160 s (32 ticks) after the start
TICK = 5.0
EXPECTED = {"hero": 55.0, "villain": 85.0, "fight": 130.0}  # the event at 60x: minutes become seconds
BASE = {"hero": 55.0, "villain": 25.0, "fight": 29.0}
SCRIPT = {  # seconds after T0: on time, early, late, late but catching up
    "ontime": {"hero": 55.0, "villain": 85.0, "fight": 130.0},
    "early": {"hero": 50.0, "villain": 75.0, "fight": 115.0},
    "late": {"hero": 60.0, "villain": 95.0, "fight": 145.0},
    "catchup": {"hero": 70.0, "villain": 90.0, "fight": 120.0},
}
BENCH_TOML = f"""
[event]
name = "bench-60x"
start = "{iso(from_epoch(T0))}"
end = "{iso(from_epoch(TO))}"
envs = ["prod"]
exclude_users = []
[scoring]
tick = "5s"
[audit]
eval_interval = "5s"
collect_interval = "0s"
component_lag = "0s"
live_window = "1m"
bonus_repeats = {{repeats}}
live_ramp = "sum_over_time(opencodequest_leaderboard_{{{{exercise}}}}:{{{{env}}}}[1m])"
{{extra}}
[[exercises]]
name = "hero"
expected = "55s"
[[exercises]]
name = "villain"
expected = "85s"
[[exercises]]
name = "fight"
expected = "130s"
"""


def exact_score(moments: dict[str, float], at: float = TO - T0) -> float:
    """SCORING.md's continuous score at ``at`` (s after T0) for completions at ``moments``."""
    return sum(BASE[e] + (EXPECTED[e] - c) / TICK + (at - c) / TICK for e, c in moments.items() if c <= at)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> PromServer:
    require_prometheus()
    work = tmp_path_factory.mktemp("scripted")
    moments = {u: {e: T0 + s for e, s in m.items()} for u, m in SCRIPT.items()}
    rules = work / "bench.rules.yml"
    rules.write_text(scripted_rules(moments, T0, EXPECTED, BASE, TICK), encoding="utf-8")
    start, end = T0 - 60, T0 + 200
    data = build_tsdb_from(lambda p: write_up(p, start, end, 5.0, 1.37), start, end, work, rules, "5s")
    with PromServer(work).start(data) as server:
        yield server


def bench_config(tmp: Path, repeats: int = 1, extra: str = "") -> Path:
    path = tmp / "bench.toml"
    path.write_text(BENCH_TOML.format(repeats=repeats, extra=extra), encoding="utf-8")
    return path


def export_bench(bench: PromServer, tmp: Path, config: Path, command: str = "export") -> Path:
    out = tmp / "out"
    window = ("--from", iso(from_epoch(T0)), "--to", iso(from_epoch(TO)))
    proc = run_cli(command, "-q", "--config", str(config), "--source", bench.url, *window, "--out", str(out))
    assert proc.returncode in (0, 3), proc.stderr
    return out


def table(out: Path, name: str) -> list[dict]:
    return pq.read_table(out / f"{name}.parquet").to_pylist()


def test_scripted_bench_every_moment_inside_its_interval(bench: PromServer, tmp_path: Path) -> None:
    out = export_bench(bench, tmp_path, bench_config(tmp_path))
    completions = {(c["user"], c["exercise"]): c for c in table(out, "completions") if c["is_counted"]}
    inside = 0
    for user, moments in SCRIPT.items():
        for exercise, at in moments.items():
            c = completions[(user, exercise)]
            truth = T0 + at
            after, done = c["completed_after"].timestamp(), c["completed_at"].timestamp()
            assert after < truth <= done, (user, exercise, after - T0, at, done - T0)
            assert done - truth <= 5 + 5  # one scrape, then one evaluation
            inside += 1
    assert inside == 12
    # every exact score (from the scripted moments and SCORING.md) inside its bounds
    robustness = {r["user"]: r for r in table(out, "robustness")}
    for user, moments in SCRIPT.items():
        exact = exact_score(moments)
        assert robustness[user]["score_min"] <= exact <= robustness[user]["score_max"], user
    # the ranking as scripted
    ranking = [r["user"] for r in sorted(table(out, "ranking"), key=lambda r: r["rank"])]
    assert ranking == sorted(SCRIPT, key=lambda u: -exact_score(SCRIPT[u]))
    # each live-vs-batch difference over one tick has a named cause
    for row in table(out, "live_vs_batch"):
        assert row["live_rank"] is not None, row
        one_tick = 1.0 * 3  # the accelerator's points per tick, three exercises completed
        if abs(row["difference"]) >= one_tick:
            assert row["cause"] not in ("sampling", "unexplained"), row
    findings = table(out, "audit")
    assert not [f for f in findings if f["check"] == "config_vs_data"], findings


def test_a_step_coarser_than_the_data_is_a_warning(bench: PromServer, tmp_path: Path) -> None:
    config = bench_config(tmp_path, repeats=3, extra='[source]\nstep = "30s"')
    out = export_bench(bench, tmp_path, config)
    warnings = [f["message"] for f in table(out, "audit") if f["check"] == "config_vs_data"]
    (step,) = [m for m in warnings if m.startswith("[source] step")]
    assert "30s" in step and "5s" in step and "completion/" in step
    (repeats,) = [m for m in warnings if "bonus_repeats" in m]
    assert "bonus_repeats is 3 but" in repeats and "fired in 1 evaluation" in repeats
    # the scores do not depend on the step: the samples are read as the TSDB stores them
    (tmp_path / "plain").mkdir()
    plain = export_bench(bench, tmp_path / "plain", bench_config(tmp_path / "plain"))
    assert table(out, "ranking") == table(plain, "ranking")


def test_a_raw_gap_around_a_completion_is_stale_evidence(prometheus_for, tmp_path: Path) -> None:
    """One participant's kube-state-metrics stop for 12 minutes around their prod villain
    completion: the component and completion rules carried stale values through the gap (the
    5-minute lookback, at two levels). The interval reaches back to before the gap, the gap is
    a finding naming the component series, and the live board's lost bonus is said so."""
    params = SimParams(participants=12, clusters=2, test_accounts=0, awkward=False, start=T0 - 900, seed=3)
    event = build_event(params, replace(DEFAULT, top=6))
    # the first prod villain completion an hour into the event: well inside the window
    truth = min(
        (t for t in true_moments(event) if (t["exercise"], t["env"]) == ("villain", "prod")
         and float(t["at"]) > T0 + 3600),  # type: ignore[arg-type]
        key=lambda t: float(t["at"]),  # type: ignore[arg-type]
    )  # fmt: skip
    victim = next(v for v in event.truths if v.user == truth["user"])
    moment = float(truth["at"])  # type: ignore[arg-type]
    victim.gaps.append((moment - 6 * 60, moment + 6 * 60))
    server = prometheus_for(event)
    out = tmp_path / "out"
    config = tmp_path / "event.toml"
    config.write_text("[scoring]\ntop = 6\n", encoding="utf-8")
    proc = run_cli("export", "-q", "--config", str(config), "--source", server.url, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    (c,) = [
        c for c in table(out, "completions")
        if (c["user"], c["exercise"], c["env"]) == (victim.user, "villain", "prod")
    ]  # fmt: skip
    assert c["completed_after"].timestamp() < moment <= c["completed_at"].timestamp()
    assert c["stale_since"] is not None and c["stale_since"].timestamp() < moment - 6 * 60 + 1
    gaps = [f for f in table(out, "audit") if f["check"] == "data_gap" and f["user"] == victim.user]
    named = [
        f
        for f in gaps
        if any(s.startswith("opencodequest_villain_quarkus_pod:prod{cluster=") for s in f["series"])
    ]
    assert named and all(f["evidence_at"].timestamp() < moment for f in named), gaps
    wide = [f for f in table(out, "audit") if f["check"] == "wide_uncertainty" and f["user"] == victim.user]
    assert any(f["exercise"] == "villain" and f["env"] == "prod" for f in wide)
    (live,) = [r for r in table(out, "live_vs_batch") if r["user"] == victim.user]
    assert "bonus lost in a gap" in live["cause"]
    # nobody else lost a bonus in a gap: the cause is named where it happened only
    others = [r for r in table(out, "live_vs_batch") if r["user"] != victim.user]
    assert not [r for r in others if "bonus lost in a gap" in r["cause"]]


@pytest.mark.parametrize(
    ("seed", "participants", "collect"),
    [(2024, 74, 300.0), (3, 40, 300.0), (10, 60, 120.0), (17, 30, 0.0)],
)
def test_simulated_events_true_moments_inside_their_intervals(
    tmp_path: Path, seed: int, participants: int, collect: float
) -> None:
    """Over the simulator's events (their true moments written beside them): every true moment
    strictly inside its interval, and completed_at no later than one native interval of the
    components plus one evaluation interval after it (where no gap made the evidence stale)."""
    params = SimParams(seed=seed, participants=participants, collect_s=collect, start=T0 - 900)
    folder = tmp_path / "event"
    simulate(params, DEFAULT, folder, ["replay"], force=False)
    config = tmp_path / "event.toml"
    config.write_text(f'[audit]\ncollect_interval = "{collect:g}s"\n', encoding="utf-8")
    out = tmp_path / "out"
    proc = run_cli("export", "-q", "--config", str(config), "--source", str(folder), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((folder / "truths.json").read_text())
    truth = {(t["user"], t["exercise"], t["env"], t["cluster"]): t["at"] for t in doc["completions"]}
    native = collect or params.step_s  # the components' own interval
    checked = 0
    for c in table(out, "completions"):
        if c["complete_at_window_start"]:
            continue
        at = truth[(c["user"], c["exercise"], c["env"], c["cluster"])]
        assert c["completed_after"].timestamp() < at <= c["completed_at"].timestamp(), c
        if c["stale_since"] is None:
            assert c["completed_at"].timestamp() - at <= native + params.step_s + 1e-6, c
        checked += 1
    assert checked > participants * 4
    assert not math.isnan(checked)
