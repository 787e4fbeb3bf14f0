"""The job behind ``ocq-batch simulate``: draw a deterministic synthetic event and write it.

An event is written as a replay folder (what ``export --source`` reads), as ``recorded.om``
(the series every query returns, for promtool) or as ``raw.om`` (the kube-state-metrics
series the live rules read), in any combination, into one folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ocq_batch.config.model import Config
from ocq_batch.errors import ConfigError
from ocq_batch.lock import locked
from ocq_batch.pull.replay import HEADER, INDEX
from ocq_batch.sim.event import Event, SimParams, build_event
from ocq_batch.sim.openmetrics import write_openmetrics, write_recorded_openmetrics
from ocq_batch.sim.replay import write_replay

# what each format writes into the folder: the replay folder's own files, or one file
FORMATS = {"replay": "", "openmetrics": "recorded.om", "kube-openmetrics": "raw.om"}


@dataclass
class Simulated:
    """What a simulation wrote: the event, and one sentence per format written."""

    event: Event
    folder: Path
    written: list[str]


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
        ours = {HEADER, INDEX, "responses", *(name for name in FORMATS.values() if name)}
        if any(p.name not in ours for p in folder.iterdir()):
            raise ConfigError(f"--out {folder} is not a folder simulate wrote; refusing to replace it")
        shutil.rmtree(folder)
    event = build_event(params, config)
    written = []
    for kind in kinds:
        if kind == "replay":
            written.append(f"{write_replay(event, folder)} responses")
        else:
            path = folder / FORMATS[kind]
            write = write_recorded_openmetrics if kind == "openmetrics" else write_openmetrics
            written.append(f"{write(event, path)} samples in {path.name}")
    return Simulated(event, folder, written)
