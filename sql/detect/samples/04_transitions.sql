-- grain: transitions: user, exercise, env, cluster, ts
-- transitions: one row per change of completion state, per (user, exercise, env, cluster).
-- Grain: (user, exercise, env, cluster, ts). Every 0->1 and 1->0 between consecutive known
-- samples, plus a row with from_value null when the first known sample in the window is 1.
-- prev_ts is the previous known sample (null at window start): the true moment of the
-- change lies in (prev_ts, ts]. Gaps widen that interval; they never create transitions.
-- From every sample (signal, sql/detect/samples/03_signal.sql); sql/detect/04_transitions.sql gives the same.
create or replace table transitions as
with ordered as (
    select
        key_id, user, exercise, env, cluster, ts, state,
        lag(state) over w as prev_state,
        lag(ts) over w as prev_ts
    from signal
    window w as (partition by key_id order by ts)
)
select
    user, exercise, env, cluster, ts, prev_ts,
    prev_state as from_value,
    state as to_value,
    prev_state is null as is_window_start
from ordered
where (prev_state is null and state = 1)
   or prev_state <> state
order by key_id, ts
