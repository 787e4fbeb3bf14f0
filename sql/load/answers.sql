-- grain: answers: query, start_ts, end_ts, step_s
-- answers: one row per response the last load read (also one the store held already), written
-- by ocq_batch/load/received.py: its query family, range and step, and the series and samples
-- of its range it held (n_samples 0: an empty answer), with the first and last sample's time.
-- Replaced by every export; the audit's empty_family and empty_answer findings read it.
create table if not exists answers (
    query_key varchar not null,
    query     varchar not null,
    component varchar not null,
    exercise  varchar,               -- null: the family covers every exercise (participants)
    env       varchar,               -- null: it counts for every environment
    optional  boolean not null,      -- audited when present (the raw series, the live board)
    start_ts  timestamptz not null,
    end_ts    timestamptz not null,
    step_s    double not null,
    n_series  bigint not null,
    n_samples bigint not null,
    first_ts  timestamptz,
    last_ts   timestamptz
)
