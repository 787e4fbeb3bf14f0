-- grain: scores: model, user, exercise
-- scores: one row per (model, participant, exercise) in the scoring environment, for both
-- models of SCORING.md, evaluated at to_ts. Participants are the users seen in the window
-- minus exclusions; an exercise not completed scores 0 with completed_at null.
-- Invariants: points = onetime_bonus + accelerator; completed_at is the earliest counted
-- completion across clusters; full float precision (round only for display).
create or replace table scores as
with p as (
    select * from run_params
),
participants as (
    select user from users_seen
    where user not in (select user from exclusions)
),
counted as (
    select c.user, c.exercise, c.cluster, c.completed_at, c.completed_after
    from completions as c
    cross join p
    where c.is_counted and c.env = p.env
),
models as (
    select unnest(['continuous', 'stepped']) as model
),
base as (
    select
        m.model, pa.user, e.exercise, e.ordinal, e.base, e.expected_s, e.penalty,
        p.env, c.cluster, c.completed_at, c.completed_after,
        seconds_after(c.completed_at, p.t0) as completed_s,  -- seconds after T0
        seconds_after(p.to_ts, p.t0) as to_s,
        p.tick_s, p.accel_rate
    from participants as pa
    cross join exercise_params as e
    cross join models as m
    cross join p
    left join counted as c on c.user = pa.user and c.exercise = e.exercise
),
points as (
    select
        *,
        case when completed_at is null then 0.0
             else onetime_bonus(model, base, penalty, expected_s, completed_s, tick_s) end as onetime_bonus,
        case when completed_at is null then 0.0
             else accelerator(model, accel_rate, completed_s, to_s, tick_s) end as accelerator
    from base
)
select
    model, user, exercise, env, cluster, completed_at, completed_after,
    onetime_bonus, accelerator, onetime_bonus + accelerator as points
from points
order by model, user, ordinal
