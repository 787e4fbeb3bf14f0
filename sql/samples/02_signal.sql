-- signal: one row per (user, exercise, env, cluster, ts) where the completion state is known.
-- Grain: a numeric sample of the configured signal inside the window.
-- Invariants: state in (0, 1); NaN, Inf and missing samples are gaps (no row), never 0.
-- 'recorded' reads the completion series; 'components' is the AND of the exercise's
-- component series at the same timestamp (all must be present). Series without env
-- (the dev-only pipeline) count for every environment, as in the live rules.
create or replace table signal as
with p as (
    select * from run_params
),
-- the signal is chosen before any work: the branch not configured reads no sample
numeric_samples as (
    select s.user, s.exercise, s.env, s.cluster, s.component, x.ts, x.value
    from samples as x
    join series as s using (series_id)
    cross join p
    where s.user is not null
      and s.exercise is not null
      and x.ts between p.from_ts and p.to_ts
      and x.value is not null
      and not isnan(x.value)
      and not isinf(x.value)
      and (s.component = 'completion') = (p.signal = 'recorded')
),
-- series without env count for every environment (an equi-join plus a cross join, not an OR join)
with_env as (
    select n.user, n.exercise, n.env, n.cluster, n.component, n.ts, n.value
    from numeric_samples as n
    join env_params as e on e.env = n.env
    union all
    select n.user, n.exercise, e.env, n.cluster, n.component, n.ts, n.value
    from numeric_samples as n
    cross join env_params as e
    where n.env is null
),
recorded as (
    select user, exercise, env, cluster, ts, (value >= 0.5)::integer as state
    from with_env
    where component = 'completion'
),
components as (
    select n.user, n.exercise, n.env, n.cluster, n.ts,
           min((n.value >= 0.5)::integer) as state,
           count(distinct n.component) as n_components
    from with_env as n
    join exercise_components as c on c.exercise = n.exercise and c.component = n.component
    group by n.user, n.exercise, n.env, n.cluster, n.ts
),
complete_components as (
    select c.user, c.exercise, c.env, c.cluster, c.ts, c.state
    from components as c
    join (select exercise, count(*) as n_required from exercise_components group by exercise) as r
      on r.exercise = c.exercise
    where c.n_components = r.n_required
)
select user, exercise, env, cluster, ts, state from recorded
where (select signal from p) = 'recorded'
union all
select user, exercise, env, cluster, ts, state from complete_components
where (select signal from p) = 'components'
order by user, exercise, env, cluster, ts
;

drop table if exists signal_edges;  -- the change-log projection of sql/02_signal.sql

-- signal_keys: one row per (user, exercise, env, cluster) with a known sample in the window
create or replace table signal_keys as
select distinct user, exercise, env, cluster
from signal
order by user, exercise, env, cluster;
