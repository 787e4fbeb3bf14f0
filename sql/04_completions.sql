-- completions: one row per (user, exercise, env, cluster) that reached 1 in the window.
-- completed_at = first sample at 1; completed_after = the known sample before it (null when
-- the series is already 1 at window start). First completion is sticky: later 1->0
-- (n_regressions) and 0->1 again (n_flaps) are counted, never re-scored.
-- is_counted marks, per (user, exercise, env), the earliest cluster (ties: cluster name).
create or replace table completions as
with marked as (
    select *, min(ts) filter (where to_value = 1) over (partition by user, exercise, env, cluster) as first_up_at
    from transitions
),
firsts as (
    select user, exercise, env, cluster,
           first_up_at as completed_at,
           any_value(prev_ts) filter (where ts = first_up_at) as completed_after,
           any_value(is_window_start) filter (where ts = first_up_at) as complete_at_window_start,
           count(*) filter (where ts > first_up_at and to_value = 1) as n_flaps,
           count(*) filter (where ts > first_up_at and to_value = 0) as n_regressions
    from marked
    where first_up_at is not null
    group by user, exercise, env, cluster, first_up_at
)
select
    user, exercise, env, cluster,
    completed_at, completed_after, complete_at_window_start,
    n_flaps, n_regressions,
    row_number() over (
        partition by user, exercise, env order by completed_at, cluster
    ) = 1 as is_counted
from firsts
order by user, exercise, env, completed_at, cluster
