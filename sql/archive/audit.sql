-- grain: result: check, user, exercise, env, cluster, evidence_at, message
-- audit.parquet: every finding, most severe first. One query per file, in a stable order:
-- the same store gives the same bytes.
select severity, "check", user, exercise, env, cluster, evidence_at, evidence_until, value, message, series
from findings
order by case severity when 'error' then 0 when 'warning' then 1 else 2 end, user nulls first,
         "check", exercise, env, cluster, evidence_at, message, evidence_until, value, series
