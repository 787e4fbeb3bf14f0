"""Several archives (or one) as DuckDB views and DataFrames, with the common questions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.dataset as pads

from ocq_batch.analysis.rescore import Rescorer, scenario, what_if
from ocq_batch.archive.read import TABLE_NAME, Archive, event_labels, read_archive
from ocq_batch.audit.verdict import CutOff, decide_cutoff
from ocq_batch.closing import Closing
from ocq_batch.errors import ArchiveError

LIVE_COMPONENTS = ("live_bonus", "live_ramp")

_TIMES = """
    select c.event, c.user, c.exercise, c.env, c.cluster, c.completed_at, c.completed_after,
           (epoch_us(c.completed_at) - epoch_us(i.t0)) / 6e7 as minutes,
           x.expected_s / 60 as expected_min,
           (epoch_us(c.completed_at) - epoch_us(i.t0)) / 6e7 - x.expected_s / 60 as late_min,
           (epoch_us(c.completed_at) - epoch_us(c.completed_after)) / 1e6 as uncertainty_s,
           c.n_flaps, c.n_regressions
    from x_completions as c
    join x_ranking as r using (event, user)
    join event_info as i using (event)
    join exercise_info as x using (event, exercise)
    where c.is_counted and c.env = coalesce($env::varchar, i.env)
"""


class Archives(Closing):
    """One or several archives as DuckDB views (``self.sql``) and DataFrames, with helpers.

    Views are named after the files (``ranking``, ``completions`` ...); ``event_info``,
    ``exercise_info`` and ``env_info`` hold each event's settings. Helpers return
    participants of the ranking only (excluded test accounts are left out). Each archive
    is read from the generation it was opened at (:func:`~ocq_batch.archive.read.read_archive`),
    even when an export republishes its folder meanwhile; :meth:`close` releases its files.
    """

    def __init__(self, archives: Sequence[Archive]) -> None:
        self.archives = list(archives)
        self.events = event_labels(self.archives)
        self.con = duckdb.connect()
        self.con.execute("set TimeZone = 'UTC'")
        self._rescorers: dict[str, Rescorer] = {}
        self._info()
        names = dict.fromkeys(t for a in self.archives for t in a.tables if TABLE_NAME.match(t))
        for table in names:  # names and indexes are ours; paths and labels arrive as loaded data
            parts = []
            for i, a in enumerate(self.archives):
                if table in a.tables:
                    self.con.register(f"_a{i}_{table}", pads.dataset(a.file(table)))
                    parts.append(
                        f"select e.event, d.* from _a{i}_{table} as d, "
                        f"(select event from event_info where idx = {i}) as e"
                    )
            self.con.execute(f"create view x_{table} as " + " union all by name ".join(parts))
            shown = "*" if self.multi else "* exclude (event)"
            self.con.execute(f"create view {table} as select {shown} from x_{table}")
        self.tables = list(names)

    def _info(self) -> None:
        events, exercises, envs = [], [], []
        for i, (a, label) in enumerate(zip(self.archives, self.events, strict=True)):
            c = a.config
            events.append(
                {"idx": i, "event": label, "name": a.name, "path": str(a.path), "t0": c.start,
                 "from_ts": a.window.start, "to_ts": a.window.end, "env": c.env, "model": c.model,
                 "tick_s": c.tick_s, "top": c.top, "timezone": c.timezone}
            )  # fmt: skip
            exercises += [
                {"event": label, "exercise": e.name, "ordinal": k, "base": e.base,
                 "expected_s": e.expected_s, "penalty": e.penalty}
                for k, e in enumerate(c.exercises, 1)
            ]  # fmt: skip
            envs += [{"event": label, "env": v, "ordinal": k} for k, v in enumerate(c.envs, 1)]
        for name, rows in (("event_info", events), ("exercise_info", exercises), ("env_info", envs)):
            self.con.register("frame", pd.DataFrame(rows))
            self.con.execute(f"create table {name} as select * from frame")
            self.con.unregister("frame")

    @property
    def multi(self) -> bool:
        """True when several archives are open (results then carry an ``event`` column)."""
        return len(self.archives) > 1

    def sql(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run DuckDB SQL over the views; values go in ``params``, never into the text."""
        return self.con.execute(query, params).df()

    def local(self, frame: pd.DataFrame, event: str | None = None) -> pd.DataFrame:
        """``frame`` with every timestamp column in the event's time zone (``[event] timezone``),
        as the report shows them; the archive and the other methods keep UTC."""
        tz = self.archive(event).config.timezone
        out = frame.copy()
        for col in out.columns:
            if isinstance(out[col].dtype, pd.DatetimeTZDtype):
                out[col] = out[col].dt.tz_convert(tz)
        return out

    def df(self, table: str) -> pd.DataFrame:
        """A whole table (``event`` column first when several archives are open)."""
        if table not in [*self.tables, "event_info", "exercise_info", "env_info"]:
            raise ArchiveError(f"no table {table!r}; the archives have {', '.join(self.tables)}")
        return self.sql(f"select * from {table}")

    def _out(self, query: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        frame = self.sql(query, params)
        return frame if self.multi else frame.drop(columns="event")

    def archive(self, event: str | None = None) -> Archive:
        """The archive of ``event`` (a label of :attr:`events`; optional when one is open)."""
        if event is None and not self.multi:
            return self.archives[0]
        if event not in self.events:
            raise ArchiveError(f"pass event= one of {', '.join(map(repr, self.events))}")
        return self.archives[self.events.index(event)]

    def summary(self) -> pd.DataFrame:
        """Per event: users seen and excluded, participants ranked, clusters, completions."""
        return self.sql(
            """
            with p as (
                select event, count(*) as seen, count(*) filter (where is_excluded) as excluded
                from x_participants group by event
            ),
            c as (
                select event, count(distinct cluster) as clusters
                from (select event, unnest(clusters) as cluster from x_participants) group by event
            ),
            n as (select event, count(*) as n from exercise_info group by event),
            r as (
                select event, count(*) as participants,
                       count(*) filter (where exercises_completed > 0) as completed_one,
                       count(*) filter (where exercises_completed = n.n) as completed_all
                from x_ranking join n using (event) group by event
            )
            select i.event, i.env, i.model, i.from_ts, i.to_ts, p.seen, p.excluded, r.participants,
                   c.clusters, r.completed_one, r.completed_all, i.top
            from event_info as i join p using (event) join c using (event) join r using (event)
            order by i.idx
            """
        )

    def participants(self) -> pd.DataFrame:
        """Every user seen, with rank and score (null for excluded accounts)."""
        return self._out(
            """
            select p.*, r.rank, r.score, r.exercises_completed
            from x_participants as p left join x_ranking as r using (event, user)
            order by p.event, r.rank nulls last, p.user
            """
        )

    def expected_times(self) -> pd.DataFrame:
        """Per exercise: the expected end in minutes after the start and as an instant; the
        event's start ``t0`` and ``timezone``, which the charts' time axis is drawn in."""
        return self._out(
            """
            select x.event, x.exercise, x.expected_s / 60 as expected_min,
                   i.t0 + to_microseconds((x.expected_s * 1e6)::bigint) as expected_at,
                   i.t0, i.timezone
            from exercise_info as x join event_info as i using (event) order by x.event, x.ordinal
            """
        )

    def funnel(self) -> pd.DataFrame:
        """Per environment and exercise: participants, how many completed, and the share (0-1)."""
        return self._out(
            """
            with n as (select event, count(*) as participants from x_ranking group by event),
            done as (
                select c.event, c.env, c.exercise, count(distinct c.user) as completed
                from x_completions as c join x_ranking using (event, user) group by all
            )
            select x.event, v.env, x.exercise, n.participants, coalesce(d.completed, 0) as completed,
                   coalesce(d.completed, 0) / n.participants as share
            from exercise_info as x
            join env_info as v using (event)
            join n using (event)
            left join done as d on d.event = x.event and d.env = v.env and d.exercise = x.exercise
            order by x.event, v.ordinal, x.ordinal
            """
        )

    def completion_times(self, env: str | None = None) -> pd.DataFrame:
        """One row per counted completion in ``env`` (default: the scoring env), minutes after T0.

        ``late_min`` is minutes after the expected end (negative: early); ``uncertainty_s``
        is ``completed_at - completed_after`` in seconds (null at window start).
        """
        return self._out(_TIMES + " order by c.event, x.ordinal, c.completed_at, c.user", {"env": env})

    def cluster_comparison(self, env: str | None = None) -> pd.DataFrame:
        """Per cluster and exercise: participants on it, completions, share, median minutes."""
        return self._out(
            f"""
            with t as ({_TIMES}),
            on_cluster as (
                select p.event, unnest(p.clusters) as cluster, p.user
                from x_participants as p join x_ranking using (event, user)
            ),
            n as (select event, cluster, count(distinct user) as participants from on_cluster group by all)
            select n.event, n.cluster, x.exercise, n.participants, count(t.user) as completed,
                   count(t.user) / n.participants as share, median(t.minutes) as median_min,
                   median(t.late_min) as median_late_min
            from n
            join exercise_info as x on x.event = n.event
            left join t on t.event = n.event and t.cluster = n.cluster and t.exercise = x.exercise
            group by n.event, n.cluster, x.exercise, x.ordinal, n.participants
            order by n.event, x.ordinal, n.cluster
            """,
            {"env": env},
        )

    def promotion_delays(self) -> pd.DataFrame:
        """Per participant and exercise: minutes from completing in one env to the next (dev→preprod...)."""
        return self._out(
            """
            with firsts as (
                select c.event, c.user, c.exercise, c.env, v.ordinal, c.completed_at
                from x_completions as c
                join x_ranking using (event, user)
                join env_info as v using (event, env)
                where c.is_counted
            )
            select a.event, a.user, a.exercise, a.env as from_env, b.env as to_env,
                   a.completed_at as from_at, b.completed_at as to_at,
                   (epoch_us(b.completed_at) - epoch_us(a.completed_at)) / 6e7 as delay_min
            from firsts as a
            join firsts as b
              on b.event = a.event and b.user = a.user and b.exercise = a.exercise
             and b.ordinal = a.ordinal + 1
            join exercise_info as x on x.event = a.event and x.exercise = a.exercise
            order by a.event, x.ordinal, a.ordinal, a.user
            """
        )

    def leaders(self, n: int | None = None) -> pd.DataFrame:
        """The first ``n`` rows of the ranking (default: the prize winners)."""
        return self._out(
            """
            select r.* from x_ranking as r join event_info as i using (event)
            where r.rank <= coalesce($n, i.top) order by i.idx, r.rank, r.user
            """,
            {"n": n},
        )

    def timeline(self, n: int = 10, users: Sequence[str] | None = None) -> pd.DataFrame:
        """The archive's points over time for the first ``n`` of the ranking (or ``users``)."""
        return self._out(
            """
            select t.event, t.user, r.rank, t.ts, (epoch_us(t.ts) - epoch_us(i.t0)) / 6e7 as minutes, t.score
            from x_timeline as t join x_ranking as r using (event, user) join event_info as i using (event)
            where case when $users is null then r.rank <= $n else list_contains($users, t.user) end
            order by i.idx, r.rank, t.user, t.ts
            """,
            {"n": n, "users": None if users is None else list(users)},
        )

    def cutoff_timeline(self) -> pd.DataFrame:
        """At each tick of the timeline, the score of the last prize place (N-th best score)."""
        return self._out(
            """
            select event, ts, minutes, score, top from (
                select t.event, t.ts, (epoch_us(t.ts) - epoch_us(i.t0)) / 6e7 as minutes, t.score, i.top,
                       row_number() over (partition by t.event, t.ts order by t.score desc) as k
                from x_timeline as t join x_ranking using (event, user) join event_info as i using (event)
            ) where k = top order by event, ts
            """
        )

    def ranking_with_uncertainty(self) -> pd.DataFrame:
        """The ranking with its uncertainty, per SCORING.md "Rank robustness", as the audit
        decided it: read from the archive's ``robustness`` table (SQL step 09, with the
        lineage of the configuration: the rule's input interval, ``collect_interval``,
        ``component_lag``, stale evidence), so a notebook, the report, ``verify`` and
        ``audit`` give every participant the same interval.

        ``score`` is the lowest score the data allows (completions at ``completed_at``);
        ``score_high`` the highest (every completion at its ``completed_after``; +inf when
        one has no lower bound). ``uncertainty_s`` is the widest ``completed_at -
        completed_after`` of the participant. ``overlaps_next`` / ``overlaps_prev``: the
        next (previous) participant's interval meets this one, so the data cannot order
        the two. ``contested``: the place is contested at the prize cut-off (:meth:`cutoff`).
        """
        return self._ranking_with_uncertainty(self.verdicts())

    def _ranking_with_uncertainty(self, verdicts: dict[str, CutOff]) -> pd.DataFrame:
        frame = self._out(
            """
            with w as (
                select event, user,
                       max((epoch_us(completed_at) - epoch_us(completed_after)) / 1e6) as uncertainty_s
                from x_scores group by all
            ),
            r as (
                select r.*, b.score_max as score_high, w.uncertainty_s,
                       row_number() over (partition by r.event order by b.rank, b.user) as k
                from x_ranking as r
                join x_robustness as b using (event, user)
                left join w using (event, user)
            )
            select * exclude (k),
                   coalesce(lead(score_high) over w >= score, false) as overlaps_next,
                   coalesce(lag(score) over w <= score_high, false) as overlaps_prev
            from r window w as (partition by event order by k)
            order by event, k
            """
        )
        contested = [
            user in verdicts[event].contested_users
            for event, user in zip(
                frame.event if self.multi else [self.events[0]] * len(frame), frame.user, strict=True
            )
        ]
        return frame.assign(contested=contested)

    def verdicts(self) -> dict[str, CutOff]:
        """Per event, the prize cut-off's verdict (:class:`~ocq_batch.audit.verdict.CutOff`):
        :func:`~ocq_batch.audit.verdict.decide_cutoff` on the archive's ``robustness`` table,
        in its order, with the archive's ``top``: what the export's audit decided."""
        self._need("robustness")
        out = {}
        for i, event in enumerate(self.events):
            rows = self.con.execute(
                f"select rank, user, score_min, score_max, in_top from _a{int(i)}_robustness"
            ).fetchall()
            robustness = [
                dict(zip(("rank", "user", "score_min", "score_max", "in_top"), r, strict=True)) for r in rows
            ]
            out[event] = decide_cutoff(robustness, self.archives[i].config.top)
        return out

    def cutoff(self) -> pd.DataFrame:
        """Per event: the verdict on the prize cut-off, the one ``verify``, ``audit`` and the
        report give (read from the archive's robustness table, see :meth:`verdicts`).

        ``decidable``; ``contested_ranks`` (first, last) and ``contested`` (the users, in rank
        order) when it is not; the nearest decided top N below and above; ``verdict``, the
        sentence; and, around the cut-off, the last winner and the first participant out
        with their scores (``out_score_high``: the best the first one out could have).
        """
        verdicts = self.verdicts()
        rk = self._ranking_with_uncertainty(verdicts)
        rows = []
        for event, cut in verdicts.items():
            frame = rk[rk.event == event] if self.multi else rk
            top = cut.top
            last = frame.iloc[min(top, len(frame)) - 1]
            first = frame.iloc[top] if len(frame) > top else None
            rows.append(
                {"event": event, "top": top, "decidable": cut.decidable,
                 "contested_ranks": cut.contested_ranks, "contested": [p.user for p in cut.contested],
                 "below": cut.below, "above": cut.above, "verdict": cut.sentence(),
                 "last_winner": last.user, "first_out": None if first is None else first.user,
                 "winner_score": last.score, "out_score": None if first is None else first.score,
                 "out_score_high": None if first is None else first.score_high,
                 "gap": None if first is None else last.score - first.score}
            )  # fmt: skip
        out = pd.DataFrame(rows)
        return out if self.multi else out.drop(columns="event", errors="ignore")

    def _need(self, table: str) -> None:
        missing = [a.path for a in self.archives if table not in a.tables]
        if missing:
            raise ArchiveError(
                f"{missing[0]} has no {table}.parquet, which the verdict is read from; "
                "export it again with this ocq-batch"
            )

    def has_live(self) -> bool:
        """Whether the archives hold the live board's series (components live_bonus, live_ramp)."""
        query = "select count(*) from x_samples where list_contains($c, component)"
        return bool(self.con.execute(query, {"c": list(LIVE_COMPONENTS)}).fetchone()[0])  # type: ignore[index]

    def live_vs_batch(self) -> pd.DataFrame:
        """The live board's rank at ``to`` against the batch rank; empty without live series.

        The audit's ``live_vs_batch`` table is used when the archive has one. Otherwise the
        live score is read from the samples: per cluster, the last value at ``to`` of the
        one-time bonus plus the ramp, summed over exercises, best cluster. It is in the
        board's own units (rule evaluations), so compare ranks, not scores.
        ``rank_change`` = live rank - batch rank (positive: the board placed them lower).
        """
        if "live_vs_batch" in self.tables:
            return self._out("select * from x_live_vs_batch order by event, batch_rank, user")
        return self._out(
            """
            with last as (
                select s.event, s.user, s.cluster, arg_max(s.value, s.ts) as value
                from x_samples as s join event_info as i using (event)
                where list_contains($c, s.component) and s.ts <= i.to_ts and not isnan(s.value)
                group by s.event, s.user, s.cluster, s.exercise, s.component
            ),
            live as (
                select event, user, max(value) as live_score_raw
                from (select event, user, cluster, sum(value) as value from last group by all) group by all
            )
            select r.event, r.user, r.rank as batch_rank, r.score as batch_score, r.in_top as batch_in_top,
                   rank() over (partition by r.event order by round(l.live_score_raw, 6) desc) as live_rank,
                   l.live_score_raw, live_rank <= i.top as live_in_top, live_rank - r.rank as rank_change
            from x_ranking as r join event_info as i using (event) join live as l using (event, user)
            order by i.idx, r.rank, r.user
            """,
            {"c": list(LIVE_COMPONENTS)},
        )

    def rescorer(self, event: str | None = None) -> Rescorer:
        """The (cached) :class:`Rescorer` of one archive."""
        arch = self.archive(event)
        label = self.events[self.archives.index(arch)]
        if label not in self._rescorers:
            self._rescorers[label] = Rescorer(arch)
        return self._rescorers[label]

    def rescore(
        self, event: str | None = None, penalties: Sequence[float] | None = None, **overrides: Any
    ) -> pd.DataFrame:
        """The ranking under the archive's config with overrides (see :func:`scenario`)."""
        rescorer = self.rescorer(event)
        return rescorer.run(scenario(rescorer.archive.config, penalties, **overrides)).ranking

    def what_if(self, scenarios: Mapping[str, Mapping[str, Any]], event: str | None = None) -> pd.DataFrame:
        """See :func:`what_if`; one archive at a time."""
        return what_if(self.rescorer(event), scenarios)

    def close(self) -> None:
        """Close the views' connection and the archives' files (each open on the generation
        it was opened at: a republish of the folder meanwhile changed nothing read here)."""
        for rescorer in self._rescorers.values():
            rescorer.close()
        self.con.close()
        for archive in self.archives:
            archive.close()

    def __repr__(self) -> str:
        return f"Archives({', '.join(self.events)}; tables: {', '.join(self.tables)})"


def open_archives(paths: str | Path | Sequence[str | Path], verify: bool = True) -> Archives:
    """Open one archive folder or several (see :class:`Archives`)."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise ArchiveError("no archive given; pass a folder written by 'ocq-batch export --out DIR'")
    opened: list[Archive] = []
    try:
        for p in items:
            opened.append(read_archive(p, verify=verify))
        return Archives(opened)
    except BaseException:
        for archive in opened:
            archive.close()
        raise
