-- grain: result: user
-- ranking.parquet: every participant, in rank order. One query per file, in a stable order:
-- the same store gives the same bytes.
select rank, user, score, exercises_completed, last_completed_at, in_top
from ranking order by rank, last_completed_at nulls last, user
