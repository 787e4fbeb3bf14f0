-- grain: findings: check, user, exercise, env, cluster, evidence_at, message
-- findings: one row per audit finding (severity info | warning | error, check, who, when, why).
-- Grain: (check, user, exercise, env, cluster, at); user is null for event-wide findings, exercise and
-- env are null for a data_gap finding that groups the series of several.
-- Every finding carries its evidence timestamps (evidence_at, evidence_until) and one human sentence; times
-- in sentences are in the session time zone, which the caller sets to the event's.
-- Inputs are the projections of steps 01-08 plus completions_alt (the other signal).
create or replace temp macro hms(t) as strftime(t, '%H:%M:%S');
-- a number as people write it: 3, not 3.0
create or replace temp macro num(x) as
    case when x = round(x) then round(x)::bigint::varchar else round(x, 3)::varchar end;
-- a label value inside a PromQL double-quoted string
create or replace temp macro promql_str(v) as replace(replace(v, '\', '\\'), '"', '\"');
-- a series as a selector: metric{label="value", ...} from its canonical labels (no __name__); the
-- matchers are separated by ', ' so that a narrow terminal can wrap the selector between them
create or replace temp macro selector(metric, labels) as
    metric || '{' || array_to_string(list_transform(
        list_filter(json_keys(labels), lambda k: k <> '__name__'),
        lambda k: k || '="' || promql_str(labels ->> k) || '"'), ', ') || '}';
create or replace temp macro dur(s) as
    case when s >= 60 then (floor(s / 60))::bigint || 'm' || lpad((round(s % 60))::bigint::varchar, 2, '0') || 's'
         else (round(s))::bigint || 's' end;

create or replace table findings as
with p as (
    select r.*, a.* from run_params as r cross join audit_params as a
),
participants as (
    select user from users_seen where user not in (select user from exclusions)
),
firsts as (
    select * from completions where user in (select user from participants)
),
-- 1. a completed exercise that went back to 0 (and maybe came back: the live board's double bonus)
regressions as (
    select
        case when f.env = p.env then 'warning' else 'info' end as severity,
        'regression' as check_name, f.user, f.exercise, f.env, f.cluster,
        d.ts as evidence_at,
        (select min(u.ts) from transitions as u
          where u.user = d.user and u.exercise = d.exercise and u.env = d.env
            and u.cluster is not distinct from d.cluster and u.to_value = 1 and u.ts > d.ts) as evidence_until,
        null::double as value
    from firsts as f
    join transitions as d
      on d.user = f.user and d.exercise = f.exercise and d.env = f.env
     and d.cluster is not distinct from f.cluster and d.to_value = 0 and d.ts > f.completed_at
    cross join p
),
regression_msgs as (
    select r.*,
        r.exercise || '/' || r.env || ' on ' || coalesce(r.cluster, '?') || ' went back to 0 at ' || hms(r.evidence_at)
        || case when r.evidence_until is null then ' and stayed down until the end of the window'
                else ' for ' || dur(epoch(r.evidence_until) - epoch(r.evidence_at)) || ', then completed again'
                     || ' (the live board paid its one-time bonus again)' end
        || '; the first completion still counts' as message
    from regressions as r
),
-- 2. one participant on several clusters
multi as (
    select 'warning' as severity, 'several_clusters' as check_name, u.user,
        null::varchar as exercise, null::varchar as env, null::varchar as cluster,
        u.first_seen_at as evidence_at, u.last_seen_at as evidence_until, len(u.clusters)::double as value,
        'seen on ' || len(u.clusters) || ' clusters (' || array_to_string(u.clusters, ', ') || '); counted: '
        || coalesce((
            select string_agg(c.exercise || ' on ' || c.cluster || ' at ' || hms(c.completed_at), ', '
                              order by c.completed_at, c.exercise)
            from completions as c
            where c.user = u.user and c.is_counted and c.env = (select env from p)
        ), 'no completion') as message
    from users_seen as u
    where len(u.clusters) > 1 and u.user in (select user from participants)
),
-- 3. completions at the window start or before the event start
early as (
    select 'warning' as severity, 'complete_at_window_start' as check_name, user, exercise, env, cluster,
        completed_at as evidence_at, null::timestamptz as evidence_until, null::double as value,
        exercise || '/' || env || ' was already complete at the first sample of the window ('
        || hms(completed_at) || '); its true completion time is unknown' as message
    from firsts where complete_at_window_start
    union all
    select 'warning', 'completed_before_start', f.user, f.exercise, f.env, f.cluster,
        f.completed_at, p.t0, null,
        f.exercise || '/' || f.env || ' completed at ' || hms(f.completed_at) || ', before the event start '
        || hms(p.t0)
    from firsts as f cross join p
    where f.completed_at < p.t0 and not f.complete_at_window_start
),
-- 4. completions after --to: seen in the store, ignored by the scoring
after_window as (
    select s.user, s.exercise, s.env, min(x.ts) as evidence_at
    from samples as x
    join series as s using (series_id)
    cross join p
    where s.component = 'completion' and x.ts > p.to_ts and is_done(x.value) and not isnan(x.value)
      and s.user in (select user from participants)
      and not exists (
          select 1 from completions as c
          where c.user = s.user and c.exercise = s.exercise and c.env = s.env
      )
    group by s.user, s.exercise, s.env
),
after_msgs as (
    select 'info' as severity, 'completed_after_window' as check_name, a.user, a.exercise, a.env,
        null::varchar as cluster, a.evidence_at, p.to_ts as evidence_until, null::double as value,
        a.exercise || '/' || a.env || ' completed at ' || hms(a.evidence_at) || ', after the end of the window ('
        || hms(p.to_ts) || '): not scored' as message
    from after_window as a cross join p
),
-- 5. exercises completed out of the expected order (scoring env)
counted as (
    select c.*, e.ordinal
    from completions as c
    join exercise_params as e using (exercise)
    cross join p
    where c.is_counted and c.env = p.env and c.user in (select user from participants)
),
order_msgs as (
    select 'info' as severity, 'exercise_order' as check_name, late.user, late.exercise, late.env,
        late.cluster, late.completed_at as evidence_at, earlier.completed_at as evidence_until, null::double as value,
        late.exercise || ' completed at ' || hms(late.completed_at) || ', before '
        || earlier.exercise || ' (' || coalesce(hms(earlier.completed_at), 'never') || ')' as message
    from counted as late
    join (
        select pa.user, e.exercise, e.ordinal, c.completed_at
        from participants as pa
        cross join exercise_params as e
        left join counted as c on c.user = pa.user and c.exercise = e.exercise
    ) as earlier
      on earlier.user = late.user and earlier.ordinal < late.ordinal
     and (earlier.completed_at is null or earlier.completed_at > late.completed_at)
),
-- 6. stale evidence: gaps of more than two native intervals in a completion series, in a
-- component series behind a counted completion, or in the raw series behind those components
-- (step 02's evidence_gaps, found per series), each naming its series
gap_series as (
    select g.*, s.metric, s.labels, s.component, s.user, s.exercise, s.env, s.cluster
    from evidence_gaps as g
    join series as s using (series_id)
    cross join p
    where s.user in (select user from participants) and g.gap_to >= p.from_ts and g.gap_from <= p.to_ts
),
behind_counted as (
    select distinct s.series_id
    from series as s
    join series_envs as e using (series_id)
    join completions as c
      on c.user = s.user and c.exercise = s.exercise and c.env = e.env
     and c.cluster is not distinct from s.cluster and c.is_counted
    where s.component <> 'completion'
),
-- one finding per gap shared by several series of a participant (the same component, cluster and
-- span: one outage of its namespaces' collection); its series column names every series (selectors)
gap_rows as (
    select g.*, x.ordinal as x_ord, v.ordinal as v_ord, dense_rank() over (
        order by g.user, g.cluster, g.component, g.gap_from, g.gap_to, g.native_s) as gid
    from gap_series as g
    left join exercise_params as x on x.exercise = g.exercise
    left join env_params as v on v.env = g.env
    where g.component = 'completion' or g.series_id in (select series_id from behind_counted)
),
gap_names as (
    select gid, string_agg(exercise, ', ' order by x_ord, exercise) as exercises
    from (select distinct gid, exercise, x_ord from gap_rows where exercise is not null)
    group by gid
),
gap_envs as (
    select gid, string_agg(env, ', ' order by v_ord, env) as envs
    from (select distinct gid, env, v_ord from gap_rows where env is not null)
    group by gid
),
gap_groups as (
    select r.gid, any_value(r.user) as user, any_value(r.cluster) as cluster, any_value(r.component) as component,
        any_value(r.gap_from) as gap_from, any_value(r.gap_to) as gap_to, any_value(r.gap_s) as gap_s,
        any_value(r.native_s) as native_s, count(*) as n,
        case when count(distinct r.exercise) = 1 and count(r.exercise) = count(*) then any_value(r.exercise) end
            as exercise,
        case when count(distinct r.env) = 1 and count(r.env) = count(*) then any_value(r.env) end as env,
        list(selector(r.metric, r.labels) order by r.x_ord, r.v_ord, selector(r.metric, r.labels)) as series
    from gap_rows as r
    group by r.gid
),
gap_msgs as (
    select 'warning' as severity, 'data_gap' as check_name, g.user, g.exercise, g.env, g.cluster,
        g.gap_from as evidence_at, g.gap_to as evidence_until, g.gap_s as value,
        'no ' || replace(g.component, 'raw_', 'raw ') || ' sample from ' || hms(g.gap_from) || ' to '
        || hms(g.gap_to) || ' (' || dur(g.gap_s) || ', ' || round(g.gap_s / g.native_s)::bigint
        || ' times its ' || dur(g.native_s) || ' interval) in '
        || case when g.n = 1 then g.series[1]
                else g.n || ' series (' || concat_ws('; ', n.exercises, e.envs) || ', listed in its series)' end
        || '; the rules read stale values through it, and a completion there is known only to that precision'
        as message,
        g.series
    from gap_groups as g
    left join gap_names as n using (gid)
    left join gap_envs as e using (gid)
),
wide as (
    select 'warning' as severity, 'wide_uncertainty' as check_name, c.user, c.exercise, c.env, c.cluster,
        c.completed_after as evidence_at, c.completed_at as evidence_until,
        epoch(c.completed_at) - epoch(c.completed_after) as value,
        c.exercise || '/' || c.env || ' completed somewhere between ' || hms(c.completed_after) || ' and '
        || hms(c.completed_at) || ' (' || dur(epoch(c.completed_at) - epoch(c.completed_after)) || ' of uncertainty)'
        || case when c.stale_since is not null
                then ': its evidence had no fresh sample after ' || hms(c.stale_since)
                     || ', and the values read through the gap were stale'
                else ': the sample before it is ' || dur(epoch(c.completed_at) - epoch(c.prev_sample_at))
                     || ' earlier' end as message
    from firsts as c
    cross join p
    left join family_intervals as f on f.query_key = 'completion/' || c.exercise || '/' || c.env
    where c.is_counted and c.completed_after is not null
      and (c.stale_since is not null
           or epoch(c.completed_at) - epoch(c.completed_after)
              > c.lineage_s + 2 * coalesce(f.native_s, p.eval_interval_s))
),
-- 7. component evidence: when each component became ready, which came last
-- the component series, one row per environment they count for, numbered by
-- (user, exercise, env, cluster, component) so the window below partitions integers
component_keys as (
    select series_id, user, exercise, env, cluster, component,
           dense_rank() over (order by user, exercise, env, cluster, component) as key_id
    from (
        select s.series_id, s.user, s.exercise, e.env, s.cluster, s.component
        from series as s
        join series_envs as e using (series_id)
    )
    where component in ('service', 'database', 'pipeline') and user in (select user from participants)
),
component_samples as (
    select k.key_id, x.ts, is_done(x.value)::integer as state
    from samples as x
    join component_keys as k using (series_id)
    cross join p
    where x.ts between p.from_ts and p.to_ts and x.value is not null and not isnan(x.value)
),
component_ups as (
    select k.user, k.exercise, k.env, k.cluster, k.component, u.ts
    from (
        select *, lag(state) over (partition by key_id order by ts) as prev
        from component_samples
    ) as u
    join (select distinct key_id, user, exercise, env, cluster, component from component_keys) as k using (key_id)
    where u.state = 1 and (u.prev is null or u.prev = 0)
),
ready as (
    select f.user, f.exercise, f.env, f.cluster, f.completed_at, ec.component,
        (select max(u.ts) from component_ups as u
          where u.user = f.user and u.exercise = f.exercise and u.env = f.env
            and u.cluster is not distinct from f.cluster and u.component = ec.component
            and u.ts <= f.completed_at) as ready_at
    from firsts as f
    join exercise_components as ec on ec.exercise = f.exercise
    where f.is_counted
),
evidence as (
    select 'info' as severity, 'component_evidence' as check_name, user, exercise, env, cluster,
        max(ready_at) as evidence_at, completed_at as evidence_until, null::double as value,
        exercise || '/' || env || ' completed at ' || hms(completed_at) || ': '
        || string_agg(component || ' ' || coalesce('ready at ' || hms(ready_at), 'not seen ready'), ', '
                      order by component)
        -- ties (e.g. two components ready at the window start) resolve by name: same input, same sentence
        || coalesce('; ' || (list(component order by ready_at desc, component) filter (where ready_at is not null))[1] || ' came last', '')
        as message
    from ready
    group by user, exercise, env, cluster, completed_at
),
-- 8. the recorded completion series and the AND of the components disagree
pairs as (
    select coalesce(a.user, b.user) as user, coalesce(a.exercise, b.exercise) as exercise,
        coalesce(a.env, b.env) as env, coalesce(a.cluster, b.cluster) as cluster,
        a.completed_at as main_at, b.completed_at as alt_at
    from completions as a
    full join completions_alt as b
      on a.user = b.user and a.exercise = b.exercise and a.env = b.env and a.cluster is not distinct from b.cluster
),
disagree as (
    select 'warning' as severity, 'signal_disagreement' as check_name, x.user, x.exercise, x.env, x.cluster,
        coalesce(least(x.main_at, x.alt_at), x.main_at, x.alt_at) as evidence_at,
        coalesce(greatest(x.main_at, x.alt_at), x.main_at, x.alt_at) as evidence_until,
        epoch(x.main_at) - epoch(x.alt_at) as value,
        x.exercise || '/' || x.env || ': the ' || p.signal || ' signal says '
        || coalesce('complete at ' || hms(x.main_at), 'never complete') || ', the '
        || case when p.signal = 'recorded' then 'components' else 'recorded' end || ' signal says '
        || coalesce('complete at ' || hms(x.alt_at), 'never complete') as message
    from pairs as x cross join p
    where x.user in (select user from participants)
      and (
          abs(epoch(x.main_at) - epoch(x.alt_at)) > p.eval_interval_s + coalesce(p.step_s, p.eval_interval_s)
          -- "never complete" only counts when that signal has data at all (else it is a gap)
          or (x.main_at is null and exists (
                select 1 from signal_keys as g where g.user = x.user and g.exercise = x.exercise
                and g.env = x.env and g.cluster is not distinct from x.cluster))
          or (x.alt_at is null and exists (
                select 1 from signal_keys_alt as g where g.user = x.user and g.exercise = x.exercise
                and g.env = x.env and g.cluster is not distinct from x.cluster))
      )
),
-- 9. excluded accounts, participants with no completion, suspiciously fast completions
excluded as (
    select 'info' as severity, 'excluded' as check_name, x.user, null::varchar as exercise,
        null::varchar as env, null::varchar as cluster, u.first_seen_at as evidence_at, u.last_seen_at as evidence_until,
        null::double as value, 'excluded by pattern ' || x.pattern || '; never ranked' as message
    from exclusions as x join users_seen as u using (user)
),
idle as (
    select 'info' as severity, 'no_completion' as check_name, r.user, null::varchar as exercise,
        p.env, null::varchar as cluster, null::timestamptz as evidence_at, null::timestamptz as evidence_until,
        null::double as value,
        'took part but completed no exercise in ' || p.env as message
    from ranking as r cross join p
    where r.exercises_completed = 0
),
durations as (
    select c.user, c.exercise, c.env, c.cluster, c.completed_at, c.ordinal,
        epoch(c.completed_at) - epoch(coalesce(
            (select max(o.completed_at) from counted as o
              where o.user = c.user and o.ordinal < c.ordinal and o.completed_at <= c.completed_at),
            (select t0 from p))) as took_s
    from counted as c
),
medians as (
    select exercise, median(took_s) as median_s, count(*) as n from durations group by exercise
),
fast as (
    select 'warning' as severity, 'fast_completion' as check_name, d.user, d.exercise, d.env, d.cluster,
        d.completed_at as evidence_at, null::timestamptz as evidence_until, d.took_s as value,
        d.exercise || ' took ' || dur(d.took_s) || ', under ' || (p.fast_factor * 100)::integer
        || '% of the field''s median (' || dur(m.median_s) || ' over ' || m.n || ' participants)' as message
    from durations as d join medians as m using (exercise) cross join p
    where m.n >= 5 and d.took_s < p.fast_factor * m.median_s
),
-- 10. warnings (partial responses) of the answers the store holds now (a refetch supersedes an
-- earlier partial answer to the same request: current_fetches)
partial as (
    select 'error' as severity, 'partial_response' as check_name, null::varchar as user,
        null::varchar as exercise, null::varchar as env, null::varchar as cluster,
        min(f.start_ts) as evidence_at, max(f.end_ts) as evidence_until, count(*)::double as value,
        'the source answered ' || count(*) || ' request(s) with a warning (partial data?): ' || w.warning
        || '; e.g. ' || min(f.query) as message
    from current_fetches as f, unnest(f.warnings) as w(warning), p
    where f.end_ts >= p.from_ts and f.start_ts <= p.to_ts
    group by w.warning
),
-- 10b. every answer accounted for: a query family whose answers held no series at all
-- (empty_family), or some of whose answers came back empty while others did not
-- (empty_answer), from this run's answers (an export stops when the scoring family is empty);
-- the message names the query's key, its series column the PromQL.
-- An optional family (the raw series, the live board) is audited when present: info.
answered as (
    select query_key, any_value(query) as query, any_value(component) as component,
        any_value(exercise) as exercise, any_value(env) as env, bool_and(optional) as optional,
        count(*) as n, count(*) filter (where n_samples = 0) as n_empty,
        min(start_ts) as answered_from, max(end_ts) as answered_to,
        min(start_ts) filter (where n_samples = 0) as empty_from,
        max(end_ts) filter (where n_samples = 0) as empty_to,
        string_agg(hms(start_ts) || ' to ' || hms(end_ts), ', ' order by start_ts)
            filter (where n_samples = 0) as empty_ranges,
        max(n_series) as most_series
    from answers
    group by query_key
),
empty_msgs as (
    select case when optional then 'info' else 'warning' end as severity,
        case when n_empty = n then 'empty_family' else 'empty_answer' end as check_name,
        null::varchar as user, exercise, env, null::varchar as cluster,
        empty_from as evidence_at, empty_to as evidence_until, n_empty::double as value,
        case when n_empty = n then
            'query ' || query_key || ' answered no series from ' || hms(answered_from)
            || ' to ' || hms(answered_to) || ' (' || n || ' answer' || case when n > 1 then 's' else '' end || ')'
            || case when optional then ': the source holds none of these series, so the audit has no such evidence'
                    else ': its series are missing from the data; check the [queries] ' || component
                         || ' template and the source' end
        else
            n_empty || ' of ' || n || ' answers to query ' || query_key || ' came back empty ('
            || empty_ranges || ') while another held ' || most_series || ' series: if the source had data then, '
            || 'it is missing; check the source and fetch again with --refetch'
        end as message,
        [query] as series  -- the PromQL (one word: too long for the message in a narrow table)
    from answered
    where n_empty > 0
),
-- 10c. a series without the user label (or, for raw series, a namespace naming no user): its
-- samples count for nobody, one finding per series (an error in the families the scores are
-- made of); series without the cluster label, one finding per family
unlabelled as (
    select s.series_id, s.query_key, s.query, s.component, s.exercise, s.env, s.metric, s.labels,
        s.user is null as no_user, s.cluster is null as no_cluster,
        min(c.first_ts) as first_ts, max(c.last_ts) as last_ts, sum(c.n_samples) as n_samples,
        (p.signal = 'recorded' and s.component = 'completion' and s.env = p.env)
        or (p.signal = 'components' and s.component in ('service', 'database', 'pipeline')
            and (s.env = p.env or s.env is null)) as scoring
    from series as s
    join chunks as c using (series_id)
    cross join p
    where (s.user is null or s.cluster is null) and c.last_ts >= p.from_ts and c.first_ts <= p.to_ts
    group by all
),
no_user as (
    select case when scoring then 'error' else 'warning' end as severity, 'no_user_label' as check_name,
        null::varchar as user, exercise, env, null::varchar as cluster,
        first_ts as evidence_at, last_ts as evidence_until, n_samples::double as value,
        'series ' || selector(metric, labels) || ' of query ' || query_key || ' has no user '
        || case when component like 'raw\_%' escape '\' then '(its namespace does not match [queries] namespace_user)'
                else 'label ([queries] user_label)' end
        || ': its ' || n_samples || ' samples from ' || hms(first_ts) || ' to ' || hms(last_ts)
        || ' count for nobody; fix the source''s labels or the [queries] settings' as message,
        [selector(metric, labels)] as series
    from unlabelled
    where no_user
),
no_cluster as (
    select 'warning' as severity, 'no_cluster_label' as check_name, null::varchar as user,
        any_value(exercise) as exercise, any_value(env) as env, null::varchar as cluster,
        min(first_ts) as evidence_at, max(last_ts) as evidence_until, count(*)::double as value,
        count(*) || ' series of query ' || query_key || ' have no cluster label ([queries] cluster_label), e.g. '
        || min(selector(metric, labels)) || ': their completions are on an unknown cluster' as message,
        list(selector(metric, labels) order by selector(metric, labels)) as series
    from unlabelled
    where no_cluster
    group by query_key
),
-- 11. settings the data contradict (the data's own resolution against the configuration): one
-- finding per setting, naming the first family that contradicts it, the configured value and
-- the measured one
measured as (
    select f.*, row_number() over (order by f.query_key) as k from family_intervals as f
),
step_vs_data as (
    select *, count(*) over () as n, row_number() over (order by native_s, query_key) as first_k
    from measured cross join (select step_s from p) as q
    where component = 'completion' and q.step_s is not null and q.step_s > 1.5 * native_s
),
eval_vs_data as (
    select *, count(*) over () as n, row_number() over (order by abs(native_s - q.eval_interval_s) desc, query_key) as first_k
    from measured cross join (select eval_interval_s from p) as q
    where component = 'completion' and abs(native_s - q.eval_interval_s) > 0.1 * q.eval_interval_s
),
-- how often component values reached the hub: the raw series' interval when the source has
-- them, else the components' own when they arrive less often than the ruler evaluates
collected as (
    select coalesce(
        (select median(native_s) from measured where component like 'raw\_%' escape '\'),
        (select median(native_s) from measured
          where component in ('service', 'database', 'pipeline') and native_s > 2 * (select eval_interval_s from p))
    ) as native_s,
    coalesce(
        (select min(query_key) from measured where component like 'raw\_%' escape '\'),
        (select min(query_key) from measured where component in ('service', 'database', 'pipeline'))
    ) as family
),
-- the live one-time bonus: how many evaluations it fired in per completion, from the increases
-- of the lifetime bonus in the ten evaluations after each counted completion
bonus_steps as (
    select c.user, c.exercise, count(*) filter (where abs(d.delta) > 1e-9) as fired
    from firsts as c
    cross join p
    join series as s
      on s.component = 'live_bonus' and s.user = c.user and s.exercise = c.exercise and s.env = c.env
     and s.cluster is not distinct from c.cluster
    join (
        select series_id, ts, value - lag(value) over (partition by series_id order by ts) as delta
        from samples where series_id in (select series_id from series where component = 'live_bonus')
    ) as d on d.series_id = s.series_id
    where c.is_counted and c.env = p.env and d.ts > c.completed_at
      and d.ts <= c.completed_at + to_microseconds((10 * p.eval_interval_s * 1e6)::bigint) and d.ts <= p.to_ts
    group by c.user, c.exercise
),
repeats as (
    select median(fired) as fired, count(*) as n from bonus_steps where fired > 0
),
config_msgs as (
    select 'warning' as severity, 'config_vs_data' as check_name, null::varchar as user, exercise, env,
        null::varchar as cluster, null::timestamptz as evidence_at, null::timestamptz as evidence_until,
        native_s as value,
        '[source] step is ' || dur(q.step_s) || ', coarser than the ' || dur(native_s) || ' samples of '
        || query_key || case when n > 1 then ' (and ' || (n - 1) || ' more families)' else '' end
        || ': the live board''s expressions are read at that step; remove [source] step to read them at '
        || 'the ruler''s interval' as message
    from step_vs_data cross join (select step_s from p) as q where first_k = 1
    union all
    select 'warning', 'config_vs_data', null, exercise, env, null, null, null, native_s,
        '[audit] eval_interval is ' || dur(q.eval_interval_s) || ' but ' || query_key || ' has a sample every '
        || dur(native_s) || case when n > 1 then ' (and ' || (n - 1) || ' more families)' else '' end
        || '; set eval_interval to the ruler''s interval: it bounds the completion times and the live board'
    from eval_vs_data cross join (select eval_interval_s from p) as q where first_k = 1
    union all
    select 'warning', 'config_vs_data', null, null, null, null, null, null, c.native_s,
        '[audit] collect_interval is ' || dur(q.collect_interval_s) || ' but the component values of '
        || c.family || ' reached the hub every ' || dur(c.native_s)
        || '; set collect_interval to it: it bounds the completion times'
    from collected as c cross join (select collect_interval_s from p) as q
    cross join (select eval_interval_s from p) as e
    where c.native_s is not null
      and abs(c.native_s - q.collect_interval_s) > 0.1 * greatest(c.native_s, q.collect_interval_s)
      -- values sampled at the ruler's pace were not collected any slower: no contradiction with 0s
      and not (c.native_s <= 1.5 * e.eval_interval_s and q.collect_interval_s <= 1.5 * e.eval_interval_s)
    union all
    select 'warning', 'config_vs_data', null, null, null, null, null, null, r.fired,
        '[audit] bonus_repeats is ' || num(q.bonus_repeats) || ' but the live one-time bonus fired in '
        || num(r.fired) || ' evaluation(s) per completion (median of ' || r.n || ' completions); set bonus_repeats '
        || 'to it: the live board''s scores are normalised with it'
    from repeats as r cross join (select bonus_repeats from p) as q
    where r.n >= 3 and r.fired <> q.bonus_repeats
)
select severity, check_name as "check", user, exercise, env, cluster, evidence_at, evidence_until, value, message,
    series
from (
    select severity, check_name, user, exercise, env, cluster, evidence_at, evidence_until, value, message
    from regression_msgs
    union all by name select * from multi
    union all by name select * from early
    union all by name select * from after_msgs
    union all by name select * from order_msgs
    union all by name select * from gap_msgs
    union all by name select * from wide
    union all by name select * from evidence
    union all by name select * from disagree
    union all by name select * from excluded
    union all by name select * from idle
    union all by name select * from fast
    union all by name select * from partial
    union all by name select * from empty_msgs
    union all by name select * from no_user
    union all by name select * from no_cluster
    union all by name select * from config_msgs
)
order by
    case severity when 'error' then 0 when 'warning' then 1 else 2 end,
    user nulls first, "check", exercise, env, evidence_at
