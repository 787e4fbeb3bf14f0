-- grain: family_intervals: query_key
-- grain: evidence_gaps: series_id, gap_from
-- The data's own resolution (SCORING.md, time model), measured from the samples' raw times.
-- family_intervals: one row per series family (query) with samples in the window: its native
-- sample interval (the median over its series of each chunk's mean interval: a ruler's
-- evaluation interval, a scrape or collection interval), and how many series it has.
-- Read from the change log: a chunk's span and sample count give its mean interval.
-- evidence_gaps: one row per gap in a series that evidences a completion (completion and
-- component series, and the raw kube-state-metrics behind the components) of a participant:
-- consecutive known samples more than two native intervals apart, from the hour before the
-- window to its end. gap_from is the last fresh sample before the gap, gap_to the first after.
-- Invariants: native_s > 0; gap_s > 2 * native_s; gaps are found per series, never merged.
create or replace table family_intervals as
with p as (
    select * from run_params
),
per_chunk as (
    select s.query_key, s.component, s.exercise, s.env, c.series_id,
           seconds_after(c.last_ts, c.first_ts) / (c.n_samples - 1) as interval_s
    from chunks as c
    join series as s using (series_id)
    cross join p
    where c.n_samples >= 2 and c.last_ts >= p.from_ts and c.first_ts <= p.to_ts
)
select query_key, any_value(component) as component, any_value(exercise) as exercise,
       any_value(env) as env, median(interval_s) as native_s, count(distinct series_id) as n_series
from per_chunk
where interval_s > 0
group by query_key
order by query_key;

create or replace table evidence_gaps as
with p as (
    select * from run_params
),
participants as (
    select user from users_seen where user not in (select user from exclusions)
),
scope as (
    select s.series_id, f.native_s
    from series as s
    join family_intervals as f using (query_key)
    where s.component in ('completion', 'service', 'database', 'pipeline', 'raw_service', 'raw_database',
                          'raw_pipeline')
      and s.user in (select user from participants)
),
known as (
    select x.series_id, x.ts
    from samples as x
    semi join scope using (series_id)
    cross join p
    where x.ts >= p.from_ts - interval 1 hour and x.ts <= p.to_ts
      and x.value is not null and isfinite(x.value)
),
ordered as (
    select series_id, lag(ts) over (partition by series_id order by ts) as gap_from, ts as gap_to
    from known
)
select o.series_id, o.gap_from, o.gap_to, seconds_after(o.gap_to, o.gap_from) as gap_s, s.native_s
from ordered as o
join scope as s using (series_id)
where o.gap_from is not null and seconds_after(o.gap_to, o.gap_from) > 2 * s.native_s
order by o.series_id, o.gap_from;
