-- grain: fetches: fetch_id
-- The rebuilt store's fetches: one per (query, origin) of the archive (new_fetches), over the
-- archive's window ($from_ts, $to_ts) at its step, with its sample and series counts.
-- The body digest is samples.parquet's ($body): the archive is where they came from now.
insert into fetches
select f.fetch_id, coalesce(any_value(s.query_key), f.query), f.query, $from_ts, $to_ts, $step_s,
       f.origin, $body, count(distinct s.series_id), count(*), []::varchar[], $now
from archived as a
join new_fetches as f using (query, origin)
join new_series as s using (query, labels)
group by f.fetch_id, f.query, f.origin
