-- grain: audit_params: (one row)
-- The audit's settings, from bound parameters (ocq_batch/audit/run.py write_audit_params):
-- how many evaluations the live one-time bonus fires in, the live board's window, the fast
-- factor. (The lineage settings, which detection needs too, are in run_params.)
create or replace table audit_params as
select $repeats::double as bonus_repeats, $window::double as live_window_s, $fast::double as fast_factor
