-- grain: none (one row per warning of each answer the store holds now, overlapping the window)
-- The warnings (partial answers, --allow-partial) of the answers the store holds now: the latest
-- answer to each request (current_fetches), so an answer a refetch superseded counts no more.
-- What the manifest lists as warnings; the audit's partial_response finding reads the same view.
select f.query || ': ' || w.warning as warning
from current_fetches as f, unnest(f.warnings) as w(warning)
where f.end_ts >= $from_ts and f.start_ts <= $to_ts
order by f.query, f.start_ts, f.end_ts, f.step_s, w.warning
