-- grain: chunks: series_id, first_ts
-- grain: state_changes: series_id, ts
-- The change log again, from the stored samples of the series in rebuild_ids (a temporary
-- view made by ocq_batch/load/changelog.py: every series, or those a batch overlapped):
-- each such series becomes one chunk of all its stored samples (fetch_id null), and every
-- known sample whose state differs from the previous known sample is a state change.
-- The same as ocq_batch.load.changelog.from_batch computes for a clean append.
delete from chunks where series_id in (select series_id from rebuild_ids);
delete from state_changes where series_id in (select series_id from rebuild_ids);

insert into chunks
with x as (
    select series_id, ts, value,
           value is not null and isfinite(value) as is_known,
           is_done(value)::integer as state
    from samples
    where series_id in (select series_id from rebuild_ids)
)
select series_id, null::bigint, count(*), min(ts), max(ts),
       count(*) filter (where is_known),
       min(ts) filter (where is_known), arg_min(state, ts) filter (where is_known),
       max(ts) filter (where is_known), arg_max(state, ts) filter (where is_known)
from x
group by series_id;

insert into state_changes
with known as (
    select series_id, ts, is_done(value)::integer as state
    from samples
    where series_id in (select series_id from rebuild_ids)
      and value is not null and isfinite(value)
),
ordered as (
    select series_id, ts, state,
           lag(state) over w as prev_state, lag(ts) over w as prev_ts
    from known
    window w as (partition by series_id order by ts)
)
select series_id, null::bigint, ts, prev_ts, state
from ordered
where prev_state <> state;
