-- grain: result: user, exercise, env, cluster, ts
-- transitions.parquet: every change of completion state. One query per file, in a stable order:
-- the same store gives the same bytes.
select user, exercise, env, cluster, ts, prev_ts, from_value, to_value, is_window_start
from transitions order by user, exercise, env, cluster, ts
