"""``ocq-batch simulate``: write a deterministic synthetic event (the bundled demo is one)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from ocq_batch.cli_options import ConfigOpt, guard
from ocq_batch.config import load_config
from ocq_batch.errors import ConfigError
from ocq_batch.render import out
from ocq_batch.timeutil import parse_duration


def simulate(
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Replay folder to write. Example: --out data/demo", file_okay=False),
    ],
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same event. Example: --seed 7")] = 2024,
    participants: Annotated[int, typer.Option(help="Participants. Example: --participants 74")] = 74,
    clusters: Annotated[int, typer.Option(help="Participant clusters (tables). Example: --clusters 6")] = 6,
    hours: Annotated[float, typer.Option(help="Hours of data from 13:00Z. Example: --hours 3")] = 3.0,
    step: Annotated[
        str, typer.Option(help="Sample step of the recorded series. Example: --step 30s")
    ] = "30s",
    collect_interval: Annotated[
        str,
        typer.Option(
            help="How often component values reached the hub (0s: instantly). Example: --collect-interval 5m"
        ),
    ] = "5m",
    awkward: Annotated[
        bool, typer.Option(help="Plant flaps, gaps, a near-tie and the other awkward cases.")
    ] = True,
    config_path: ConfigOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing replay folder.")] = False,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            help="What to write, repeatable: 'replay' (a replay folder), 'openmetrics' (recorded.om: the "
            "series every query returns, for promtool; a Prometheus over it answers without rules), "
            "'kube-openmetrics' (raw.om: the kube-state-metrics series the live rules read). "
            "Example: --format replay --format openmetrics",
        ),
    ] = None,
) -> None:
    """Write a deterministic synthetic event as a replay folder (the bundled demo is made this way).

    Bodies and files are streamed, so large events (--participants 10000) fit in little memory.

    Example: ocq-batch simulate --out /tmp/ocq-sim --participants 74 --seed 2024
    """
    from ocq_batch.openmetrics import write_openmetrics, write_recorded_openmetrics
    from ocq_batch.replay import HEADER, INDEX
    from ocq_batch.sim_replay import write_replay
    from ocq_batch.simulate import SimParams, build_event

    kinds = formats or ["replay"]
    writers = {"replay": "", "openmetrics": "recorded.om", "kube-openmetrics": "raw.om"}

    with guard():
        config = load_config(config_path)
        try:
            step_s, collect_s = parse_duration(step), parse_duration(collect_interval)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if participants < 1 or clusters < 1 or hours <= 0 or step_s < 1:
            raise ConfigError("--participants, --clusters, --hours and --step must be positive")
        unknown = sorted(set(kinds) - set(writers))
        if unknown:
            raise ConfigError(f"--format {unknown[0]!r} is unknown; use {', '.join(writers)}")
        if out_dir.exists() and any(out_dir.iterdir()):
            if not force:
                raise ConfigError(f"--out {out_dir} is not empty; pass --force to replace it")
            ours = {HEADER, INDEX, "responses", *(name for name in writers.values() if name)}
            if any(p.name not in ours for p in out_dir.iterdir()):
                raise ConfigError(f"--out {out_dir} is not a folder simulate wrote; refusing to replace it")
            shutil.rmtree(out_dir)
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
        event = build_event(params, config)
        done = []
        for kind in dict.fromkeys(kinds):
            if kind == "replay":
                done.append(f"{write_replay(event, out_dir)} responses")
            else:
                path = out_dir / writers[kind]
                write = write_recorded_openmetrics if kind == "openmetrics" else write_openmetrics
                done.append(f"{write(event, path)} samples in {path.name}")
    out.print(f"wrote {' and '.join(done)} for {len(event.truths)} users to {out_dir}")
    for case, users in sorted(event.cases.items()):
        out.print(f"  {case:<18} {', '.join(users)}")
