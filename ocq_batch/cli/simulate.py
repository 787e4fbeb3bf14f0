"""``ocq-batch simulate``: write a deterministic synthetic event (the bundled demo is one)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ocq_batch.cli.options import ConfigOpt, WaitOpt, command, say, wait_seconds
from ocq_batch.errors import ConfigError
from ocq_batch.report.terminal import out
from ocq_batch.timeutil import parse_duration


class Format(StrEnum):
    """What simulate can write (jobs.simulate.FORMATS; tests/test_cli_help.py holds them equal)."""

    replay = "replay"
    openmetrics = "openmetrics"
    kube_openmetrics = "kube-openmetrics"


@command
def simulate(
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out", help="Replay folder to write. Example: --out data/demo", file_okay=False, metavar="DIR"
        ),
    ],
    seed: Annotated[
        int, typer.Option(help="Random seed; same seed, same event. Example: --seed 7", metavar="N")
    ] = 2024,
    participants: Annotated[
        int, typer.Option(help="Participants. Example: --participants 74", metavar="N")
    ] = 74,
    clusters: Annotated[
        int, typer.Option(help="Participant clusters (tables). Example: --clusters 6", metavar="N")
    ] = 6,
    hours: Annotated[
        float, typer.Option(help="Hours of data from 13:00Z. Example: --hours 3", metavar="HOURS")
    ] = 3.0,
    step: Annotated[
        str,
        typer.Option(
            help="Evaluation interval of the hub's recording rules: the completion series' sample "
            "interval (components arrive every --collect-interval). Example: --step 30s",
            metavar="DURATION",
        ),
    ] = "30s",
    collect_interval: Annotated[
        str,
        typer.Option(
            help="How often component values reached the hub (0s: instantly). Example: --collect-interval 5m",
            metavar="DURATION",
        ),
    ] = "5m",
    awkward: Annotated[
        bool, typer.Option(help="Plant flaps, gaps, a near-tie and the other awkward cases.")
    ] = True,
    config_path: ConfigOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing replay folder.")] = False,
    formats: Annotated[
        list[Format] | None,
        typer.Option(
            "--format",
            help="What to write, repeatable: 'replay' (a replay folder), 'openmetrics' (recorded.om: the "
            "series every query returns, for promtool; a Prometheus over it answers without rules), "
            "'kube-openmetrics' (raw.om: the kube-state-metrics series the live rules read). "
            "Example: --format replay --format openmetrics",
            metavar="[replay|openmetrics|kube-openmetrics]",
        ),
    ] = None,
    wait: WaitOpt = None,
) -> None:
    """Write a deterministic synthetic event as a replay folder.

    The bundled demo is made this way. Bodies and files are streamed, so large events
    (--participants 10000) fit in little memory. When the seed's event has no pair at the prize
    cut-off that can hold the planted near-tie, the next seed that has one is used, and named.

    Exit codes: 0 written; 1 bad input (nothing written); 2 usage error; 130 interrupted.

    Example: ocq-batch simulate --out /tmp/ocq-sim --participants 74 --seed 2024
    """
    from ocq_batch.config.toml import load_config
    from ocq_batch.jobs.simulate import simulate as run_simulate
    from ocq_batch.sim.event import SimParams

    config = load_config(config_path)
    try:
        step_s, collect_s = parse_duration(step), parse_duration(collect_interval)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    params = SimParams(
        seed=seed,
        participants=participants,
        clusters=clusters,
        hours=hours,
        step_s=step_s,
        collect_s=collect_s,
        awkward=awkward,
        start=config.start.timestamp() - 15 * 60,
    )
    done = run_simulate(
        params, config, out_dir, [f.value for f in formats or []], force, wait_seconds(wait), say
    )
    if done.seed != seed:
        out.print(
            f"seed {seed} gives no pair at the prize cut-off that can hold the planted near-tie: "
            f"used seed {done.seed} instead (--seed {done.seed} gives this same event)"
        )
    out.print(
        f"wrote {' and '.join(done.written)} for {len(done.event.truths)} users to {out_dir} "
        f"(seed {done.seed})"
    )
    for case, users in sorted(done.event.cases.items()):
        out.print(f"  {case:<18} {', '.join(users)}")
