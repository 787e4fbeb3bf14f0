-- grain: result: user
-- participants.parquet: every user seen in the window, excluded or not, and by which pattern. One query per file, in a stable order:
-- the same store gives the same bytes.
select u.user, u.clusters, u.n_samples, u.first_seen_at, u.last_seen_at,
       x.user is not null as is_excluded, x.pattern as excluded_by
from users_seen as u left join exclusions as x using (user)
order by u.user
