"""Write ``query_range`` bodies exactly as Prometheus formats them (for the simulator and tests)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import orjson

Series = tuple[Mapping[str, str], Sequence[tuple[float, float]]]


def format_value(value: float) -> str:
    """Prometheus' sample value text: ``1``, ``0.5``, ``NaN``, ``+Inf``, ``-Inf``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def format_ts(ts: float) -> float | int:
    """Prometheus' timestamp: an integer on whole seconds, else 3 decimals."""
    return int(ts) if ts == int(ts) else round(ts, 3)


def matrix_body(series: Iterable[Series], warnings: Sequence[str] = ()) -> bytes:
    """A successful ``query_range`` response body holding ``series``."""
    result = [
        {"metric": dict(labels), "values": [[format_ts(t), format_value(v)] for t, v in points]}
        for labels, points in series
    ]
    doc: dict[str, object] = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    if warnings:
        doc["warnings"] = list(warnings)
    return orjson.dumps(doc)
