"""The job behind ``ocq-batch simulate``: draw a deterministic synthetic event and write it.

An event is written as a replay folder (what ``export --source`` reads), as ``recorded.om``
(the series every query returns, for promtool) or as ``raw.om`` (the kube-state-metrics
series the live rules read), in any combination, into one folder. Beside them,
``truths.json`` holds when each (user, exercise, env, cluster) really completed, for
checking the intervals the pipeline prints against the truth.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ocq_batch.config.model import Config
from ocq_batch.errors import ConfigError
from ocq_batch.lock import locked
from ocq_batch.pull.replay import HEADER, INDEX
from ocq_batch.sim.event import Event, NearTieError, SimParams, build_event, true_moments
from ocq_batch.sim.openmetrics import write_openmetrics, write_recorded_openmetrics
from ocq_batch.sim.replay import write_replay

# what each format writes into the folder: the replay folder's own files, or one file
FORMATS = {"replay": "", "openmetrics": "recorded.om", "kube-openmetrics": "raw.om"}
TRUTHS = "truths.json"
# seeds tried after the one asked for when its event cannot hold the planted near-tie
SEED_TRIES = 50


@dataclass
class Simulated:
    """What a simulation wrote: the event, and one sentence per format written."""

    event: Event
    folder: Path
    written: list[str]
    seed: int  # the seed of the event written: the one asked for, or the next that plants a near-tie


def simulate(
    params: SimParams,
    config: Config,
    folder: Path,
    formats: list[str],
    force: bool,
    wait_s: float = 0.0,
    say: Callable[[str], None] | None = None,
) -> Simulated:
    """Draw the event of ``params`` and write it into ``folder`` in each of ``formats``.

    A non-empty folder is replaced only with ``force``, and only when it holds nothing but
    what simulate writes. The folder's lock is held throughout (waiting up to ``wait_s``
    seconds for another holder; ``say`` is told when it waits).
    """
    if params.participants < 1 or params.clusters < 1 or params.hours <= 0 or params.step_s < 1:
        raise ConfigError("--participants, --clusters, --hours and --step must be positive")
    kinds = list(dict.fromkeys(formats or ["replay"]))
    unknown = sorted(set(kinds) - set(FORMATS))
    if unknown:
        raise ConfigError(f"--format {unknown[0]!r} is unknown; use {', '.join(FORMATS)}")
    with locked([(folder.resolve(), "--out")], wait_s, say):
        return _write(params, config, folder, kinds, force)


def _write(params: SimParams, config: Config, folder: Path, kinds: list[str], force: bool) -> Simulated:
    if folder.exists() and any(folder.iterdir()):
        if not force:
            raise ConfigError(f"--out {folder} is not empty; pass --force to replace it")
        ours = {HEADER, INDEX, "responses", TRUTHS, *(name for name in FORMATS.values() if name)}
        if any(p.name not in ours for p in folder.iterdir()):
            raise ConfigError(f"--out {folder} is not a folder simulate wrote; refusing to replace it")
        shutil.rmtree(folder)
    event = draw(params, config)
    written = []
    for kind in kinds:
        if kind == "replay":
            written.append(f"{write_replay(event, folder)} responses")
        else:
            path = folder / FORMATS[kind]
            write = write_recorded_openmetrics if kind == "openmetrics" else write_openmetrics
            written.append(f"{write(event, path)} samples in {path.name}")
    write_truths(event, folder / TRUTHS)
    return Simulated(event, folder, written, event.params.seed)


def write_truths(event: Event, path: Path) -> None:
    """``truths.json``: the event's true completion moments (unix s) and its planted cases."""
    doc = {
        "format": "ocq-sim-truths",
        "seed": event.params.seed,
        "completions": true_moments(event),
        "cases": event.cases,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def draw(params: SimParams, config: Config) -> Event:
    """The event of ``params``; when its seed cannot hold the planted near-tie at the cut-off,
    the event of the next seed that can (``event.params.seed`` says which: the same seed
    gives the same event again)."""
    for seed in range(params.seed, params.seed + SEED_TRIES):
        try:
            return build_event(replace(params, seed=seed), config)
        except NearTieError:
            continue
    raise ConfigError(
        f"no seed from {params.seed} to {params.seed + SEED_TRIES - 1} gives an event that holds a near-tie "
        f"at the top {config.top}; pass --no-awkward, or another --participants or [scoring] top"
    )
