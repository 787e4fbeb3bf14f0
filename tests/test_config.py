"""Configuration: defaults, partial files, overrides, digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocq_batch.config.model import DEFAULT
from ocq_batch.config.toml import load_config
from ocq_batch.errors import ConfigError
from ocq_batch.pull.queries import plan_queries
from ocq_batch.timeutil import format_duration, parse_duration, parse_instant


def test_defaults_are_open_code_quest_2024() -> None:
    c = DEFAULT
    assert c.start.timestamp() == 1728047700
    assert [(e.name, e.base, e.expected_s / 60, e.penalty) for e in c.exercises] == [
        ("hero", 55, 55, 1),
        ("villain", 25, 85, 1),
        ("fight", 29, 130, 1),
    ]
    assert (c.env, c.model, c.tick_s, c.accelerator, c.top, c.timezone) == (
        "prod",
        "continuous",
        300,
        1,
        30,
        "Europe/Paris",
    )
    assert c.envs == ("dev", "preprod", "prod")


def test_the_issue_example_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "e.toml"
    path.write_text(
        """
[event]
name = "opencodequest-2024"
start = "2024-10-04T13:15:00Z"
envs = ["dev", "preprod", "prod"]
exclude_users = ["^test"]
[scoring]
env = "prod"
model = "continuous"
tick = "5m"
accelerator = 1.0
top = 30
[[exercises]]
name = "hero"
base = 55
expected = "55m"
penalty = 1
"""
    )
    assert load_config(path).digest() == DEFAULT.digest()


def test_partial_file_merges_exercises_by_name(tmp_path: Path) -> None:
    path = tmp_path / "e.toml"
    path.write_text(
        '[[exercises]]\nname = "villain"\npenalty = 2\n[[exercises]]\nname = "fight"\npenalty = 3\n'
    )
    c = load_config(path)
    assert [e.penalty for e in c.exercises] == [1, 2, 3]
    assert c.digest() != DEFAULT.digest()
    assert c.exercises[1].base == 25


def test_new_exercise_and_custom_queries(tmp_path: Path) -> None:
    path = tmp_path / "e.toml"
    path.write_text(
        '[queries]\ncompletion = "done{{exercise=\\"{exercise}\\",env=\\"{env}\\"}}"\n'
        '[[exercises]]\nname = "quiz"\nbase = 10\nexpected = "1h40m"\ncomponents = ["service"]\n'
    )
    c = load_config(path)
    assert c.exercises[-1].expected_s == 6000
    keys = [s.key for s in plan_queries(c)]
    assert "completion/quiz/prod" in keys and "service/quiz/dev" in keys
    assert "pipeline/quiz/*" not in keys


def test_event_start_moves_the_default_end(tmp_path: Path) -> None:
    path = tmp_path / "e.toml"
    path.write_text("[event]\nstart = 2025-06-01T09:00:00+02:00\n")
    c = load_config(path)
    assert (c.end - c.start).total_seconds() == 150 * 60
    assert c.start.timestamp() == parse_instant("2025-06-01T07:00:00Z").timestamp()


def test_overrides_are_validated() -> None:
    with pytest.raises(ConfigError, match="--env 'qa'"):
        DEFAULT.with_overrides(env="qa")
    with pytest.raises(ConfigError, match="--top 0"):
        DEFAULT.with_overrides(top=0)
    assert DEFAULT.with_overrides(model="stepped", top=None).model == "stepped"


def test_same_query_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "e.toml"
    path.write_text('[queries]\nservice = "up"\n')
    with pytest.raises(ConfigError, match="both render to 'up'"):
        plan_queries(load_config(path))


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400), ("1.5s", 1.5)])
def test_durations_round_trip(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 minutes", "m", "-5m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_instants() -> None:
    assert parse_instant("2024-10-04T15:15:00+02:00").timestamp() == 1728047700
    assert parse_instant("1728047700").timestamp() == 1728047700
    with pytest.raises(ValueError, match="no time zone"):
        parse_instant("2024-10-04T13:15:00")
