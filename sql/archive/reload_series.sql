-- grain: result: query, labels
-- The series of an archive's samples.parquet (registered as archived by
-- ocq_batch/archive/reload.py), each once, in a fixed order; their ids are computed again
-- in Python as the loader computes them (a hash of query and canonical labels).
select distinct query, labels, metric, component, exercise, env, user, cluster
from archived
order by all
