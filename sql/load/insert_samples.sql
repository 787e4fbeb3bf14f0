-- grain: samples: series_id, ts
-- A batch's samples (new_samples) that may overlap what is stored: each (series, time) once,
-- the first response's sample when the batch repeats one, none that the store holds already.
insert into samples
select n.* from (
    select * from new_samples
    qualify row_number() over (partition by series_id, ts order by fetch_id) = 1
) as n
anti join samples as s on s.series_id = n.series_id and s.ts = n.ts
