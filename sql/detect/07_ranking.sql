-- grain: ranking: user
-- ranking: one row per participant for the configured model.
-- Order: score desc, last_completed_at asc (nulls last), user asc. rank is a competition
-- rank over (score, last_completed_at): equal pairs share a rank. Scores are compared at
-- 1e-6 points so that float noise never splits a real tie. in_top: rank <= top.
-- Every float sum adds in a fixed order (by exercise), whatever order the rows arrive in,
-- so a rerun, a resumed run or a store loaded in another order gives the same bits.
create or replace table ranking as
with p as (
    select * from run_params
),
per_user as (
    select
        s.user,
        sum(s.points order by s.exercise) as score,  -- a fixed order: the same bits run after run
        count(s.completed_at) as exercises_completed,
        max(s.completed_at) as last_completed_at
    from scores as s
    cross join p
    where s.model = p.model
    group by s.user
),
ranked as (
    select
        rank() over (order by round(score, 6) desc, last_completed_at asc nulls last) as rank,
        user, score, exercises_completed, last_completed_at
    from per_user
)
select r.rank, r.user, r.score, r.exercises_completed, r.last_completed_at, r.rank <= p.top as in_top
from ranked as r
cross join p
order by r.rank, r.last_completed_at nulls last, r.user
