-- grain: chunks: series_id, first_ts
-- grain: state_changes: series_id, ts
-- A clean batch's change log (new_chunks, new_changes: Arrow tables registered by
-- ocq_batch/load/changelog.py, computed from the batch by changelog.from_batch), appended.
insert into chunks select * from new_chunks;
insert into state_changes select * from new_changes;
