-- grain: samples: series_id, ts
-- An archive's samples into the rebuilt store, each with its series and fetch ids.
insert into samples
select s.series_id, a.ts, a.value, f.fetch_id
from archived as a
join new_series as s using (query, labels)
join new_fetches as f using (query, origin)
