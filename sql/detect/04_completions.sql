-- grain: completions: user, exercise, env, cluster
-- completions: one row per (user, exercise, env, cluster) that reached 1 in the window.
-- completed_at = first sample at 1; completed_after = the known sample before it (null when
-- the series is already 1 at window start). First completion is sticky: later 1->0
-- (n_regressions) and 0->1 again (n_flaps) are counted, never re-scored.
-- is_counted marks, per (user, exercise, env), the earliest cluster (ties: cluster name).
-- One group-by, no window over the transitions: a key's rows alternate (each change flips
-- the state, and the window-start row is kept only at 1), so every 1->0 row follows the
-- first row at 1, and every row at 1 but the first is a flap. The tests check this order,
-- and these columns against the row-by-row definition (tests/conftest.py, run_checked).
create or replace table completions as
with firsts as (
    select user, exercise, env, cluster,
           min(ts) filter (where to_value = 1) as completed_at,
           arg_min_null(prev_ts, ts) filter (where to_value = 1) as completed_after,
           arg_min_null(is_window_start, ts) filter (where to_value = 1) as complete_at_window_start,
           count(*) filter (where to_value = 1) - 1 as n_flaps,
           count(*) filter (where to_value = 0) as n_regressions
    from transitions
    group by user, exercise, env, cluster
    having count(*) filter (where to_value = 1) > 0
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
