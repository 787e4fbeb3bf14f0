"""``ocq-batch config`` prints TOML a config file can hold, and ``--init`` a commented template;
both read back to the same configuration (digest). A misspelt exercise is refused."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest
from conftest import run_cli

from ocq_batch.config.model import DEFAULT
from ocq_batch.config.toml import _EXERCISE_KEYS, _KEYS, load_config
from ocq_batch.config.write import COMMENTS, template, to_toml
from ocq_batch.errors import ConfigError

ODD = """
[event]
name = "rehearsal \\"two\\" — Lyon"
start = "2025-03-01T09:00:00+01:00"
timezone = "America/Montreal"
envs = ["dev", "prod"]
exclude_users = ["^test", "\\\\badmin\\\\d+$"]
[scoring]
env = "dev"
model = "stepped"
signal = "components"
tick = "90.5s"
accelerator = 0.5
top = 12
[source]
step = "15s"
[audit]
collect_interval = "0s"
fast_factor = 0.25
[[exercises]]
name = "villain"
penalty = 2
[[exercises]]
name = "quiz"
base = 10
expected = "1h40m"
components = ["service"]
"""


@pytest.mark.parametrize("text", ["", ODD])
def test_config_prints_toml_that_reads_back_to_the_same_digest(tmp_path: Path, text: str) -> None:
    source = tmp_path / "in.toml"
    source.write_text(text, encoding="utf-8")
    config = load_config(source)
    proc = run_cli("config", "--config", str(source))
    assert proc.returncode == 0, proc.stderr
    printed = tmp_path / "printed.toml"
    printed.write_text(proc.stdout, encoding="utf-8")
    doc = tomllib.loads(proc.stdout)  # valid TOML
    assert set(doc) == {*_KEYS, "exercises"}  # the keys a file uses, not the internal names
    assert "tick_s" not in proc.stdout and "expected_s" not in proc.stdout
    assert all(isinstance(e["expected"], str) for e in doc["exercises"])
    assert load_config(printed).digest() == config.digest()
    assert config.digest() in proc.stdout


def test_every_key_is_in_the_template_with_a_comment(tmp_path: Path) -> None:
    text = template(DEFAULT)
    doc = tomllib.loads(text)
    for table, keys in _KEYS.items():
        unset = {k for k in keys if f"\n# {k} = " in text}  # an optional key, commented out
        assert set(doc[table]) | unset == keys and not set(doc[table]) & unset, table
        assert all((table, k) in COMMENTS for k in keys)
    assert set(doc["exercises"][0]) == _EXERCISE_KEYS
    assert all(("exercises", k) in COMMENTS for k in _EXERCISE_KEYS)
    assert all(len(line) <= 80 for line in text.splitlines())
    path = tmp_path / "template.toml"
    path.write_text(text, encoding="utf-8")
    assert load_config(path).digest() == DEFAULT.digest()
    assert to_toml(DEFAULT) != text  # the plain output has no comment


def test_config_init_writes_a_file_and_never_replaces_one(tmp_path: Path) -> None:
    target = tmp_path / "event.toml"
    proc = run_cli("config", "--init", str(target))
    assert proc.returncode == 0, proc.stderr
    assert target.read_text(encoding="utf-8") == template(DEFAULT)
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    again = run_cli("config", "--init", str(target))
    assert again.returncode == 1 and "already exists" in again.stderr
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
    stdout = run_cli("config", "--init", "-")
    assert stdout.returncode == 0 and stdout.stdout == template(DEFAULT)


@pytest.mark.parametrize(
    ("name", "meant"), [("heros", "hero"), ("Hero", "hero"), ("villian", "villain"), ("fights", "fight")]
)
def test_a_misspelt_exercise_is_refused_with_what_was_meant(tmp_path: Path, name: str, meant: str) -> None:
    path = tmp_path / "typo.toml"
    # even with base and expected, a near-miss of a known name is taken for a typo
    path.write_text(f'[[exercises]]\nname = "{name}"\nbase = 55\nexpected = "55m"\npenalty = 2\n')
    with pytest.raises(ConfigError, match=f"did you mean '{meant}'"):
        load_config(path)
    proc = run_cli("config", "--config", str(path))
    assert proc.returncode == 1 and f"did you mean '{meant}'?" in proc.stderr


def test_a_really_new_exercise_is_still_added(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    path.write_text('[[exercises]]\nname = "heroine"\nbase = 5\nexpected = "2h"\n')
    assert [e.name for e in load_config(path).exercises] == ["hero", "villain", "fight", "heroine"]
