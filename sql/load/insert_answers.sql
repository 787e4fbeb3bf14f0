-- grain: answers: query, start_ts, end_ts, step_s
-- The answers of this run (new_answers, registered by ocq_batch/load/received.py) in place of
-- the last run's.
delete from answers;
insert into answers select * from new_answers
