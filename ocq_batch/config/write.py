"""A configuration written back as TOML, with the keys a config file uses.

:func:`to_toml` is what ``ocq-batch config`` prints: every setting of a resolved
:class:`~ocq_batch.config.model.Config`, durations written like ``5m``, one
``[[exercises]]`` table per exercise. Read back by :func:`ocq_batch.config.toml.load_config`
it gives the same configuration (the same digest). :func:`template` is the same with a
comment on every key (``ocq-batch config --init``). No TOML library is needed: the values
are strings, numbers, lists of strings and timestamps, written here.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from ocq_batch.config.model import COMPONENTS, MODELS, QUERY_KEYS, SIGNALS, Config
from ocq_batch.timeutil import format_duration, iso

# (table, key, what the comment says); the order of the file
COMMENTS: dict[tuple[str, str], str] = {
    ("event", "name"): "the event's name, in the archive and the reports",
    ("event", "start"): "T0, ISO 8601 with an offset: the scoring formula counts from here",
    ("event", "end"): "the default --to, when scores are taken (default: start + 2h30m)",
    ("event", "timezone"): "IANA zone of every time shown to people (archives store UTC)",
    ("event", "envs"): "the environments of the event (namespaces <user>-workshop-<env>)",
    ("event", "exclude_users"): "Python regexes (re.search) of accounts never ranked, e.g. test users",
    ("scoring", "env"): "the environment whose completions score: one of [event] envs",
    ("scoring", "model"): f"{' or '.join(MODELS)}: exact seconds, or whole 5-minute ticks",
    ("scoring", "signal"): f"{' or '.join(SIGNALS)}: the hub's completion series, or the AND of "
    "the component series",
    ("scoring", "tick"): "U: one bonus point per tick early, one accelerator point per tick",
    ("scoring", "accelerator"): "A: points per tick per completed exercise",
    ("scoring", "top"): "how many win a prize",
    ("source", "chunk"): "the longest range of one request for stored samples",
    ("source", "step"): "the grid of expression queries (the live board's ramp); unset: eval_interval",
    ("queries", "completion"): "PromQL templates: {exercise} and {env} are filled in",
    ("queries", "service"): "the Quarkus service component",
    ("queries", "database"): "the database component (always 1 in prod)",
    ("queries", "pipeline"): "the Tekton pipeline component: no {env}, counts for every env",
    ("queries", "participants"): "one series per active participant",
    ("queries", "user_label"): "the label naming the participant",
    ("queries", "cluster_label"): "the label naming the cluster",
    ("queries", "raw_service"): "the raw kube-state-metrics behind the service (audited when present)",
    ("queries", "raw_database"): "the raw kube-state-metrics behind the database",
    ("queries", "raw_pipeline"): "the raw kube-state-metrics behind the pipeline",
    ("queries", "namespace_label"): "the label of a raw series' namespace",
    ("queries", "namespace_user"): "a regex over that namespace whose first group is the user",
    ("audit", "live_bonus"): "the live board's lifetime bonus, per exercise",
    ("audit", "live_ramp"): "the live board's ramp, per exercise",
    ("audit", "eval_interval"): "the ruler's evaluation interval (the completion series' interval)",
    ("audit", "bonus_repeats"): "evaluations in which the live one-time bonus fires",
    ("audit", "live_window"): "the live board's sum_over_time window",
    ("audit", "collect_interval"): "how often component values reached the hub: the data's resolution",
    ("audit", "component_lag"): "how much older than its sample a component's value can be",
    ("audit", "fast_factor"): "faster than this fraction of the field's median time is suspicious",
    ("exercises", "name"): "[[exercises]] merge by name; a new name (not a near-miss of one) adds one",
    ("exercises", "base"): "B_e, the base points",
    ("exercises", "expected"): "E_e, the expected end after start",
    ("exercises", "penalty"): "z_e, points per tick early or late",
    ("exercises", "components"): f"what completion needs, among {', '.join(COMPONENTS)}",
}


def _value(v: Any) -> str:
    """One TOML value: a basic string (JSON's escapes are TOML's), a number, a list."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)


def _tables(config: Config) -> list[tuple[str, list[tuple[str, Any]]]]:
    a, q = config.audit, config.queries
    tables: list[tuple[str, list[tuple[str, Any]]]] = [
        (
            "event",
            [
                ("name", config.name),
                ("start", iso(config.start)),
                ("end", iso(config.end)),
                ("timezone", config.timezone),
                ("envs", list(config.envs)),
                ("exclude_users", list(config.exclude_users)),
            ],
        ),
        (
            "scoring",
            [
                ("env", config.env),
                ("model", config.model),
                ("signal", config.signal),
                ("tick", format_duration(config.tick_s)),
                ("accelerator", config.accelerator),
                ("top", config.top),
            ],
        ),
        (
            "source",
            [
                ("chunk", format_duration(config.chunk_s)),
                ("step", None if config.step_s is None else format_duration(config.step_s)),
            ],
        ),
        (
            "queries",
            [(key, getattr(q, key)) for key in QUERY_KEYS],
        ),
        (
            "audit",
            [
                ("live_bonus", a.live_bonus),
                ("live_ramp", a.live_ramp),
                ("eval_interval", format_duration(a.eval_interval_s)),
                ("bonus_repeats", a.bonus_repeats),
                ("live_window", format_duration(a.live_window_s)),
                ("collect_interval", format_duration(a.collect_interval_s)),
                ("component_lag", format_duration(a.component_lag_s)),
                ("fast_factor", a.fast_factor),
            ],
        ),
    ]
    for e in config.exercises:
        tables.append(
            (
                "[exercises]",
                [
                    ("name", e.name),
                    ("base", e.base),
                    ("expected", format_duration(e.expected_s)),
                    ("penalty", e.penalty),
                    ("components", list(e.components)),
                ],
            )
        )
    return tables


WIDTH = 78  # a commented line fits 80 columns; a long value stays whole on its own line
ALIGN = 34  # where a comment beside its key starts

# what an optional key left unset means, written in the template as a commented-out line
UNSET = {("source", "step"): lambda config: format_duration(config.audit.eval_interval_s)}


def _long_string(value: str) -> str:
    """A string too long for one line as a TOML multi-line basic string, cut after commas:
    a backslash ending a line joins it to the next one's first non-blank character, so the
    value is the same. Cut only where no blank follows (the join would drop it)."""
    body = json.dumps(value, ensure_ascii=False)[1:-1]
    lines, start, last_cut = [], 0, None
    for i, ch in enumerate(body):
        if ch == "," and i + 1 < len(body) and not body[i + 1].isspace():
            if i + 1 - start > WIDTH - 6 and last_cut is not None and last_cut > start:
                lines.append(body[start:last_cut])
                start = last_cut
            last_cut = i + 1
    if len(body) - start > WIDTH - 6 and last_cut is not None and last_cut > start:
        lines.append(body[start:last_cut])
        start = last_cut
    lines.append(body[start:])
    cont = "\\\n"  # a backslash, then the end of the line
    return '"""' + cont + "".join(f"    {part}{cont}" for part in lines[:-1]) + f'    {lines[-1]}"""'


def to_toml(config: Config, comments: bool = False) -> str:
    """``config`` as a TOML file with every key; ``comments``: one comment per key (beside it
    when both fit in :data:`WIDTH` columns, else above it, wrapped)."""
    out = []
    seen_exercise = False
    for table, items in _tables(config):
        name = table.strip("[]")
        out.append(f"\n[{table}]")
        for key, value in items:
            line = f"{key} = {_value(value)}"
            if isinstance(value, str) and len(line) > WIDTH:
                line = f"{key} = {_long_string(value)}"
            if value is None:  # an optional key left unset: shown, commented out, with its default
                line = f"# {key} = {_value(UNSET[(name, key)](config))}"
                if not comments:
                    continue
            note = COMMENTS.get((name, key))
            if comments and note and not (name == "exercises" and seen_exercise):
                beside = f"{line:<{ALIGN}} # {note}"
                if len(line) < ALIGN and len(beside) <= WIDTH:
                    line = beside
                else:
                    above = textwrap.wrap(note, WIDTH - 2, break_on_hyphens=False, break_long_words=False)
                    line = "\n".join(f"# {part}" for part in above) + "\n" + line
            out.append(line)
        seen_exercise = seen_exercise or name == "exercises"
    return "\n".join(out).lstrip("\n") + "\n"


def template(config: Config) -> str:
    """A commented template of every key, with the values of ``config``."""
    head = (
        "# ocq-batch event configuration. Every key is optional and defaults to\n"
        "# Open Code Quest 2024: keep only what differs. Durations are written like\n"
        "# 30s, 5m or 1h30m; timestamps need an offset (Z or +02:00).\n"
        "# Check the result with: ocq-batch config --config FILE\n\n"
    )
    return head + to_toml(config, comments=True)
