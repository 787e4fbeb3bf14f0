-- grain: result: (one row)
-- How many (user, exercise, env, cluster) keys more than one completion series feeds. The
-- change log is per series, so such keys take the sample-level steps (sql/detect/samples/).
with keys as (
    select s.user, s.exercise, e.env, s.cluster
    from series as s
    join series_envs as e using (series_id)
    where s.component = 'completion' and s.user is not null and s.exercise is not null
)
select count(*) from (select 1 from keys group by user, exercise, env, cluster having count(*) > 1)
