-- grain: live_vs_batch: user
-- live_vs_batch: one row per ranked participant: what the live board showed at to_ts
-- and what the batch decided. The live board is the sum, per exercise, of the lifetime
-- bonus and sum_over_time of the completion series; it counts rule evaluations, so
-- live_normalised rescales its two parts to batch units (bonus / bonus_repeats, ramp *
-- eval_interval / tick). live_* are null when the source held no live board series.
-- Invariants: one row per ranking row; live_rank is a competition rank over live_score.
create or replace table live_vs_batch as
with p as (
    select r.*, a.* from run_params as r cross join audit_params as a
),
live_points as (
    -- the last live sample at or before to_ts (what an instant query at to_ts returns)
    select s.user, s.cluster, s.component, s.exercise, arg_max(x.value, x.ts) as value
    from samples as x
    join series as s using (series_id)
    cross join p
    where s.component in ('live_bonus', 'live_ramp') and s.env = p.env
      and x.ts <= p.to_ts and x.ts > p.to_ts - to_seconds(300)
      and x.value is not null and not isnan(x.value)
    group by s.user, s.cluster, s.component, s.exercise
),
per_cluster as (
    select user, cluster,
        sum(value) filter (where component = 'live_bonus') as bonus,
        sum(value) filter (where component = 'live_ramp') as ramp
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
        l.bonus as live_bonus, l.ramp as live_ramp,
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
evidence as (
    select
        s.user,
        bool_or(c.n_flaps > 0) as flapped,
        bool_or(c.completed_at is not null and c.completed_after is not null
                and epoch(c.completed_at) - epoch(c.completed_after) > 2 * p.step_s) as gap,
        bool_or(s.completed_at is not null
                and epoch(p.to_ts) - epoch(s.completed_at) > p.live_window_s) as saturated
    from scores as s
    cross join p
    left join completions as c
      on c.user = s.user and c.exercise = s.exercise and c.env = s.env and c.is_counted
    where s.model = p.model
    group by s.user
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
            case when e.gap then 'bonus lost in a gap' end,
            case when e.saturated then 'window saturation' end
        ), ''), 'sampling') end as cause
from ranked as k
cross join p
left join evidence as e using (user)
order by k.batch_rank, k.user
