-- grain: result: user, exercise, env, cluster
-- completions.parquet: every (user, exercise, env, cluster) that reached 1. One query per file, in a stable order:
-- the same store gives the same bytes.
select user, exercise, env, cluster, completed_at, completed_after, n_flaps, n_regressions,
       complete_at_window_start, is_counted, prev_sample_at, lineage_s, stale_since
from completions order by user, exercise, env, completed_at, cluster
