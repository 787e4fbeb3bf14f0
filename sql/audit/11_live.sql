-- grain: live_vs_batch: user
-- live_vs_batch: one row per ranked participant: what the live board showed at to_ts and what
-- the batch decided. The live board is the sum, per exercise, of the lifetime bonus and
-- sum_over_time of the completion series; it counts rule evaluations, so live_normalised
-- rescales its two parts to batch units (bonus / bonus_repeats, ramp * eval_interval / tick).
-- live_* are null when the source held no live board series.
-- cause: why the two differ, from each counted completion of the scoring env (SCORING.md,
-- time model): a flap paid the one-time bonus again ('flap double bonus'); the completion
-- came within the last two evaluations before to_ts, and the live bonus, which fires one
-- evaluation after it, had not fired yet ('bonus not yet fired at --to'); the live bonus
-- never fired for a completion whose evidence had a gap ('bonus lost in a gap'); the live
-- board's windows had forgotten a completion older than live_window ('window saturation').
-- 'sampling' only when no such cause applies and the difference is under one tick of points
-- (the accelerator times the exercises completed); 'unexplained' otherwise.
-- Invariants: one row per ranking row; live_rank is a competition rank over live_score.
create or replace table live_vs_batch as
with p as (
    select r.*, a.* from run_params as r cross join audit_params as a
),
live_series as (
    select s.series_id, s.user, s.cluster, s.component, s.exercise
    from series as s
    cross join p
    where s.component in ('live_bonus', 'live_ramp') and s.env = p.env
),
live_points as (
    -- the last live sample at or before to_ts (what an instant query at to_ts returns)
    select l.user, l.cluster, l.component, l.exercise, arg_max(x.value, x.ts) as value
    from samples as x
    join live_series as l using (series_id)
    cross join p
    where x.ts <= p.to_ts and x.ts > p.to_ts - to_seconds(300)
      and x.value is not null and not isnan(x.value)
    group by l.user, l.cluster, l.component, l.exercise
),
per_cluster as (
    select user, cluster,
        -- in a fixed order: the samples arrive in any order, the sum's bits must not depend on it
        sum(value order by exercise) filter (where component = 'live_bonus') as bonus,
        sum(value order by exercise) filter (where component = 'live_ramp') as ramp
    from live_points
    group by user, cluster
),
live as (
    -- a user on two clusters had two bars: the board's best one is what people saw
    select user, bonus, ramp
    from per_cluster
    qualify row_number() over (
        partition by user order by coalesce(bonus, 0) + coalesce(ramp, 0) desc, cluster
    ) = 1
),
joined as (
    select
        r.user, r.rank as batch_rank, r.score as batch_score, r.in_top as batch_in_top,
        r.exercises_completed, l.bonus as live_bonus, l.ramp as live_ramp,
        coalesce(l.bonus, 0) + coalesce(l.ramp, 0) as live_score_raw,
        l.user is not null as has_live,
        coalesce(l.bonus, 0) / p.bonus_repeats + coalesce(l.ramp, 0) * p.eval_interval_s / p.tick_s
            as live_normalised
    from ranking as r
    cross join p
    left join live as l using (user)
),
ranked as (
    select *,
        case when has_live then rank() over (
            partition by has_live order by round(live_score_raw, 6) desc
        ) end as live_rank
    from joined
),
-- did the live one-time bonus of a counted completion fire: did its lifetime bonus rise
-- after the completion, by to_ts?
fired as (
    select c.user, c.exercise, c.cluster, bool_or(abs(x.value) > 1e-9) as fired
    from completions as c
    cross join p
    join live_series as l
      on l.component = 'live_bonus' and l.user = c.user and l.exercise = c.exercise
     and l.cluster is not distinct from c.cluster
    join samples as x on x.series_id = l.series_id
    where c.is_counted and c.env = p.env and x.ts >= c.completed_at and x.ts <= p.to_ts
      and x.value is not null and isfinite(x.value)
    group by c.user, c.exercise, c.cluster
),
-- which counted completions had a gap in their evidence: a stale interval (step 05), or a gap
-- in one of their evidence series before the completion
gapped as (
    select distinct c.user, c.exercise
    from completions as c
    cross join p
    join series as s
      on s.user = c.user and s.exercise = c.exercise and s.cluster is not distinct from c.cluster
    join series_envs as e on e.series_id = s.series_id and e.env = c.env
    join evidence_gaps as g on g.series_id = s.series_id
    where c.is_counted and c.env = p.env and g.gap_from < c.completed_at
      and g.gap_to >= c.completed_at - to_microseconds((p.live_window_s * 1e6)::bigint)
),
per_exercise as (
    select s.user, s.exercise,
        c.n_flaps > 0 as flapped,
        epoch(p.to_ts) - epoch(s.completed_at) < 2 * p.eval_interval_s and not coalesce(f.fired, false)
            as not_yet_fired,
        (c.stale_since is not null or g.user is not null) and not coalesce(f.fired, false)
            and epoch(p.to_ts) - epoch(s.completed_at) >= 2 * p.eval_interval_s as lost_in_gap,
        epoch(p.to_ts) - epoch(s.completed_at) > p.live_window_s as saturated
    from scores as s
    cross join p
    join completions as c
      on c.user = s.user and c.exercise = s.exercise and c.env = s.env and c.is_counted
    left join fired as f on f.user = c.user and f.exercise = c.exercise and f.cluster is not distinct from c.cluster
    left join gapped as g on g.user = c.user and g.exercise = c.exercise
    where s.model = p.model and s.completed_at is not null
),
evidence as (
    select user,
        bool_or(flapped) as flapped, bool_or(not_yet_fired) as not_yet_fired,
        bool_or(lost_in_gap) as lost_in_gap, bool_or(saturated) as saturated
    from per_exercise
    group by user
)
select
    k.user, k.batch_rank, k.batch_score, k.live_rank, k.live_score_raw, k.live_bonus, k.live_ramp,
    k.live_normalised,
    case when k.has_live then k.live_normalised - k.batch_score end as difference,
    k.batch_in_top,
    case when k.has_live then k.live_rank <= p.top end as live_in_top,
    case when not k.has_live then 'no live board series'
        else coalesce(nullif(concat_ws(', ',
            case when e.flapped then 'flap double bonus' end,
            case when e.not_yet_fired then 'bonus not yet fired at --to' end,
            case when e.lost_in_gap then 'bonus lost in a gap' end,
            case when e.saturated then 'window saturation' end
        ), ''),
        case when abs(k.live_normalised - k.batch_score) < p.accel_rate * greatest(k.exercises_completed, 1)
             then 'sampling' else 'unexplained' end) end as cause
from ranked as k
cross join p
left join evidence as e using (user)
order by k.batch_rank, k.user
