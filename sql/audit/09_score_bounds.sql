-- grain: exercise_bounds: user, exercise
-- grain: robustness: user
-- exercise_bounds: one row per (participant, exercise) of the configured model.
-- A completion happened in (earliest_at, completed_at], earliest_at being the completion's
-- completed_after (step 05: the previous sample widened by the lineage, and by any stale
-- evidence); null when the series was already at 1 when the window opened (no lower bound).
-- points_max = the points with the completion at earliest_at (+inf without a lower bound).
-- Invariant: points <= points_max.
create or replace table exercise_bounds as
with p as (
    select * from run_params
),
bounds as (
    select
        s.user, s.exercise, s.points, s.completed_at, s.completed_after,
        e.base, e.expected_s, e.penalty, p.tick_s, p.accel_rate, p.model, p.t0,
        seconds_after(p.to_ts, p.t0) as to_s,
        case when s.completed_at is null then null else seconds_after(s.completed_after, p.t0) end
            as earliest_s
    from scores as s
    join exercise_params as e using (exercise)
    cross join p
    where s.model = p.model
),
per_exercise as (
    select
        user, exercise, points, completed_at,
        t0 + to_microseconds((earliest_s * 1e6)::bigint) as earliest_at,
        case
            when completed_at is null then points
            when earliest_s is null then 'inf'::double
            else onetime_bonus(model, base, penalty, expected_s, earliest_s, tick_s)
                 + accelerator(model, accel_rate, earliest_s, to_s, tick_s)
        end as points_max
    from bounds
)
select user, exercise, points, completed_at, earliest_at, points_max
from per_exercise
order by user, exercise;

-- robustness: one row per ranked participant: the interval the final score can lie in.
-- Score decreases as completion moves later, so score_min = the score (completions at
-- completed_at) and score_max = every completion at its earliest_at (exercise_bounds).
-- Invariants: score_min = ranking.score; score_min <= score_max.
create or replace table robustness as
with per_user as (
    -- in step 07's order (by exercise), so that score_min is ranking.score bit for bit
    select user, sum(points order by exercise) as score_min, sum(points_max order by exercise) as score_max
    from exercise_bounds
    group by user
)
select
    r.rank, r.user, r.score, u.score_min, u.score_max, r.in_top,
    -- strictly above every later participant's best case: the order with the next one is certain
    u.score_min > max(u.score_max) over (
        order by r.rank, r.last_completed_at nulls last, r.user
        rows between 1 following and 1 following
    ) as separable_from_next
from ranking as r
join per_user as u using (user)
order by r.rank, r.last_completed_at nulls last, r.user
