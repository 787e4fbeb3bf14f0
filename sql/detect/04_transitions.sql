-- grain: transitions: user, exercise, env, cluster, ts
-- transitions: one row per change of completion state, per (user, exercise, env, cluster).
-- Grain: (user, exercise, env, cluster, ts). Every 0->1 and 1->0 between consecutive known
-- samples, plus a row with from_value null when the first known sample in the window is 1.
-- prev_ts is the previous known sample (null at window start): the true moment of the
-- change lies in (prev_ts, ts]. Gaps widen that interval; they never create transitions.
-- Read from signal_edges (step 03); sql/detect/samples/04_transitions.sql derives it from signal.
create or replace table transitions as
select
    user, exercise, env, cluster, ts, prev_ts,
    prev_state as from_value,
    state as to_value,
    is_window_start
from signal_edges
where not is_window_start or state = 1
order by user, exercise, env, cluster, ts
