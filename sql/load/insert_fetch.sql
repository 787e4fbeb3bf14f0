-- grain: fetches: fetch_id
-- One loaded response (bound by ocq_batch/load/loader.py, one row per response): fetch_id,
-- query_key, query, start_ts, end_ts, step_s, origin, body_sha256, n_series, n_samples,
-- warnings, loaded_at.
insert into fetches values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
