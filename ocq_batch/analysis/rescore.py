"""What-if re-scoring: an archive's samples back in a store, ranked again by the pipeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ocq_batch.archive.read import Archive, read_archive
from ocq_batch.archive.reload import store_from_archive
from ocq_batch.archive.write import table_query, utc_timestamps
from ocq_batch.config.model import Config, Window
from ocq_batch.detect.steps import run_pipeline
from ocq_batch.errors import ConfigError, WindowError
from ocq_batch.timeutil import iso

BASELINE = "as archived"


@dataclass(frozen=True)
class Rescored:
    """A ranking produced by the pipeline for one config: same columns as the archive's files."""

    config: Config
    window: Window
    ranking: pd.DataFrame
    scores: pd.DataFrame
    timeline: pd.DataFrame


class Rescorer:
    """An archive's samples loaded back into an in-memory store, scored again by the pipeline.

    ``series_id`` is recomputed as the store does (hash of query and canonical labels), so
    running the archive's own config rebuilds the archive's tables exactly.
    """

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.con = store_from_archive(archive)

    def run(self, config: Config | None = None, window: Window | None = None) -> Rescored:
        """Rebuild every projection for ``config`` (default: the archive's) and return the results.

        (The best score each participant could have had is the audit's: ``score_max`` of the
        robustness table, which :meth:`Archives.ranking_with_uncertainty` reads.)
        """
        config = config or self.archive.config
        window = window or self.archive.window
        if window.start < self.archive.window.start or window.end > self.archive.window.end:
            raise WindowError(
                f"the archive holds samples from {iso(self.archive.window.start)} to "
                f"{iso(self.archive.window.end)} only; pick a window inside it"
            )
        run_pipeline(self.con, config, window)

        def frame(name: str) -> pd.DataFrame:
            return utc_timestamps(self.con.sql(table_query(name)).to_arrow_table()).to_pandas()

        return Rescored(config, window, frame("ranking"), frame("scores"), frame("timeline"))

    def close(self) -> None:
        self.con.close()


def scenario(
    config: Config, penalties: Sequence[float] | Mapping[str, float] | None = None, **overrides: Any
) -> Config:
    """``config`` with overrides (``model``, ``tick_s``, ``accelerator``, ``top``, ``env`` ...).

    ``penalties`` sets the exercises' penalty weights ``z_e``: one number per exercise in
    order, e.g. ``(1, 2, 3)``, or a mapping by exercise name.
    """
    if penalties is not None:
        names = [e.name for e in config.exercises]
        weights = (
            dict(penalties) if isinstance(penalties, Mapping) else dict(zip(names, penalties, strict=False))
        )
        if not isinstance(penalties, Mapping) and len(penalties) != len(names):
            raise ConfigError(f"penalties {tuple(penalties)}: give one per exercise ({', '.join(names)})")
        if set(weights) - set(names):
            raise ConfigError(f"penalties name unknown exercises {sorted(set(weights) - set(names))}")
        overrides["exercises"] = tuple(
            replace(e, penalty=float(weights.get(e.name, e.penalty))) for e in config.exercises
        )
    if "tick_s" in overrides and not overrides["tick_s"] > 0:
        raise ConfigError(f"tick_s {overrides['tick_s']!r} must be a number of seconds above 0")
    unknown = set(overrides) - set(Config.__dataclass_fields__)
    if unknown:
        raise ConfigError(
            f"unknown setting {sorted(unknown)[0]!r}; use a Config field such as model or tick_s"
        )
    return config.with_overrides(**overrides)


def rescore(
    archive: Archive | str | Path, penalties: Sequence[float] | None = None, **overrides: Any
) -> pd.DataFrame:
    """The ranking of ``archive`` under its config with ``overrides`` (see :func:`scenario`)."""
    arch = archive if isinstance(archive, Archive) else read_archive(archive)
    try:
        rescorer = Rescorer(arch)
        try:
            return rescorer.run(scenario(arch.config, penalties, **overrides)).ranking
        finally:
            rescorer.close()
    finally:
        if arch is not archive:  # opened here: closed here
            arch.close()


def what_if(rescorer: Rescorer, scenarios: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Rank again under each scenario; one row per (scenario, participant), baseline first.

    ``scenarios`` maps a label to :func:`scenario` arguments, e.g.
    ``{"stepped": {"model": "stepped"}, "penalties 1/2/3": {"penalties": (1, 2, 3)}}``.
    The baseline (label ``"as archived"``) is the archive's own config.
    """
    frames = []
    for label, args in {BASELINE: {}, **scenarios}.items():
        ranking = rescorer.run(scenario(rescorer.archive.config, **dict(args))).ranking
        frames.append(ranking.assign(scenario=label))
    out = pd.concat(frames, ignore_index=True)
    return out[["scenario", *[c for c in out.columns if c != "scenario"]]]


def cutoff_moves(ranks: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Who enters or leaves the prizes under each scenario of a :func:`what_if` frame."""
    base = ranks[ranks.scenario == baseline][["user", "rank", "score", "in_top"]]
    both = ranks[ranks.scenario != baseline].merge(base, on="user", suffixes=("", "_base"))
    moved = both[both.in_top != both.in_top_base]
    out = pd.DataFrame(
        {
            "scenario": moved.scenario,
            "user": moved.user,
            "move": moved.in_top.map({True: "enters the prizes", False: "leaves the prizes"}),
            "baseline_rank": moved.rank_base,
            "rank": moved["rank"],
            "baseline_score": moved.score_base,
            "score": moved.score,
        }
    )
    return out.sort_values(["scenario", "rank", "user"], ignore_index=True)


def rank_table(ranks: pd.DataFrame, around: int | None = 8, baseline: str = BASELINE) -> pd.DataFrame:
    """Ranks of a :func:`what_if` frame side by side (one column per scenario), by baseline rank.

    With ``around``, only participants within ``around`` places of the prize cut-off in
    any scenario are kept.
    """
    wide = ranks.pivot(index="user", columns="scenario", values="rank")
    wide = wide[[baseline, *[c for c in dict.fromkeys(ranks.scenario) if c != baseline]]]
    if around is not None:
        top = int(ranks[(ranks.scenario == baseline) & ranks.in_top]["rank"].max())
        wide = wide[((wide - top).abs() <= around).any(axis=1)]
    return wide.sort_values([baseline, "user"]).rename_axis(columns=None)


def cutoff_summary(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per scenario of a :func:`what_if` frame: last prize winner, first one out, points between.

    ``tie_on_points``: the two have the same score, so only the last completion time
    (the ranking's tie-break) separates them.
    """
    rows = []
    for name in dict.fromkeys(ranks.scenario):
        frame = ranks[ranks.scenario == name]
        winners, others = frame[frame.in_top], frame[~frame.in_top]
        if winners.empty or others.empty:
            continue
        last, first = winners.iloc[-1], others.iloc[0]
        gap = float(last.score) - float(first.score)
        rows.append(
            {"scenario": name, "last_winner": last.user, "winner_score": last.score, "first_out": first.user,
             "out_score": first.score, "gap": gap, "tie_on_points": round(gap, 6) == 0}
        )  # fmt: skip
    return pd.DataFrame(rows)
