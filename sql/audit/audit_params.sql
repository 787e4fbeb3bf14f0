-- grain: audit_params: (one row)
-- The audit's settings, from bound parameters (ocq_batch/audit/run.py write_audit_params):
-- the ruler's evaluation interval, how many evaluations the live one-time bonus fires in,
-- the live board's window, how often component values reached the hub, the fast factor.
create or replace table audit_params as
select $eval::double as eval_interval_s, $repeats::double as bonus_repeats,
       $window::double as live_window_s, $collect::double as collect_interval_s,
       $fast::double as fast_factor
