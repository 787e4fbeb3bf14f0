-- grain: signal_edges: user, exercise, env, cluster, ts
-- grain: signal_keys: user, exercise, env, cluster
-- signal_edges: where the completion state of each (user, exercise, env, cluster) is set or
-- changes inside the window [from_ts, to_ts], read from the change log (the 'recorded'
-- signal; ocq_batch/detect/steps.py runs sql/detect/samples/ for the other one).
-- Grain: (user, exercise, env, cluster, ts). One is_window_start row per key with data: the
-- first known sample in the window and its state (prev_* null). Every other row is a change
-- between consecutive known samples (state <> prev_state), prev_ts the known sample before.
-- Invariants: state in (0, 1); NaN, Inf and missing samples are gaps, never 0: they widen
-- (prev_ts, ts] and never change the state. Series without env count for every environment.
-- signal_keys: one row per (user, exercise, env, cluster) with a known sample in the window.
-- sql/detect/samples/03_signal.sql and 04_transitions.sql give the same from every sample.
drop table if exists signal;  -- the sample-level projection of sql/detect/samples/03_signal.sql
-- signal_edges only feeds step 04, in the same run: a temporary table, never written to the
-- store's log (a stored one, from an earlier version, goes)
drop table if exists main.signal_edges;

create or replace temp table signal_edges as
with p as (
    select * from run_params
),
scope as (
    select series_id
    from series
    where component = 'completion' and user is not null and exercise is not null
),
-- a series' chunks in time order, each with the last known sample before it
known_chunks as (
    select c.series_id, c.first_known_ts, c.first_state, c.last_known_ts,
           lag(c.last_known_ts) over w as prev_last_ts,
           lag(c.last_state) over w as prev_last_state
    from chunks as c
    semi join scope using (series_id)
    where c.n_known > 0
    window w as (partition by c.series_id order by c.first_known_ts)
),
-- every known sample where the state may differ from the one before
edges as (
    select series_id, first_known_ts as ts, prev_last_ts as prev_ts,
           first_state as state, prev_last_state as prev_state
    from known_chunks
    union all
    select c.series_id, c.ts, c.prev_ts, c.state, 1 - c.state
    from state_changes as c
    semi join scope using (series_id)
),
-- a chunk that begins before the window and has a known sample in it: that sample may be
-- inside a run, so it is read from the samples (chunks of a series never overlap)
straddling as (
    select k.series_id, k.last_known_ts
    from known_chunks as k
    cross join p
    where k.first_known_ts < p.from_ts and k.last_known_ts >= p.from_ts
),
straddling_first as (
    select x.series_id, min(x.ts) as ts
    from straddling as k
    join samples as x on x.series_id = k.series_id
    cross join p
    where x.ts >= p.from_ts
      and x.ts <= least(k.last_known_ts, p.to_ts)
      and x.value is not null
      and isfinite(x.value)
    group by x.series_id
),
-- the first known sample in the window and its state: an edge, or a straddling chunk's sample
-- (no edge lies between the window start and that sample, so the last edge before the
-- window start gives its state)
per_series as (
    select e.series_id,
           min(e.ts) filter (where e.ts between p.from_ts and p.to_ts) as first_edge_at,
           arg_min(e.state, e.ts) filter (where e.ts between p.from_ts and p.to_ts) as first_edge_state,
           arg_max(e.state, e.ts) filter (where e.ts < p.from_ts) as state_before
    from edges as e
    cross join p
    group by e.series_id
),
starts as (
    select x.series_id,
           coalesce(least(x.first_edge_at, f.ts), x.first_edge_at) as ts,
           case when f.ts < x.first_edge_at or x.first_edge_at is null then x.state_before
                else x.first_edge_state end as state
    from per_series as x
    left join straddling_first as f using (series_id)
    where x.first_edge_at is not null or f.ts is not null
),
series_edges as (
    select series_id, ts, null::timestamptz as prev_ts, state, null::integer as prev_state,
           true as is_window_start
    from starts
    union all
    select e.series_id, e.ts, e.prev_ts, e.state, e.prev_state, false
    from edges as e
    join starts as s using (series_id)
    cross join p
    where e.ts > s.ts and e.ts <= p.to_ts and e.state <> e.prev_state
),
keys as (
    select s.series_id, s.user, s.exercise, e.env, s.cluster
    from series as s
    join series_envs as e using (series_id)
)
select k.user, k.exercise, k.env, k.cluster, x.ts, x.prev_ts, x.state, x.prev_state, x.is_window_start
from series_edges as x
join keys as k using (series_id)
order by k.user, k.exercise, k.env, k.cluster, x.ts;

create or replace table signal_keys as
select user, exercise, env, cluster
from signal_edges
where is_window_start
order by user, exercise, env, cluster;
