-- grain: users_seen: user
-- users_seen: one row per user with at least one sample in the window [from_ts, to_ts].
-- Invariants: user is never null; clusters is sorted and distinct; n_samples > 0.
-- The live rules emit a 0 series for every active participant, so any series at all
-- means the user took part (the raw kube-state-metrics series behind the components are
-- evidence, not participation). Exclusions (test accounts) are applied after this step.
-- Read from the change log: a chunk inside the window gives its count and span as stored;
-- only a chunk that crosses an edge of the window is counted from its samples.
-- sql/detect/samples/01_participants.sql computes the same table from every sample.
create or replace table users_seen as
with p as (
    select * from run_params
),
user_chunks as (
    select s.user, s.cluster, c.series_id, c.n_samples, c.first_ts, c.last_ts
    from chunks as c
    join series as s using (series_id)
    cross join p
    where s.user is not null and s.component not like 'raw\_%' escape '\'  -- evidence, not participation
      and c.last_ts >= p.from_ts
      and c.first_ts <= p.to_ts
),
inside as (
    select c.user, c.cluster, c.n_samples, c.first_ts, c.last_ts
    from user_chunks as c
    cross join p
    where c.first_ts >= p.from_ts and c.last_ts <= p.to_ts
),
crossing as (
    select c.*
    from user_chunks as c
    cross join p
    where c.first_ts < p.from_ts or c.last_ts > p.to_ts
),
-- chunks of one series never overlap, so a chunk's span picks out its own samples
crossing_counted as (
    select c.user, c.cluster, count(*) as n_samples, min(x.ts) as first_ts, max(x.ts) as last_ts
    from crossing as c
    join samples as x on x.series_id = c.series_id
    cross join p
    where x.ts between c.first_ts and c.last_ts
      and x.ts between p.from_ts and p.to_ts
    group by c.series_id, c.first_ts, c.user, c.cluster
),
counted as (
    select * from inside
    union all
    select * from crossing_counted
)
select
    user,
    list(distinct cluster order by cluster) filter (where cluster is not null) as clusters,
    sum(n_samples)::bigint as n_samples,
    min(first_ts) as first_seen_at,
    max(last_ts) as last_seen_at
from counted
group by user
order by user
