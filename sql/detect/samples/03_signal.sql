-- grain: signal: key_id, ts
-- grain: signal_keys: user, exercise, env, cluster
-- signal: one row per (user, exercise, env, cluster, ts) where the completion state is known,
-- computed from every sample: the reference for sql/detect/03_signal.sql, and the only way to the
-- 'components' signal (an AND across series at one instant, which the change log cannot give).
-- Grain: a numeric sample of the configured signal inside the window. key_id numbers the
-- (user, exercise, env, cluster) keys in their sort order, so the heavy work groups integers.
-- Invariants: state in (0, 1); NaN, Inf and missing samples are gaps (no row), never 0.
-- 'recorded' reads the completion series; 'components' is the AND of the exercise's
-- component series at the same timestamp (all must be present). Series without env
-- (the dev-only pipeline) count for every environment, as in the live rules.
drop table if exists signal_edges;  -- the change-log projection of sql/detect/03_signal.sql

create or replace table signal as
with p as (
    select * from run_params
),
required as (
    select exercise, count(*) as n_required from exercise_components group by exercise
),
-- the series of the configured signal (the other one reads no sample), one row per
-- environment they count for
scoped as (
    select s.series_id, s.user, s.exercise, e.env, s.cluster, s.component
    from series as s
    join series_envs as e using (series_id)
),
keyed as (
    select x.series_id, x.user, x.exercise, x.env, x.cluster, x.component,
           dense_rank() over (order by x.user, x.exercise, x.env, x.cluster) as key_id,
           dense_rank() over (order by x.component) as component_no
    from scoped as x
    cross join p
    where x.user is not null
      and x.exercise is not null
      and (
          (p.signal = 'recorded' and x.component = 'completion')
          or (p.signal = 'components' and exists (
                select 1 from exercise_components as c
                where c.exercise = x.exercise and c.component = x.component))
      )
),
numeric_samples as (
    select k.key_id, k.component_no, x.ts, is_done(x.value)::integer as state
    from samples as x
    join keyed as k using (series_id)
    cross join p
    where x.ts between p.from_ts and p.to_ts
      and x.value is not null
      and not isnan(x.value)
      and not isinf(x.value)
),
keys as (
    select distinct k.key_id, k.user, k.exercise, k.env, k.cluster, r.n_required
    from keyed as k
    left join required as r using (exercise)
),
component_states as (
    -- distinct components at this instant, as bits: no distinct aggregate
    select key_id, ts, min(state) as state,
           bit_count(bit_or(1::ubigint << (component_no - 1)::ubigint)) as n_components
    from numeric_samples
    where (select signal from p) = 'components'
    group by key_id, ts
),
states as (
    select key_id, ts, state
    from numeric_samples
    where (select signal from p) = 'recorded'
    union all
    select c.key_id, c.ts, c.state
    from component_states as c
    join keys as k using (key_id)
    where c.n_components = k.n_required
)
select k.key_id, k.user, k.exercise, k.env, k.cluster, s.ts, s.state
from states as s
join keys as k using (key_id)
order by s.key_id, s.ts;

-- signal_keys: one row per (user, exercise, env, cluster) with a known sample in the window
create or replace table signal_keys as
select distinct user, exercise, env, cluster
from signal
order by user, exercise, env, cluster;
