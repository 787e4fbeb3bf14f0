"""What one run received, per query family: every answer accounted for.

The loader tells :class:`Received` about every response it reads (also one already in the
store), so a run knows, for each ``[queries]`` family of the plan (``completion/hero/prod``
...), how many answers it got, which came back empty (their ranges), how many series and
samples they held, the first and last sample's time, and the series that lack the user or
cluster label. The manifest lists it (``families``), ``answers`` in the store holds one row
per answer (``sql/load/insert_answers.sql``) for the audit's findings (``empty_family``,
``empty_answer``), and :func:`check_scoring_data` stops a run whose scoring family answered
nothing, or whose data do not reach the window's edges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from ocq_batch.columns import TIMESTAMP_US, booleans, numbers, strings
from ocq_batch.config.model import Config, Window
from ocq_batch.errors import SourceError, WindowError
from ocq_batch.pull.parse import Parsed
from ocq_batch.pull.queries import QuerySpec
from ocq_batch.pull.source import Response
from ocq_batch.resources import sql_text
from ocq_batch.timeutil import from_epoch, iso

_ANSWERS_SCHEMA = pa.schema(
    [
        ("query_key", pa.string()),
        ("query", pa.string()),
        ("component", pa.string()),
        ("exercise", pa.string()),
        ("env", pa.string()),
        ("optional", pa.bool_()),
        ("start_ts", TIMESTAMP_US),
        ("end_ts", TIMESTAMP_US),
        ("step_s", pa.float64()),
        ("n_series", pa.int64()),
        ("n_samples", pa.int64()),
        ("first_ts", TIMESTAMP_US),
        ("last_ts", TIMESTAMP_US),
    ]
)


@dataclass
class Family:
    """What the answers to one query family held."""

    query: str
    responses: int = 0
    empty: list[tuple[float, float]] = field(default_factory=list)  # request ranges, unix s
    series: set[int] = field(default_factory=set)
    samples: int = 0
    first_us: int | None = None
    last_us: int | None = None
    without_user: set[int] = field(default_factory=set)
    without_cluster: set[int] = field(default_factory=set)


@dataclass
class _Answer:
    spec: QuerySpec
    start: float
    end: float
    step: float
    n_series: int
    n_samples: int
    first_us: int | None
    last_us: int | None


class Received:
    """Every answer of one run, per query family (see the module's docstring)."""

    def __init__(self) -> None:
        self.families: dict[str, Family] = {}
        self._answers: list[_Answer] = []

    def add(self, resp: Response, parsed: Parsed) -> None:
        """Count one response as parsed (its samples kept to its request's range)."""
        spec = resp.spec
        family = self.families.setdefault(spec.key, Family(spec.query))
        family.responses += 1
        counts = parsed.counts
        ids = np.asarray(parsed.series["series_id"], dtype=np.int64)
        with_samples = counts > 0
        present = ids[with_samples].tolist()
        first = last = None
        if parsed.n_samples:
            first, last = int(parsed.ts_us.min()), int(parsed.ts_us.max())
            family.first_us = first if family.first_us is None else min(family.first_us, first)
            family.last_us = last if family.last_us is None else max(family.last_us, last)
        else:
            family.empty.append((resp.start, resp.end))
        family.series.update(present)
        family.samples += parsed.n_samples
        for column, missing in (("user", family.without_user), ("cluster", family.without_cluster)):
            values = parsed.series[column]
            missing.update(
                i for i, v, n in zip(ids.tolist(), values, counts.tolist(), strict=True) if v is None and n
            )
        self._answers.append(
            _Answer(spec, resp.start, resp.end, resp.step,
                    len(present), parsed.n_samples, first, last)
        )  # fmt: skip

    def store(self, con: duckdb.DuckDBPyConnection) -> None:
        """Replace the store's ``answers`` with this run's (one row per answer)."""
        a = self._answers

        def times(values: list[float]) -> Any:
            return numbers(np.array([round(v * 1_000_000) for v in values], np.int64), TIMESTAMP_US)

        def optional_times(values: list[int | None]) -> pa.Array:
            valid = np.array([v is not None for v in values], np.bool_)
            return numbers(np.array([v or 0 for v in values], np.int64), TIMESTAMP_US, valid)

        table = pa.Table.from_arrays(
            [
                strings([x.spec.key for x in a]),
                strings([x.spec.query for x in a]),
                strings([x.spec.component for x in a]),
                strings([x.spec.exercise for x in a]),
                strings([x.spec.env for x in a]),
                booleans([x.spec.optional for x in a]),
                times([x.start for x in a]),
                times([x.end for x in a]),
                numbers(np.array([x.step for x in a], np.float64), pa.float64()),
                numbers(np.array([x.n_series for x in a], np.int64)),
                numbers(np.array([x.n_samples for x in a], np.int64)),
                optional_times([x.first_us for x in a]),
                optional_times([x.last_us for x in a]),
            ],
            schema=_ANSWERS_SCHEMA,
        )
        con.register("new_answers", table)
        try:
            con.execute(sql_text("load/insert_answers.sql"))
        finally:
            con.unregister("new_answers")

    def manifest(self, specs: Sequence[QuerySpec]) -> dict[str, dict[str, Any]]:
        """The manifest's ``families``: for every family of the plan, what its answers held
        (``responses`` 0: an optional family the source was not asked for)."""
        out: dict[str, dict[str, Any]] = {}
        for spec in specs:
            f = self.families.get(spec.key, Family(spec.query))
            out[spec.key] = {
                "query": spec.query,
                "optional": spec.optional,
                "responses": f.responses,
                "empty_responses": len(f.empty),
                "empty_ranges": [[_iso_s(a), _iso_s(b)] for a, b in f.empty],
                "series": len(f.series),
                "samples": f.samples,
                "first_sample": _iso_us(f.first_us),
                "last_sample": _iso_us(f.last_us),
                "series_without_user": len(f.without_user),
                "series_without_cluster": len(f.without_cluster),
            }
        return out

    def totals(self) -> dict[str, int]:
        """The load's counts of empty answers and of series without a user or cluster label."""
        fams = self.families.values()
        return {
            "empty_responses": sum(len(f.empty) for f in fams),
            "series_without_user": sum(len(f.without_user) for f in fams),
            "series_without_cluster": sum(len(f.without_cluster) for f in fams),
        }


def _iso_s(seconds: float) -> str:
    return iso(from_epoch(seconds))


def _iso_us(us: int | None) -> str | None:
    return None if us is None else iso(datetime.fromtimestamp(us / 1_000_000, UTC))


def scoring_specs(config: Config, specs: Sequence[QuerySpec]) -> list[QuerySpec]:
    """The families the scores are made of: the scoring environment's completion family
    (``[scoring] signal = "recorded"``), or the components behind it (``components``)."""
    if config.signal == "recorded":
        return [s for s in specs if s.component == "completion" and s.env == config.env]
    return [
        s
        for ex in config.exercises
        for s in specs
        if s.exercise == ex.name and s.component in ex.components and s.env in (config.env, None)
    ]


def check_scoring_data(
    received: Received, config: Config, window: Window, specs: Sequence[QuerySpec], source: str
) -> None:
    """Stop a run whose scores would not rest on data (one line, exit 1).

    SourceError when a scoring family (:func:`scoring_specs`) answered no series at all;
    WindowError when the scoring families' samples start more than one collection interval
    (``[audit] collect_interval``, at least ``eval_interval``: the samples' own phase) after
    ``--from``, or end more than that before ``--to``: the window reaches past the data
    (a ``--to`` after the source's last sample, or a local time written with ``Z``).
    """
    scoring = scoring_specs(config, specs)
    span = f"{iso(window.start)} to {iso(window.end)}"
    for spec in scoring:
        family = received.families.get(spec.key)
        if family is None or not family.series:
            raise SourceError(
                f"query {spec.key} ({spec.query!r}) answered no series for {span} from {source}, "
                f"so no {spec.exercise} in {config.env} can be scored; check the [queries] "
                f"{spec.component} template, --from/--to and the source"
            )
    firsts = [f.first_us for s in scoring if (f := received.families[s.key]).first_us is not None]
    lasts = [f.last_us for s in scoring if (f := received.families[s.key]).last_us is not None]
    if not firsts or not lasts:
        return
    slack = max(config.audit.collect_interval_s, config.audit.eval_interval_s)
    first, last = min(firsts) / 1_000_000, max(lasts) / 1_000_000
    start, end = window.start.timestamp(), window.end.timestamp()
    what = f"the {config.env} {'completion' if config.signal == 'recorded' else 'component'} data"
    if last < end - slack:
        raise WindowError(
            f"{what} end at {_iso_s(last)}, {_duration(end - last)} before --to {iso(window.end)}: "
            f"scores would ramp on past the data; pass --to {_iso_s(last)} (or earlier) or check the "
            f"source{_local_hint(config, window.end, first - slack, last + slack)}"
        )
    if first > start + slack:
        raise WindowError(
            f"{what} start at {_iso_s(first)}, {_duration(first - start)} after --from {iso(window.start)}: "
            f"the window opens before the data; pass --from {_iso_s(first)} (or later) or check the "
            f"source{_local_hint(config, window.start, first - slack, last + slack)}"
        )


def _duration(seconds: float) -> str:
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return "".join(f"{n}{u}" for n, u in ((h, "h"), (m, "m"), (sec, "s")) if n) or "0s"


def _local_hint(config: Config, at: datetime, lo: float, hi: float) -> str:
    """A reminder that ``Z`` is UTC when ``at``'s time of day, read in the event's time zone,
    falls inside the data (``lo`` to ``hi``, unix s): a local time written with ``Z`` shifts the
    window by the zone's offset."""
    from zoneinfo import ZoneInfo

    meant = at.replace(tzinfo=ZoneInfo(config.timezone))  # the same time of day, read as local
    if not meant.utcoffset() or not lo <= meant.timestamp() <= hi:
        return ""
    return (
        f" (a time with Z is UTC: if you meant {at.strftime('%H:%M')} in {config.timezone}, "
        f"write {meant.isoformat(timespec='seconds')})"
    )
