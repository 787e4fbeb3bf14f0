"""The one time axis of every chart, in the report and in the notebooks.

Charts place instants at minutes after the event start T0 (the unit of the expected ends)
and label them with the clock time in the event's time zone, every half hour after T0, so the
report's SVG and the notebooks' matplotlib figures show the same ticks and the same labels.
Rank charts put rank 1 at the top left (batch rank across, increasing to the right; live
rank down, increasing downwards).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from ocq_batch.timeutil import zone

EVERY_MIN = 30  # minutes between two labelled ticks
BATCH_RANK = "batch rank (official)"
LIVE_RANK = "live board rank"


def ticks(lo_min: float, hi_min: float, every: float = EVERY_MIN) -> list[float]:
    """Minutes after T0 of the ticks inside ``[lo_min, hi_min]``: the multiples of ``every``."""
    first = math.ceil(lo_min / every) * every
    return [first + every * k for k in range(int((hi_min - first) // every) + 1)] if hi_min >= first else []


def label(t0: datetime, minutes: float, timezone: str) -> str:
    """The clock time (``HH:MM``, the event's zone) of ``minutes`` after ``t0``."""
    return (t0 + timedelta(minutes=minutes)).astimezone(zone(timezone)).strftime("%H:%M")


def title(timezone: str) -> str:
    """The time axis' label."""
    return f"time ({timezone})"


def expected_label(exercise: str) -> str:
    return f"{exercise} expected"
