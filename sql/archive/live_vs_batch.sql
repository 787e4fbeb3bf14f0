-- grain: result: user
-- live_vs_batch.parquet: every participant, live board against batch. One query per file, in a stable order:
-- the same store gives the same bytes.
select * from live_vs_batch order by batch_rank, user
