-- grain: result: user, exercise
-- scores.parquet: every (participant, exercise) of the configured model. One query per file, in a stable order:
-- the same store gives the same bytes.
select s.user, s.exercise, s.env, s.cluster, s.completed_at, s.completed_after,
       s.onetime_bonus, s.accelerator, s.points, s.model
from scores as s
join exercise_params as e using (exercise)
cross join run_params as p
where s.model = p.model
order by s.user, e.ordinal
