"""The completion threshold and the score formula of SCORING.md, in Python.

The SQL steps call the macros of ``sql/macros.sql``; Python code that needs the same
arithmetic (the simulator placing its near-tie, the change log reading states) calls
these functions. ``tests/test_formula.py`` holds both equal on many inputs. Times are
seconds after T0, ``tick_s`` the tick ``U``.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np

# a sample of a 0/1 completion or component series means "done" from this value up
DONE_AT = 0.5

V = TypeVar("V", float, np.ndarray)


def is_done(value: V) -> V:
    """``value >= 0.5``: a completion (or component) sample that says done; works on arrays."""
    return value >= DONE_AT


def onetime_bonus(model: str, base: float, penalty: float, expected_s: float, completed_s: float,
                  tick_s: float) -> float:  # fmt: skip
    """The one-time bonus of an exercise completed ``completed_s`` after T0."""
    if model == "stepped":
        return base + penalty * (expected_s / tick_s - math.floor(completed_s / tick_s))
    return base + penalty * (expected_s - completed_s) / tick_s


def accelerator(model: str, rate: float, completed_s: float, at_s: float, tick_s: float) -> float:
    """The accelerator ramp of that exercise at ``at_s`` after T0."""
    if model == "stepped":
        return rate * (math.floor(at_s / tick_s) - math.floor(completed_s / tick_s))
    return rate * (at_s - completed_s) / tick_s


def is_earning(model: str, completed_s: float, at_s: float, tick_s: float) -> bool:
    """Whether an exercise completed at ``completed_s`` earns points at ``at_s``."""
    if model == "stepped":
        return math.floor(completed_s / tick_s) <= math.floor(at_s / tick_s)
    return completed_s <= at_s


def points(model: str, base: float, penalty: float, expected_s: float, rate: float, completed_s: float,
           at_s: float, tick_s: float) -> float:  # fmt: skip
    """The points of one exercise at ``at_s``: its bonus and ramp once it earns, else 0."""
    if not is_earning(model, completed_s, at_s, tick_s):
        return 0.0
    bonus = onetime_bonus(model, base, penalty, expected_s, completed_s, tick_s)
    return bonus + accelerator(model, rate, completed_s, at_s, tick_s)
