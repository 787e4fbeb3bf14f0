-- grain: series_envs: series_id, env
-- series_envs: one row per (series, environment it counts for), written with the run's
-- parameters. A series with an env label counts for that environment only (when it is one
-- of the configured ones); a series without one (the dev-only pipeline) counts for every
-- environment, as in the live rules. Grain: (series_id, env). Only ever joined: stored in
-- no particular order (sorting it was a third of the step's time at 1e7).
create or replace table series_envs as
select s.series_id, e.env
from series as s
join env_params as e on e.env = s.env
union all
select s.series_id, e.env
from series as s
cross join env_params as e
where s.env is null
