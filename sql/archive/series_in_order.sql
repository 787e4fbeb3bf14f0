-- grain: result: query, labels
-- The series' columns of samples.parquet, one row per series in the file's series order (the
-- positions of samples_by_position.sql).
select metric, user, exercise, env, cluster, component, labels, query
from series
order by component, exercise, env, user, cluster, series_id
