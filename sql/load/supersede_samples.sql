-- grain: superseded: series_id, ts, fetch_id
-- grain: samples: series_id, ts
-- The clashes a newer answer to the same request supersedes (batch_clashes, made by
-- find_clashes.sql): the stored value moves to superseded, and the sample takes the new value
-- and fetch. A batch with a conflict never gets here.
insert into superseded
select series_id, ts, old_value, old_fetch_id, new_fetch_id
from batch_clashes
where supersedes;

update samples set value = c.new_value, fetch_id = c.new_fetch_id
from (select * from batch_clashes where supersedes) as c
where samples.series_id = c.series_id and samples.ts = c.ts;
