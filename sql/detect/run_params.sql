-- grain: run_params: (one row)
-- The settings of one run, from bound parameters (ocq_batch/detect/steps.py write_params):
-- event start t0, window [from_ts, to_ts], scoring env, model and signal, tick, accelerator
-- rate, prize places; the configured grid of expression queries (step_s, null: not set); and
-- the lineage of a completion sample (SCORING.md, time model): the ruler's evaluation interval,
-- how often component values reached the hub, and how much older than its sample a
-- component's value could be.
create or replace table run_params as
select $t0::timestamptz as t0, $from_ts::timestamptz as from_ts, $to_ts::timestamptz as to_ts,
       $env::varchar as env, $model::varchar as model, $signal::varchar as signal,
       $tick_s::double as tick_s, $accel_rate::double as accel_rate, $top::integer as top,
       $step_s::double as step_s, $eval_s::double as eval_interval_s,
       $collect_s::double as collect_interval_s, $lag_s::double as component_lag_s
