"""Write Prometheus API bodies exactly as Prometheus formats them (for the simulator and tests)."""

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


def format_ts(ts: float) -> str:
    """Prometheus' timestamp: an integer on whole seconds, else exactly 3 decimals (ms)."""
    return str(int(ts)) if ts == int(ts) else f"{ts:.3f}"


def entry(ts: float, value: float) -> bytes:
    """One ``[<ts>,"<value>"]`` pair of a ``values`` array."""
    return f'[{format_ts(ts)},"{format_value(value)}"]'.encode()


def series_json(labels: Mapping[str, str], entries: bytes) -> bytes:
    """One series of a matrix body, ``entries`` being its joined ``[<ts>,"<value>"]`` pairs."""
    return b'{"metric":' + orjson.dumps(dict(labels)) + b',"values":[' + entries + b"]}"


def matrix_body(series: Iterable[Series], warnings: Sequence[str] = ()) -> bytes:
    """A successful body with a matrix of ``series`` (what ``query_range``, and an instant query
    of a range selector, answer)."""
    parts = [series_json(labels, b",".join(entry(t, v) for t, v in points)) for labels, points in series]
    doc = b'{"status":"success","data":{"resultType":"matrix","result":[' + b",".join(parts) + b"]}"
    if warnings:
        doc += b',"warnings":' + orjson.dumps(list(warnings))
    return doc + b"}"
