-- grain: result: query, labels, ts
-- samples.parquet: every stored sample in the window with its series' columns and the origin
-- of its response. The file is written from samples_by_position.sql, the same rows in the
-- same order without sorting a string per sample (tests/test_archive_samples.py checks
-- the bytes are equal); this query is the definition.
select s.metric, s.user, s.exercise, s.env, s.cluster, s.component, x.ts, x.value,
       s.labels, s.query, f.origin
from samples as x
join series as s using (series_id)
join fetches as f using (fetch_id)
cross join run_params as p
where x.ts between p.from_ts and p.to_ts
order by s.component, s.exercise, s.env, s.user, s.cluster, s.series_id, x.ts
