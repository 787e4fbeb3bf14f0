-- grain: none (macros only: the completion threshold and the score formula of SCORING.md)
-- The one place in SQL where the completion threshold and the score formula are written;
-- every step calls these. ocq_batch/detect/formula.py writes the same in Python (for the
-- simulator), and tests/test_formula.py holds the two equal. Temporary: each connection
-- defines them again (ocq_batch.load.store.open_store), none is stored in a DuckDB file.

-- a sample of a 0/1 completion or component series means "done" from this value up
create or replace temp macro is_done(value) as value >= 0.5;

-- seconds from t0 to ts (both timestamptz), as a double
create or replace temp macro seconds_after(ts, t0) as (epoch_us(ts) - epoch_us(t0)) / 1e6;

-- the one-time bonus of an exercise completed completed_s seconds after T0: base points, plus
-- penalty points per tick ahead of the expected end (minus per tick late). 'stepped' counts
-- whole ticks since T0; 'continuous' (any other model) exact seconds
create or replace temp macro onetime_bonus(model, base, penalty, expected_s, completed_s, tick_s) as
    case when model = 'stepped' then base + penalty * (expected_s / tick_s - floor(completed_s / tick_s))
         else base + penalty * (expected_s - completed_s) / tick_s end;

-- the accelerator ramp of that exercise at at_s seconds after T0: rate points per tick since
-- the completion
create or replace temp macro accelerator(model, rate, completed_s, at_s, tick_s) as
    case when model = 'stepped' then rate * (floor(at_s / tick_s) - floor(completed_s / tick_s))
         else rate * (at_s - completed_s) / tick_s end;

-- whether an exercise completed at completed_s earns points at at_s (the stepped model pays
-- from the completion's tick on)
create or replace temp macro is_earning(model, completed_s, at_s, tick_s) as
    case when model = 'stepped' then floor(completed_s / tick_s) <= floor(at_s / tick_s)
         else completed_s <= at_s end;
