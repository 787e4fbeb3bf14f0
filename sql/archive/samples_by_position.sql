-- grain: result: series_position, ts
-- The samples of samples.parquet by integers: each sample's series as its position in the
-- file's series order (component, exercise, env, user, cluster, series_id) and its
-- response as its position in fetch_id order. ocq_batch/archive/samples.py puts the
-- strings back in Arrow; the window is bound ($from_ts, $to_ts).
with s as (
    select series_id,
           row_number() over (order by component, exercise, env, user, cluster, series_id) - 1 as position
    from series
),
f as (select fetch_id, row_number() over (order by fetch_id) - 1 as position from fetches)
select s.position as series_position, x.ts, x.value, f.position as fetch_position
from samples as x
join s using (series_id)
join f using (fetch_id)
where x.ts between $from_ts::timestamptz and $to_ts::timestamptz
order by s.position, x.ts
