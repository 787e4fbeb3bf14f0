-- grain: users_seen: user
-- users_seen: one row per user with at least one sample in the window [from_ts, to_ts].
-- Invariants: user is never null; clusters is sorted and distinct; n_samples > 0.
-- The live rules emit a 0 series for every active participant, so any series at all
-- means the user took part (the raw kube-state-metrics series behind the components are
-- evidence, not participation). Exclusions (test accounts) are applied after this step.
create or replace table users_seen as
with p as (
    select * from run_params
),
in_window as (
    select s.user, s.cluster, x.ts
    from samples as x
    join series as s using (series_id)
    cross join p
    where s.user is not null and s.component not like 'raw\_%' escape '\'  -- evidence, not participation
      and x.ts between p.from_ts and p.to_ts
)
select
    user,
    list(distinct cluster order by cluster) filter (where cluster is not null) as clusters,
    count(*) as n_samples,
    min(ts) as first_seen_at,
    max(ts) as last_seen_at
from in_window
group by user
order by user
