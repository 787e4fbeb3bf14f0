-- grain: result: user, ts
-- timeline.parquet: every (participant, tick). One query per file, in a stable order:
-- the same store gives the same bytes.
select user, ts, score from timeline order by user, ts
