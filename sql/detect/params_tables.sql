-- grain: exercise_params: exercise
-- grain: exercise_components: exercise, component
-- grain: env_params: env
-- The configured exercises (in order), the components each needs, and the environments (in
-- order); ocq_batch/detect/steps.py write_params fills them with bound values.
create or replace table exercise_params (
    exercise varchar, ordinal bigint, base double, expected_s double, penalty double
);
create or replace table exercise_components (exercise varchar, component varchar);
create or replace table env_params (env varchar, ordinal bigint);
