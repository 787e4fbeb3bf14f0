"""Charts for the analysis notebooks, readable on a projector.

Each function takes DataFrames from :mod:`ocq_batch.analysis` and returns a
:class:`matplotlib.figure.Figure` built without pyplot (no global state, safe
headless with Agg). Large fonts, titles, axis units; expected end times are
dashed vertical lines and the prize cut-off a dark dashed line. A frame with an
``event`` column (several archives) gets one panel per event.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ocq_batch.report import axis as timeaxis

STYLE: dict[str, Any] = {
    "font.size": 15,
    "axes.titlesize": 19,
    "axes.titleweight": "bold",
    "axes.labelsize": 16,
    "xtick.labelsize": 14,
    "ytick.labelsize": 14,
    "legend.fontsize": 13,
    "figure.titlesize": 22,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 2.5,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "savefig.bbox": "tight",
}
EXPECTED = "#cf222e"  # expected end times
CUTOFF = "#1b1f24"  # the prize cut-off
WINNER, OTHER, DOUBT = "#0969da", "#8c959f", "#bf8700"
ENV_COLORS = ("#8c959f", "#54aeff", "#0969da", "#0a3069")
_RNG_SEED = 7  # fixed jitter: the same data draws the same picture


@contextmanager
def _style() -> Iterator[None]:
    with mpl.rc_context(cast(Any, STYLE)):  # rc keys are typed as literals
        yield


def _events(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(label, rows) per event, or one unlabelled group for a single archive."""
    if "event" not in frame.columns:
        return [("", frame)]
    return [(str(e), frame[frame.event == e]) for e in dict.fromkeys(frame.event)]


def _title(text: str, event: str) -> str:
    return f"{text}\n{event}" if event else text


def _axes(n: int, width: float, height: float, ncols: int = 1) -> tuple[Figure, list[Axes]]:
    """``n`` panels of ``width`` x ``height`` inches, ``ncols`` per row."""
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for extra in axes[n:]:
        extra.set_visible(False)
    return fig, axes[:n]


def _expected_lines(ax: Axes, expected: pd.DataFrame, label_y: float = 1.0) -> None:
    """Dashed vertical lines at each exercise's expected end (minutes after the start), labelled
    as the report labels them."""
    for row in expected.itertuples():
        ax.axvline(row.expected_min, color=EXPECTED, linestyle="--", linewidth=2, zorder=1)
        ax.text(
            row.expected_min,
            label_y,
            f" {timeaxis.expected_label(row.exercise)}",
            color=EXPECTED,
            fontsize=12,
            va="top",
            transform=ax.get_xaxis_transform(),
        )


def _clock_axis(ax: Axes, expected: pd.DataFrame) -> None:
    """The report's time axis (:mod:`ocq_batch.report.axis`): positions in minutes after T0,
    labelled with the clock time in the event's zone every half hour."""
    t0 = pd.Timestamp(expected.t0.iloc[0]).to_pydatetime()
    tz = str(expected.timezone.iloc[0])
    lo, hi = ax.get_xlim()
    marks = timeaxis.ticks(lo, hi)
    ax.set_xticks(marks, [timeaxis.label(t0, m, tz) for m in marks])
    ax.set_xlim(lo, hi)
    ax.set_xlabel(timeaxis.title(tz))


def _empty(fig: Figure, ax: Axes, message: str) -> Figure:
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=18, transform=ax.transAxes)
    return fig


def funnel(frame: pd.DataFrame) -> Figure:
    """Grouped bars: share of participants who completed each exercise, per environment."""
    with _style():
        groups = _events(frame)
        fig, axes = _axes(len(groups), 14, 6.5)
        for ax, (event, rows) in zip(axes, groups, strict=True):
            exercises = list(dict.fromkeys(rows.exercise))
            envs = list(dict.fromkeys(rows.env))
            width = 0.8 / len(envs)
            for k, env in enumerate(envs):
                part = rows[rows.env == env].set_index("exercise").loc[exercises]
                x = np.arange(len(exercises)) + (k - (len(envs) - 1) / 2) * width
                bars = ax.bar(x, part.share * 100, width * 0.95, label=env, color=ENV_COLORS[k % 4])
                labels = [f"{c}/{n}" for c, n in zip(part.completed, part.participants, strict=True)]
                ax.bar_label(bars, labels, fontsize=14, padding=3)
            ax.set_xticks(np.arange(len(exercises)), exercises)
            ax.set_ylim(0, 112)
            ax.set_ylabel("participants who completed (%)")
            ax.set_title(_title("Completion funnel: each exercise, per environment", event))
            ax.legend(title="environment", loc="upper right", ncols=len(envs))
        return fig


def completion_times(times: pd.DataFrame, expected: pd.DataFrame) -> Figure:
    """One row per exercise: every completion (minutes after the start) against the expected end."""
    with _style():
        groups = _events(times)
        fig, axes = _axes(len(groups), 14, 6.5)
        rng = np.random.default_rng(_RNG_SEED)
        for ax, (event, rows) in zip(axes, groups, strict=True):
            exp = expected[expected.event == event] if event else expected
            exercises = list(exp.exercise)
            for i, ex in enumerate(exercises):
                minutes = rows.loc[rows.exercise == ex, "minutes"].to_numpy()
                y = np.full(len(minutes), float(i)) + rng.uniform(-0.28, 0.28, len(minutes))
                ax.scatter(minutes, y, s=55, alpha=0.7, color=WINNER, edgecolor="white", zorder=3)
                if len(minutes):
                    med = float(np.median(minutes))
                    ax.plot([med, med], [i - 0.38, i + 0.38], color=CUTOFF, linewidth=4, zorder=4)
                row = exp[exp.exercise == ex].iloc[0]
                ax.plot(
                    [row.expected_min] * 2, [i - 0.45, i + 0.45], color=EXPECTED, linestyle="--", linewidth=3
                )
                ax.text(row.expected_min, i - 0.45, f" {timeaxis.expected_label(ex)}", color=EXPECTED,
                        fontsize=13, ha="left", va="bottom", fontweight="bold")  # fmt: skip
            counts = [int((rows.exercise == ex).sum()) for ex in exercises]
            ax.set_yticks(
                range(len(exercises)), [f"{ex}\n({n} done)" for ex, n in zip(exercises, counts, strict=True)]
            )
            ax.set_ylim(len(exercises) - 0.5, -0.7)
            _clock_axis(ax, exp)
            ax.set_title(_title("When each exercise was completed (black bar: median)", event))
        return fig


def clusters(times: pd.DataFrame, expected: pd.DataFrame) -> Figure:
    """Per exercise, one box per cluster: was one table's cluster slower?"""
    with _style():
        exercises = list(dict.fromkeys(expected.exercise))
        keys = ["event", "cluster"] if "event" in times.columns else ["cluster"]
        label = times[keys].astype(str).agg(" · ".join, axis=1)
        labels = sorted(label.unique())
        fig, axes = _axes(len(exercises), 5.5, 0.6 * len(labels) + 2.5, ncols=min(3, len(exercises)))
        for ax, ex in zip(axes, exercises, strict=True):
            data = [times.loc[(label == lb) & (times.exercise == ex), "minutes"].to_numpy() for lb in labels]
            ax.boxplot(data, orientation="horizontal", widths=0.6, showfliers=False,
                       medianprops={"color": CUTOFF, "linewidth": 3})  # fmt: skip
            for k, values in enumerate(data, start=1):
                ax.scatter(values, np.full(len(values), k), s=30, alpha=0.6, color=WINNER, zorder=3)
            ax.set_yticks(
                range(1, len(labels) + 1), [f"{lb} ({len(d)})" for lb, d in zip(labels, data, strict=True)]
            )
            ax.invert_yaxis()
            for exp in expected[expected.exercise == ex].itertuples():
                ax.axvline(exp.expected_min, color=EXPECTED, linestyle="--", linewidth=2.5)
            ax.set_title(f"{ex} (red dashes: {timeaxis.expected_label(ex)})")
            _clock_axis(ax, expected[expected.exercise == ex])
        fig.suptitle("Completion time per cluster (red dashes: expected end; (n): completions)")
        return fig


def promotion(delays: pd.DataFrame) -> Figure:
    """Minutes from completing an exercise in one environment to completing it in the next."""
    with _style():
        groups = _events(delays)
        fig, axes = _axes(len(groups), 14, 7)
        for ax, (event, rows) in zip(axes, groups, strict=True):
            steps = list(dict.fromkeys(zip(rows.exercise, rows.from_env, rows.to_env, strict=True)))
            if not steps:
                _empty(fig, ax, "no participant completed an exercise in two environments")
                continue
            data = [_delays(rows, step) for step in steps]
            ax.boxplot(data, orientation="horizontal", widths=0.6, showfliers=False,
                       medianprops={"color": CUTOFF, "linewidth": 3})  # fmt: skip
            for k, values in enumerate(data, start=1):
                ax.scatter(values, np.full(len(values), k), s=35, alpha=0.6, color=WINNER, zorder=3)
            names = [f"{e}: {a} → {b} ({len(d)})" for (e, a, b), d in zip(steps, data, strict=True)]
            ax.set_yticks(range(1, len(steps) + 1), names)
            ax.invert_yaxis()
            ax.set_xlabel("delay (minutes)")
            ax.set_title(_title("Promotion delays: dev → preprod → prod, per exercise", event))
        return fig


def _delays(rows: pd.DataFrame, step: tuple[str, str, str]) -> np.ndarray:
    e, a, b = step
    return rows[(rows.exercise == e) & (rows.from_env == a) & (rows.to_env == b)].delay_min.to_numpy()


def timeline(tl: pd.DataFrame, expected: pd.DataFrame, cutoff: pd.DataFrame | None = None) -> Figure:
    """Points over time of the leaders (the archive's timeline), prize cut-off and expected ends."""
    with _style():
        groups = _events(tl)
        fig, axes = _axes(len(groups), 15, 8)
        for ax, (event, rows) in zip(axes, groups, strict=True):
            users = list(dict.fromkeys(rows.sort_values(["rank", "user"]).user))
            colors = mpl.colormaps["tab10" if len(users) <= 10 else "tab20"].colors  # type: ignore[attr-defined]
            for k, user in enumerate(users):
                line = rows[rows.user == user]
                final = line.iloc[-1]
                ax.plot(line.minutes, line.score, color=colors[k % len(colors)], drawstyle="default",
                        label=f"{int(final['rank'])}. {user}  {final.score:.1f}")  # fmt: skip
            if cutoff is not None and len(cutoff):
                cut = cutoff[cutoff.event == event] if event else cutoff
                ax.plot(
                    cut.minutes,
                    cut.score,
                    color=CUTOFF,
                    linestyle="--",
                    linewidth=3,
                    label=f"prize cut-off\n(score of rank {int(cut.top.iloc[0])})",
                )
            mine = expected[expected.event == event] if event else expected
            _expected_lines(ax, mine, label_y=0.99)
            _clock_axis(ax, mine)
            ax.set_ylabel("points")
            ax.set_title(_title(f"Points over time: top {len(users)} (from the archive's timeline)", event))
            ax.legend(title="final rank and score", loc="upper left", bbox_to_anchor=(1.01, 1))
        return fig


def ranking(rk: pd.DataFrame, below: int = 10) -> Figure:
    """Final scores with their uncertainty (from score to score_high, the audit's robustness
    table), down to ``below`` past the cut-off; the places the verdict contests in amber."""
    with _style():
        groups = _events(rk)
        n = max(int(g.in_top.sum()) + below for _, g in groups)
        fig, axes = _axes(len(groups), 14, 0.34 * n + 2.5)
        for ax, (event, rows) in zip(axes, groups, strict=True):
            top = int(rows.in_top.sum())
            shown = rows.head(top + below).reset_index(drop=True)
            y = np.arange(len(shown))
            color = np.where(shown.contested, DOUBT, np.where(shown.in_top, WINNER, OTHER))
            finite = shown.score_high[np.isfinite(shown.score_high)]
            ceiling = max(float(finite.max()) if len(finite) else 0.0, float(shown.score.max())) * 1.05
            high = shown.score_high.where(np.isfinite(shown.score_high), ceiling)  # +inf: to the edge
            ax.barh(y, high - shown.score, left=shown.score, height=0.55, color=color, alpha=0.35)
            ax.scatter(shown.score, y, s=60, color=color, zorder=3)
            for k, row in shown.iterrows():
                ax.text(high[k], k, f"  {row.score:.1f}", va="center", fontsize=12)
            ax.set_yticks(
                y, [f"{r}. {u}" for r, u in zip(shown["rank"], shown.user, strict=True)], fontsize=12
            )
            ax.axhline(top - 0.5, color=CUTOFF, linestyle="--", linewidth=2.5)
            ax.text(1.0, top - 0.5, f"prize cut-off (top {top}) ", transform=ax.get_yaxis_transform(),
                    ha="right", va="bottom", fontsize=14, color=CUTOFF, fontweight="bold")  # fmt: skip
            ax.invert_yaxis()
            ax.margins(x=0.06)
            handles = [
                Line2D([], [], marker="o", linestyle="", markersize=10, color=c)
                for c in (WINNER, OTHER, DOUBT)
            ]
            ax.legend(
                handles, ["prize winner", "no prize", "contested at the prize cut-off"], loc="lower right"
            )
            ax.set_xlabel("final score (points); bar: up to the best score the samples allow")
            ax.set_title(
                _title("Final ranking with uncertainty (amber: contested at the prize cut-off)", event)
            )
        return fig


def live_vs_batch(frame: pd.DataFrame) -> Figure:
    """Live board rank against batch rank; participants whose prize status differs are named."""
    with _style():
        groups = _events(frame)
        fig, axes = _axes(len(groups), 10, 9)
        for ax, (event, rows) in zip(axes, groups, strict=True):
            if rows.empty:
                _empty(fig, ax, "this archive has no live board series\n(live_bonus, live_ramp)")
                continue
            top = int(rows.batch_in_top.sum())
            moved = rows.batch_in_top != rows.live_in_top
            ax.scatter(
                rows.batch_rank[~moved], rows.live_rank[~moved], s=45, color=OTHER, label="same prize status"
            )
            ax.scatter(
                rows.batch_rank[moved], rows.live_rank[moved], s=90, color=EXPECTED, label="prize differs"
            )
            for row in rows[moved].itertuples():
                ax.annotate(str(row.user), (row.batch_rank, row.live_rank), xytext=(8, 4),
                            textcoords="offset points", fontsize=13, color=EXPECTED)  # fmt: skip
            n = int(max(rows.batch_rank.max(), rows.live_rank.max()))
            ax.plot([1, n], [1, n], color=OTHER, linewidth=1)
            ax.axvline(top + 0.5, color=CUTOFF, linestyle="--", linewidth=2)
            ax.axhline(
                top + 0.5, color=CUTOFF, linestyle="--", linewidth=2, label=f"prize cut-off (top {top})"
            )
            ax.set_xlabel(timeaxis.BATCH_RANK)  # rank 1 at the top left, as in the report
            ax.set_ylabel(timeaxis.LIVE_RANK)
            ax.invert_yaxis()
            ax.set_title(_title("Live board vs batch ranking (top left: prizes under both)", event))
            ax.legend(loc="lower right")
        return fig


def rank_moves(ranks: pd.DataFrame, baseline: str = "as archived", around: int = 8) -> Figure:
    """Per scenario, ranks near the cut-off before (left) and after (right); crossings in colour."""
    with _style():
        base = ranks[ranks.scenario == baseline].set_index("user")
        top = int(base[base.in_top]["rank"].max())
        scenarios = [s for s in dict.fromkeys(ranks.scenario) if s != baseline]
        fig, axes = _axes(len(scenarios), 8, 9.5, ncols=min(2, len(scenarios)))
        lo, hi = max(1, top - around), top + around
        for ax, name in zip(axes, scenarios, strict=True):
            now = ranks[ranks.scenario == name].set_index("user")
            users = [
                u for u in now.index if lo <= base.loc[u, "rank"] <= hi or lo <= now.loc[u, "rank"] <= hi
            ]
            crossed = 0
            for u in users:
                moved = bool(base.loc[u, "in_top"]) != bool(now.loc[u, "in_top"])
                crossed += moved
                color = (WINNER if now.loc[u, "in_top"] else EXPECTED) if moved else OTHER
                ax.plot([0, 1], [base.loc[u, "rank"], now.loc[u, "rank"]], color=color, marker="o",
                        linewidth=4 if moved else 1.5, zorder=3 if moved else 2)  # fmt: skip
            _rank_labels(ax, base.loc[users, "rank"], 0, "right")
            _rank_labels(ax, now.loc[users, "rank"], 1, "left")
            ax.axhline(top + 0.5, color=CUTOFF, linestyle="--", linewidth=3)
            ax.set_xlim(-1.1, 2.1)
            ax.set_ylim(hi + 0.8, lo - 0.8)
            ax.set_xticks([0, 1], [baseline, name])
            ax.set_yticks([])
            ax.grid(False)
            ax.spines["left"].set_visible(False)
            ax.set_title(f"{name}:\n{_crossing(crossed)} the cut-off")
        fig.suptitle(f"Who crosses the prize cut-off (dashed line: top {top}) under other scoring rules")
        return fig


def _crossing(n: int) -> str:
    return (
        "nobody crosses" if n == 0 else f"{n} participant{'s' if n > 1 else ''} cross{'es' if n == 1 else ''}"
    )


def _rank_labels(ax: Axes, ranks: pd.Series, x: float, ha: str) -> None:
    """Names beside their rank; participants sharing a rank share one label."""
    pad = -0.06 if ha == "right" else 0.06
    for rank, users in ranks.groupby(ranks).groups.items():
        names = " / ".join(sorted(map(str, users)))
        text = f"{names}  {rank}." if ha == "right" else f"{rank}.  {names}"
        ax.text(x + pad, float(str(rank)), text, ha=ha, va="center", fontsize=13)


def save(fig: Figure, path: str, formats: Sequence[str] = ("png",)) -> None:
    """Write ``fig`` as ``path.<format>`` for each format (e.g. for slides)."""
    for fmt in formats:
        fig.savefig(f"{path}.{fmt}")
