-- grain: series: series_id
-- A batch's series (new_series, registered by ocq_batch/load/loader.py) that the store does
-- not hold yet, each once: a series id is a hash of its query and labels, so the same id is
-- the same series.
insert into series
select * from (
    select * from new_series
    qualify row_number() over (partition by series_id order by query) = 1
) as n
where n.series_id not in (select series_id from series)
