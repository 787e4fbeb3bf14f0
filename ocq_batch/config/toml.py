"""Reading an event configuration: a TOML file whose every key defaults to Open Code Quest 2024.

A file holds only what differs from the built-in event; see the README for the full list
of keys. Loading validates every key and names the file and key of the first problem found.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ocq_batch.config.model import COMPONENTS, DEFAULT, MODELS, QUERY_KEYS, SIGNALS, Config, Exercise, Window
from ocq_batch.errors import ConfigError
from ocq_batch.timeutil import iso, parse_duration, parse_instant, plus, zone

_KEYS: dict[str, set[str]] = {
    "event": {"name", "start", "end", "timezone", "envs", "exclude_users"},
    "scoring": {"env", "model", "signal", "tick", "accelerator", "top"},
    "source": {"step", "chunk"},
    "audit": {
        "live_bonus",
        "live_ramp",
        "eval_interval",
        "bonus_repeats",
        "live_window",
        "collect_interval",
        "component_lag",
        "fast_factor",
    },
    "queries": set(QUERY_KEYS),
}
_EXERCISE_KEYS = {"name", "base", "expected", "penalty", "components"}
# {exercise} and {env}; a PromQL matcher ({label="value"}) holds an operator, never a bare name
_PLACEHOLDERS = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Reader:
    """Typed access to one table of the TOML file, with errors naming file and key."""

    def __init__(self, path: Path, table: str, data: dict[str, Any]) -> None:
        self.path, self.table, self.data = path, table, data

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: [{self.table}] {key}: {problem}")

    def has(self, key: str) -> bool:
        return key in self.data

    def string(self, key: str) -> str:
        value = self.data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected a non-empty string, got {value!r}")
        return value

    def number(self, key: str, minimum: float | None = None) -> float:
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"expected a number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum:g}, got {value!r}")
        return float(value)

    def integer(self, key: str, minimum: int) -> int:
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"expected a whole number >= {minimum}, got {value!r}")
        return value

    def strings(self, key: str, allow_empty: bool = False) -> tuple[str, ...]:
        value = self.data[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, f"expected a list of strings, got {value!r}")
        if not value and not allow_empty:
            raise self.fail(key, "must not be empty")
        return tuple(value)

    def duration(self, key: str) -> float:
        value = self.data[key]
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None
        return seconds

    def instant(self, key: str) -> datetime:
        value = self.data[key]
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise self.fail(key, f"{value} has no time zone; add 'Z' or an offset")
            return parse_instant(value.isoformat())
        try:
            return parse_instant(value)
        except (ValueError, AttributeError) as exc:
            raise self.fail(key, str(exc)) from None

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.string(key)
        if value not in choices:
            raise self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
        return value


def _check_unknown(path: Path, where: str, data: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {where}{unknown[0]!r}; known keys are {', '.join(sorted(known))}"
        )


def load_config(path: Path | None) -> Config:
    """Read a TOML config over the built-in defaults; ``None`` gives the defaults."""
    if path is None:
        return DEFAULT
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path) -> Config:
    """Validate a parsed TOML document and merge it over the defaults."""
    _check_unknown(path, "", raw, set(_KEYS) | {"exercises"})
    changes: dict[str, Any] = {"origin": str(path)}
    for table in _KEYS:
        if table in raw and not isinstance(raw[table], dict):
            raise ConfigError(f"{path}: [{table}] must be a table")

    ev = _Reader(path, "event", raw.get("event", {}))
    _check_unknown(path, "[event] ", ev.data, _KEYS["event"])
    if ev.has("name"):
        changes["name"] = ev.string("name")
    if ev.has("start"):
        changes["start"] = ev.instant("start")
    if ev.has("end"):
        changes["end"] = ev.instant("end")
    elif "start" in changes:
        changes["end"] = plus(changes["start"], (DEFAULT.end - DEFAULT.start).total_seconds())
    if ev.has("timezone"):
        tz = ev.string("timezone")
        try:
            zone(tz)
        except ValueError as exc:
            raise ev.fail("timezone", str(exc)) from None
        changes["timezone"] = tz
    if ev.has("envs"):
        changes["envs"] = ev.strings("envs")
    if ev.has("exclude_users"):
        patterns = ev.strings("exclude_users", allow_empty=True)
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ev.fail("exclude_users", f"{pattern!r} is not a valid regex ({exc})") from None
        changes["exclude_users"] = patterns

    sc = _Reader(path, "scoring", raw.get("scoring", {}))
    _check_unknown(path, "[scoring] ", sc.data, _KEYS["scoring"])
    envs = changes.get("envs", DEFAULT.envs)
    if sc.has("env"):
        changes["env"] = sc.choice("env", envs)
    elif DEFAULT.env not in envs:
        raise sc.fail("env", f"the default {DEFAULT.env!r} is not in [event] envs; set it")
    if sc.has("model"):
        changes["model"] = sc.choice("model", MODELS)
    if sc.has("signal"):
        changes["signal"] = sc.choice("signal", SIGNALS)
    if sc.has("tick"):
        changes["tick_s"] = sc.duration("tick")
        if changes["tick_s"] <= 0:
            raise sc.fail("tick", "must be longer than 0s")
    if sc.has("accelerator"):
        changes["accelerator"] = sc.number("accelerator", minimum=0)
    if sc.has("top"):
        changes["top"] = sc.integer("top", 1)

    so = _Reader(path, "source", raw.get("source", {}))
    _check_unknown(path, "[source] ", so.data, _KEYS["source"])
    if so.has("step"):
        changes["step_s"] = so.duration("step")
        if changes["step_s"] < 1:
            raise so.fail("step", "must be at least 1s")
    if so.has("chunk"):
        changes["chunk_s"] = so.duration("chunk")
        if changes["chunk_s"] < 1:
            raise so.fail("chunk", "must be at least 1s")

    qu = _Reader(path, "queries", raw.get("queries", {}))
    _check_unknown(path, "[queries] ", qu.data, _KEYS["queries"])
    qchanges = {key: qu.string(key) for key in _KEYS["queries"] if qu.has(key)}
    for key, template in qchanges.items():
        if key.endswith("_label"):
            continue
        if key == "namespace_user":
            try:
                if re.compile(template).groups < 1:
                    raise qu.fail(key, f"{template!r} needs a group, (...), that captures the user")
            except re.error as exc:
                raise qu.fail(key, f"{template!r} is not a valid regex ({exc})") from None
            continue
        for name in _PLACEHOLDERS.findall(template):
            if name not in ("exercise", "env"):
                raise qu.fail(key, f"unknown placeholder {{{name}}}; use {{exercise}} or {{env}}")
    if qchanges:
        changes["queries"] = replace(DEFAULT.queries, **qchanges)

    au = _Reader(path, "audit", raw.get("audit", {}))
    _check_unknown(path, "[audit] ", au.data, _KEYS["audit"])
    achanges: dict[str, Any] = {}
    for key in ("live_bonus", "live_ramp"):
        if au.has(key):
            achanges[key] = au.string(key)
            for name in _PLACEHOLDERS.findall(achanges[key]):
                if name not in ("exercise", "env"):
                    raise au.fail(key, f"unknown placeholder {{{name}}}; use {{exercise}} or {{env}}")
    for key in ("eval_interval", "live_window", "collect_interval", "component_lag"):
        if au.has(key):
            achanges[f"{key}_s"] = au.duration(key)
    if au.has("eval_interval") and achanges["eval_interval_s"] <= 0:
        raise au.fail("eval_interval", "must be longer than 0s")
    if au.has("bonus_repeats"):
        achanges["bonus_repeats"] = au.number("bonus_repeats", minimum=1)
    if au.has("fast_factor"):
        achanges["fast_factor"] = au.number("fast_factor", minimum=0)
    if achanges:
        changes["audit"] = replace(DEFAULT.audit, **achanges)

    changes["exercises"] = _exercises(path, raw.get("exercises"))
    config = replace(DEFAULT, **changes)
    if config.end <= config.start:
        raise ConfigError(f"{path}: [event] end {iso(config.end)} must be after start {iso(config.start)}")
    return config


def _exercises(path: Path, raw: Any) -> tuple[Exercise, ...]:
    """Merge ``[[exercises]]`` into the defaults by name; a new name adds an exercise."""
    if raw is None:
        return DEFAULT.exercises
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        raise ConfigError(f"{path}: exercises must be written as [[exercises]] tables")
    merged = {e.name: e for e in DEFAULT.exercises}
    for i, entry in enumerate(raw, start=1):
        r = _Reader(path, f"exercises #{i}", entry)
        _check_unknown(path, f"[[exercises]] #{i} ", entry, _EXERCISE_KEYS)
        if not r.has("name"):
            raise r.fail("name", "every [[exercises]] entry needs a name")
        name = r.string("name")
        old = merged.get(name)
        if old is None:
            # a near-miss of a known name is a typo, not a new exercise: refused even with base
            # and expected, as a second "heros" beside "hero" would be scored silently
            near = _near_miss(name, list(merged))
            if near is not None:
                raise r.fail(
                    "name",
                    f"{name!r} is not an exercise of this event: did you mean {near!r}? (exercises are "
                    f"merged by name: {', '.join(merged)}; a new exercise needs a name that is not a "
                    "near-miss of one of those)",
                )
        if old is None and not (r.has("base") and r.has("expected")):
            raise r.fail("name", f"new exercise {name!r} needs base and expected")
        components = r.strings("components") if r.has("components") else None
        for comp in components or ():
            if comp not in COMPONENTS:
                raise r.fail("components", f"{comp!r} is not one of {', '.join(COMPONENTS)}")
        merged[name] = Exercise(
            name=name,
            base=r.number("base") if r.has("base") else old.base,  # type: ignore[union-attr]
            expected_s=r.duration("expected") if r.has("expected") else old.expected_s,  # type: ignore[union-attr]
            penalty=r.number("penalty", minimum=0) if r.has("penalty") else (old.penalty if old else 1.0),
            components=components or (old.components if old else COMPONENTS),
        )
    return tuple(merged.values())


NEAR_MISS = 0.8  # difflib's similarity ratio above which a new exercise name is taken for a typo


def _near_miss(name: str, known: list[str]) -> str | None:
    """The known exercise ``name`` is most probably a misspelling of, if any (case ignored)."""
    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=NEAR_MISS)
    return lowered[close[0]] if close else None


def resolve(
    path: Path | None, start: str | None = None, end: str | None = None, **overrides: Any
) -> tuple[Config, Window]:
    """The configuration of a run (``path`` over the defaults, then the command line's
    ``overrides``) and its window (``--from``/``--to``, default the event's start and end)."""
    config = load_config(path).with_overrides(**overrides)
    return config, Window(_instant("--from", start, config.start), _instant("--to", end, config.end))


def _instant(option: str, text: str | None, default: datetime) -> datetime:
    if text is None:
        return default
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None
