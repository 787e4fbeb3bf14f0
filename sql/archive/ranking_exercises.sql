-- grain: result: user, exercise
-- ranking.csv's per-exercise columns: each ranked participant's completion of each exercise
-- in the scoring env and model (completed_at null: not completed) and the cluster it counted
-- on. Read by ocq_batch/archive/spreadsheet.py, which pivots it to one column per exercise.
select s.user, s.exercise, s.completed_at, s.cluster
from scores as s
cross join run_params as p
where s.model = p.model
order by s.user, s.exercise
