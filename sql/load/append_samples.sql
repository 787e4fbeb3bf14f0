-- grain: samples: series_id, ts
-- A batch's samples (new_samples) appended as they are: the loader checked that none can be
-- stored already nor queued twice (every series in time order, and each query's time range
-- disjoint from everything stored or queued).
insert into samples select * from new_samples
