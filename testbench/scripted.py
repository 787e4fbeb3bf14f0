"""A scripted bench in the manner of the live board's first test bench: a Prometheus that scraped
itself every few seconds, and recording rules that switch each scripted user's completion to 1
at a scripted time, with the live board's one-time bonus and lifetime bonus on top.

The self-scrape is written as OpenMetrics (an ``up`` series sampled every ``scrape_s`` at an
offset off the whole seconds), the rules as a rule file that
:func:`~testbench.prometheus.build_tsdb_from` backfills group by group. The completion rule
reads ``timestamp(up)``: at each evaluation it says 1 once the latest scrape is at or after
the user's scripted moment, so the true moment of every completion is known exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from testbench.live_rules import to_yaml

UP = 'up{job="bench",instance="localhost:9090"}'


def write_up(path: Path, start: float, end: float, scrape_s: float, offset_s: float) -> int:
    """An ``up`` series sampled every ``scrape_s`` from ``start + offset_s`` to ``end``, as
    OpenMetrics for promtool (timestamps in seconds); returns the sample count."""
    lines = ["# TYPE up gauge"]
    t = start + offset_s
    n = 0
    while t <= end:
        lines.append(f'up{{job="bench",instance="localhost:9090"}} 1 {t:.3f}')
        t += scrape_s
        n += 1
    path.write_text("\n".join([*lines, "# EOF"]) + "\n", encoding="utf-8")
    return n


def _per_user(expr_of: Mapping[str, str], cluster: str) -> str:
    """``sum by (user, cluster)`` over one expression per user, each labelled with its user."""
    parts = [
        f'label_replace(label_replace({expr}, "user", "{user}", "", ""), "cluster", "{cluster}", "", "")'
        for user, expr in expr_of.items()
    ]
    return "sum by (user, cluster) (\n  " + "\n  or ".join(parts) + "\n)"


def scripted_rules(
    moments: Mapping[str, Mapping[str, float]],
    t0: float,
    expected_s: Mapping[str, float],
    base: Mapping[str, float],
    tick_s: float,
    env: str = "prod",
    cluster: str = "bench",
    increase_window: str = "10s",
    lifetime_window: str = "1m",
) -> str:
    """The bench's rule file: ``moments[user][exercise]`` are the scripted completion moments
    (unix s). Three groups: completion (and participants), one-time bonus, lifetime bonus."""
    users = list(moments)
    exercises = list(expected_s)
    completion = [{"record": "opencodequest_users", "expr": _per_user({u: UP for u in users}, cluster)}]
    onetime, lifetime = [], []
    for ex in exercises:
        done = f"opencodequest_leaderboard_{ex}:{env}"
        switch = {u: f"timestamp({UP}) >= bool {moments[u][ex]:.3f}" for u in users}
        completion.append({"record": done, "expr": _per_user(switch, cluster)})
        bonus = f"opencodequest_leaderboard_{ex}_onetime_bonus:{env}"
        ahead = f"({t0:.0f} + {expected_s[ex]:g} - time()) / {tick_s:g}"
        fired = f"(increase({done}[{increase_window}]) >= bool 0.5)"
        onetime.append({"record": bonus, "expr": f"{fired} * ({base[ex]:g} + {ahead})"})
        lifetime_name = f"opencodequest_leaderboard_{ex}_lifetime_bonus:{env}"
        lifetime.append({"record": lifetime_name, "expr": f"sum_over_time({bonus}[{lifetime_window}])"})
    return to_yaml(
        {
            "groups": [
                {"name": "bench_completion", "rules": completion},
                {"name": "bench_onetime_bonus", "rules": onetime},
                {"name": "bench_lifetime_bonus", "rules": lifetime},
            ]
        }
    )
