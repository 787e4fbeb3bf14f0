"""Parsing and formatting of durations and timestamps (all instants are UTC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(text: str) -> float:
    """Return the number of seconds in a duration like ``5m``, ``1h30m`` or ``30s``.

    Raises ValueError with a message naming the value.
    """
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not m or not any(m.groups()):
        raise ValueError(f"{text!r} is not a duration; write it like '30s', '5m' or '1h30m'")
    hours, minutes, seconds = m.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def format_duration(seconds: float) -> str:
    """Format seconds the way :func:`parse_duration` reads them (``5m``, ``1h30m``, ``90.5s``)."""
    if seconds != int(seconds) or seconds < 0:
        return f"{seconds:g}s"
    s = int(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{sec}s" if sec else "")
    return out or "0s"


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 timestamp with an explicit offset (or unix seconds) into UTC.

    A timestamp without offset is refused: on an event evening ``13:15`` could be
    Paris or UTC time, and guessing would shift every completion by hours.
    """
    raw = text.strip() if isinstance(text, str) else ""
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        return datetime.fromtimestamp(float(raw), tz=UTC)
    try:
        value = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 timestamp; write it like '2024-10-04T13:15:00Z'"
        ) from None
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; add 'Z' for UTC or an offset like '+02:00'")
    return value.astimezone(UTC)


def to_epoch(value: datetime) -> float:
    """Unix seconds of an aware datetime."""
    return value.timestamp()


def from_epoch(seconds: float) -> datetime:
    """Aware UTC datetime of unix seconds."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def iso(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, seconds precision unless fractional."""
    v = value.astimezone(UTC)
    text = v.isoformat(timespec="milliseconds" if v.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def zone(name: str) -> ZoneInfo:
    """Return the IANA time zone ``name``; ValueError names it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a known time zone; use an IANA name like 'Europe/Paris'") from None


def local(value: datetime | None, tz: ZoneInfo) -> str:
    """Human display of an instant in the event's time zone (``-`` for none)."""
    if value is None:
        return "-"
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def plus(value: datetime, seconds: float) -> datetime:
    """``value`` shifted by ``seconds``."""
    return value + timedelta(seconds=seconds)
