-- grain: completions: user, exercise, env, cluster
-- completions: one row per (user, exercise, env, cluster) that reached 1 in the window, with
-- the interval (completed_after, completed_at] its true moment lies in (SCORING.md, time model).
-- completed_at = raw time of the first stored sample at 1; prev_sample_at = raw time of the
-- known sample before it. completed_after = prev_sample_at widened by the lineage: the rule's
-- previous evaluation read inputs up to one input interval older (input_s: the native
-- interval of the component families the exercise needs, measured in step 02, or the ruler's
-- evaluation interval when the source has none), component values were up to
-- collect_interval older than the samples showing them (counted once: not again when the
-- components themselves arrive at that interval) and up to component_lag older still.
-- When the evidence (the completion series, its components' series, their raw series) had a
-- gap reaching into that interval, the values read through it were stale: completed_after
-- moves to the last fresh sample before the gap, less the lineage below that series'
-- level (stale_since is that sample). Both null when the series is already 1 at window start.
-- First completion is sticky: later 1->0 (n_regressions) and 0->1 again (n_flaps) are
-- counted, never re-scored. is_counted marks, per (user, exercise, env), the earliest cluster
-- (ties: cluster name). One group-by, no window over the transitions: a key's rows alternate
-- (each change flips the state, and the window-start row is kept only at 1), so every 1->0
-- row follows the first row at 1, and every row at 1 but the first is a flap. The tests
-- check this order, and these columns against the row-by-row definition (tests/conftest.py).
-- Invariants: completed_after < prev_sample_at < completed_at (when not null).
create or replace table completions as
with p as (
    select * from run_params
),
firsts as (
    select user, exercise, env, cluster,
           min(ts) filter (where to_value = 1) as completed_at,
           arg_min_null(prev_ts, ts) filter (where to_value = 1) as prev_sample_at,
           arg_min_null(is_window_start, ts) filter (where to_value = 1) as complete_at_window_start,
           count(*) filter (where to_value = 1) - 1 as n_flaps,
           count(*) filter (where to_value = 0) as n_regressions
    from transitions
    group by user, exercise, env, cluster
    having count(*) filter (where to_value = 1) > 0
),
-- the native interval of the completion rule's inputs: the exercise's component families
inputs as (
    select c.exercise, v.env, max(f.native_s) as input_s
    from exercise_components as c
    cross join env_params as v
    join family_intervals as f
      on f.component = c.component and f.exercise = c.exercise and (f.env = v.env or f.env is null)
    group by c.exercise, v.env
),
lineage as (
    select x.exercise, v.env, l.input_s,
           l.input_s + l.collect_s + p.component_lag_s as lineage_s,  -- below a completion sample
           l.collect_s + p.component_lag_s as below_components_s      -- below a component sample
    from exercise_params as x
    cross join env_params as v
    cross join p
    left join inputs as i on i.exercise = x.exercise and i.env = v.env
    cross join lateral (
        select coalesce(i.input_s, p.eval_interval_s) as input_s,
               case when coalesce(i.input_s, p.eval_interval_s) >= 0.9 * p.collect_interval_s then 0.0
                    else p.collect_interval_s end as collect_s
    ) as l
),
bounded as (
    select f.*, l.lineage_s, l.below_components_s,
           f.prev_sample_at - to_microseconds((l.lineage_s * 1e6)::bigint) as lineage_after
    from firsts as f
    join lineage as l using (exercise, env)
),
evidence as (
    select s.series_id, s.user, s.exercise, e.env, s.cluster,
           case when s.component = 'completion' then 'completion'
                when s.component like 'raw\_%' escape '\' then 'raw' else 'component' end as level
    from series as s
    join series_envs as e using (series_id)
    where s.component in ('completion', 'service', 'database', 'pipeline', 'raw_service', 'raw_database',
                          'raw_pipeline')
),
stale as (
    select b.user, b.exercise, b.env, b.cluster, min(g.gap_from) as stale_since,
           min(g.gap_from - to_microseconds((
               case v.level when 'completion' then b.lineage_s when 'component' then b.below_components_s
                    else p.component_lag_s end * 1e6)::bigint)) as stale_after
    from bounded as b
    cross join p
    join evidence as v
      on v.user = b.user and v.exercise = b.exercise and v.env = b.env
     and v.cluster is not distinct from b.cluster
    join evidence_gaps as g on g.series_id = v.series_id
    where b.prev_sample_at is not null and g.gap_from < b.completed_at and g.gap_to > b.lineage_after
    group by b.user, b.exercise, b.env, b.cluster
)
select
    b.user, b.exercise, b.env, b.cluster,
    b.completed_at, least(b.lineage_after, s.stale_after) as completed_after, b.complete_at_window_start,
    b.n_flaps, b.n_regressions,
    row_number() over (
        partition by b.user, b.exercise, b.env order by b.completed_at, b.cluster
    ) = 1 as is_counted,
    b.prev_sample_at, b.lineage_s, s.stale_since
from bounded as b
left join stale as s using (user, exercise, env, cluster)
order by b.user, b.exercise, b.env, b.completed_at, b.cluster
