-- grain: meta: key
-- grain: fetches: fetch_id
-- grain: series: series_id
-- grain: samples: series_id, ts
-- grain: chunks: series_id, first_ts
-- grain: state_changes: series_id, ts
-- grain: superseded: series_id, ts, fetch_id
-- grain: current_fetches: query, start_ts, end_ts, step_s
-- grain: answers: query, start_ts, end_ts, step_s
-- Store schema (version in meta.schema_version; meta also names the event and the source the
-- store belongs to: keys event and source). Raw facts only: fetches, series and samples are
-- keyed by natural keys, so loading the same response twice changes nothing. A sample is
-- never overwritten but by a newer answer to the same request (a refetch of a chunk: the
-- late-sample case), and then its earlier value moves to superseded. Every later table is a
-- projection rebuilt by the numbered steps. Every statement is idempotent: the schema runs on
-- every writable open, so a store made before a table was added gains it.

create table if not exists meta (
    key   varchar primary key,
    value varchar not null
);

-- one row per response loaded: where it came from (origin never holds a credential)
create table if not exists fetches (
    fetch_id    bigint primary key,  -- hash of (query, start, end, step, body sha256)
    query_key   varchar not null,
    query       varchar not null,
    start_ts    timestamptz not null,
    end_ts      timestamptz not null,
    step_s      double not null,
    origin      varchar not null,
    body_sha256 varchar not null,
    n_series    bigint not null,
    n_samples   bigint not null,
    warnings    varchar[] not null,
    loaded_at   timestamptz not null
);

-- one row per (query, label set)
create table if not exists series (
    series_id bigint primary key,    -- hash of (query, canonical labels)
    query     varchar not null,
    query_key varchar not null,
    metric    varchar not null,      -- __name__ when the query returns it, else the query
    component varchar not null,      -- completion | service | database | pipeline | participants
    exercise  varchar,               -- null: not tied to one exercise
    env       varchar,               -- null: counts for every environment
    user      varchar,               -- null: the series has no user label
    cluster   varchar,
    labels    varchar not null       -- canonical JSON of every label
);

-- one row per (series, timestamp); value NaN/Inf kept as the server sent it
create table if not exists samples (
    series_id bigint not null,
    ts        timestamptz not null,
    value     double,
    fetch_id  bigint not null
);

-- The change log (ocq_batch/changelog.py): derived from samples when they are stored,
-- append-only, read by the numbered steps instead of every sample.
-- one row per (series, response): the samples that response stored
create table if not exists chunks (
    series_id      bigint not null,
    fetch_id       bigint,           -- null: every stored sample of the series, derived again
    n_samples      bigint not null,
    first_ts       timestamptz not null,
    last_ts        timestamptz not null,
    n_known        bigint not null,  -- samples with a finite value
    first_known_ts timestamptz,      -- null when n_known = 0, as the three below
    first_state    integer,          -- value >= 0.5
    last_known_ts  timestamptz,
    last_state     integer
);

-- one row per known sample whose state differs from the previous known sample of its chunk
create table if not exists state_changes (
    series_id bigint not null,
    fetch_id  bigint,
    ts        timestamptz not null,
    prev_ts   timestamptz not null,
    state     integer not null
);

-- one row per sample value a newer answer to the same request replaced (the late-sample case):
-- the value and fetch it had, and the fetch that superseded it (samples holds the new value)
create table if not exists superseded (
    series_id     bigint not null,
    ts            timestamptz not null,
    value         double,
    fetch_id      bigint not null,
    by_fetch_id   bigint not null
);

-- the answer the store holds now for each request: its latest loaded response (a refetch
-- supersedes an earlier answer, e.g. a partial one)
create view if not exists current_fetches as
select * from fetches
qualify row_number() over (
    partition by query, start_ts, end_ts, step_s order by loaded_at desc, fetch_id desc
) = 1;

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
);
