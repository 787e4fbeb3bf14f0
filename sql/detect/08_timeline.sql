-- grain: timeline: user, ts
-- timeline: one row per (participant, tick) with the score at that instant, on the tick
-- grid T0, T0 + tick, ... up to to_ts, plus to_ts itself when it is off the grid.
-- Invariant: the row at to_ts equals ranking.score (same model, same completions).
create or replace table timeline as
with p as (
    select * from run_params
),
bounds as (
    select seconds_after(to_ts, t0) as to_s, tick_s, t0 from p
),
ticks as (
    select k * b.tick_s as t_s
    from bounds as b, range(0, greatest(floor(b.to_s / b.tick_s)::bigint + 1, 0)) as r(k)
    union
    select to_s from bounds
),
done as (
    select s.user, s.exercise, s.completed_at, e.base, e.expected_s, e.penalty,
           seconds_after(s.completed_at, p.t0) as completed_s
    from scores as s
    join exercise_params as e on e.exercise = s.exercise
    cross join p
    where s.model = p.model and s.completed_at is not null
),
points as (
    select
        r.user, t.t_s,
        coalesce(sum(
            case when is_earning(p.model, d.completed_s, t.t_s, p.tick_s) then
                onetime_bonus(p.model, d.base, d.penalty, d.expected_s, d.completed_s, p.tick_s)
                + accelerator(p.model, p.accel_rate, d.completed_s, t.t_s, p.tick_s)
            else 0.0 end
            order by d.exercise  -- as step 07 adds them: the row at to_ts is ranking.score, bit for bit
        ), 0.0) as score
    from ranking as r
    cross join ticks as t
    cross join p
    left join done as d on d.user = r.user
    group by r.user, t.t_s
)
select pt.user, p.t0 + to_microseconds((pt.t_s * 1e6)::bigint) as ts, pt.score
from points as pt
cross join p
order by pt.user, ts
