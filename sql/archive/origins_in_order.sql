-- grain: result: fetch_id
-- Each response's origin, in fetch_id order (the positions of samples_by_position.sql).
select fetch_id, origin from fetches order by fetch_id
