-- completions: one row per (user, exercise, env, cluster) that reached 1 in the window.
-- completed_at = first sample at 1; completed_after = the known sample before it (null when
-- the series is already 1 at window start). First completion is sticky: later 1->0
-- (n_regressions) and 0->1 again (n_flaps) are counted, never re-scored.
-- is_counted marks, per (user, exercise, env), the earliest cluster (ties: cluster name).
create or replace table completions as
with ups as (
    select *, row_number() over (partition by user, exercise, env, cluster order by ts) as n
    from transitions
    where to_value = 1
),
firsts as (
    select user, exercise, env, cluster,
           ts as completed_at,
           prev_ts as completed_after,
           is_window_start as complete_at_window_start
    from ups
    where n = 1
),
later as (
    select f.user, f.exercise, f.env, f.cluster,
           count(t.ts) filter (where t.to_value = 0) as n_regressions,
           count(t.ts) filter (where t.to_value = 1) as n_flaps
    from firsts as f
    left join transitions as t
      on t.user = f.user and t.exercise = f.exercise and t.env = f.env
     and t.cluster is not distinct from f.cluster and t.ts > f.completed_at
    group by f.user, f.exercise, f.env, f.cluster
)
select
    f.user, f.exercise, f.env, f.cluster,
    f.completed_at, f.completed_after, f.complete_at_window_start,
    l.n_flaps, l.n_regressions,
    row_number() over (
        partition by f.user, f.exercise, f.env order by f.completed_at, f.cluster
    ) = 1 as is_counted
from firsts as f
join later as l
  on l.user = f.user and l.exercise = f.exercise and l.env = f.env
 and l.cluster is not distinct from f.cluster
order by f.user, f.exercise, f.env, f.completed_at, f.cluster
