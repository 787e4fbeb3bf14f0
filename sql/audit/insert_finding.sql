-- grain: findings: check, user, exercise, env, cluster, evidence_at, message
-- One finding that needs the whole ranking at once (the cut-off, a prize the live board gave
-- otherwise), bound by ocq_batch/audit/run.py: severity, check, user, exercise, env,
-- cluster, value, message.
insert into findings (severity, "check", user, exercise, env, cluster, value, message)
values (?, ?, ?, ?, ?, ?, ?, ?)
