-- grain: none (batch_clashes, one row per series_id, ts, new_fetch_id: a temp table of one load batch)
-- A batch's samples (new_samples) whose (series, time) already has another value: in the store,
-- or in another response of the same batch (NaN equals NaN, so an equal NaN is no clash). Each
-- clash with the fetch of either value; it supersedes the stored value when the new value
-- answers the same request again (a refetch of the chunk: the late-sample case) and the stored
-- value is not from this batch. Any other clash is a conflict: the load stops.
create or replace temp table batch_clashes as
with stored as (
    select n.series_id, n.ts, s.value as old_value, s.fetch_id as old_fetch_id,
           n.value as new_value, n.fetch_id as new_fetch_id, false as in_batch
    from new_samples as n
    join samples as s on s.series_id = n.series_id and s.ts = n.ts
    where n.value is distinct from s.value
),
in_batch as (
    select a.series_id, a.ts, a.value as old_value, a.fetch_id as old_fetch_id,
           b.value as new_value, b.fetch_id as new_fetch_id, true as in_batch
    from new_samples as a
    join new_samples as b on a.series_id = b.series_id and a.ts = b.ts and a.fetch_id < b.fetch_id
    where a.value is distinct from b.value
)
select c.*,
       not c.in_batch and o.query = n.query and o.start_ts = n.start_ts and o.end_ts = n.end_ts
           and o.step_s = n.step_s as supersedes,
       o.origin as old_origin, n.origin as new_origin
from (select * from stored union all by name select * from in_batch) as c
join fetches as o on o.fetch_id = c.old_fetch_id
join fetches as n on n.fetch_id = c.new_fetch_id
