-- grain: findings: check, user, exercise, env, cluster, evidence_at, message
-- Findings an archive's re-audit cannot make again (carried, rows of its audit.parquet
-- registered by ocq_batch/audit/run.py), added by column name.
insert into findings by name select * from carried
