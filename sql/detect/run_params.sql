-- grain: run_params: (one row)
-- The settings of one run, from bound parameters (ocq_batch/detect/steps.py write_params):
-- event start t0, window [from_ts, to_ts], scoring env, model and signal, tick, accelerator
-- rate, prize places and the query step.
create or replace table run_params as
select $t0::timestamptz as t0, $from_ts::timestamptz as from_ts, $to_ts::timestamptz as to_ts,
       $env::varchar as env, $model::varchar as model, $signal::varchar as signal,
       $tick_s::double as tick_s, $accel_rate::double as accel_rate, $top::integer as top,
       $step_s::double as step_s
