-- grain: result: user
-- robustness.parquet: the interval each final score can lie in. One query per file, in a stable order:
-- the same store gives the same bytes.
select rank, user, score, score_min, score_max, in_top, separable_from_next
from robustness order by rank, user
