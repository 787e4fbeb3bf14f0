-- grain: result: query, origin
-- The (query, origin) pairs of an archive's samples: one fetch each in the rebuilt store.
select distinct query, origin from archived order by all
