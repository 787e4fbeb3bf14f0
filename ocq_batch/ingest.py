"""The fast path for ``query_range`` bodies: samples straight into numpy, no Python object per sample.

A matrix body is ``{"status":"success","data":{"resultType":"matrix","result":[{"metric":{..},
"values":[[<ts>,"<value>"],...]},...]}}``. The sample arrays are most of its bytes, so
:func:`scan_matrix` cuts every ``"values":[...]`` array out of the body and:

- parses what is left (the *skeleton*: status, labels, warnings, with each values array
  replaced by its series number) with orjson, a few objects per series;
- checks the cut-out arrays against a strict grammar with one regular expression (a
  common-case pattern first, then the full one), so that only valid JSON numbers and the
  value strings ``float()`` reads the same way are accepted;
- reads the numbers with Arrow's CSV parser (C++, every core) into float64 arrays.

Anything unexpected (whitespace, other keys, a value such as ``"abc"``, a body that is
not JSON, an error status) returns None: the caller then uses the plain orjson parser,
which keeps every validation rule and error message. The fast path is only ever taken
when it gives exactly the plain parser's result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv

_VALUES = re.compile(rb'"values":\[')
# common case: whole or millisecond timestamps, plain decimal values (possessive: no backtracking)
_TS_FAST = rb"[1-9][0-9]*+(?:\.[0-9]++)?+"
_VALUE_FAST = rb"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+"
# full case: any JSON number as the timestamp; values in the subset float() and Arrow agree on
_TS_FULL = rb"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][-+]?+[0-9]++)?+"
_VALUE_FULL = rb"(?:NaN|[-+]?+Inf|[-+]?+(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][-+]?+[0-9]++)?+)"


def _entries(ts: bytes, value: bytes) -> re.Pattern[bytes]:
    entry = rb"\[" + ts + rb',"' + value + rb'"\]'
    return re.compile(entry + rb"(?:," + entry + rb")*+")


_FAST = _entries(_TS_FAST, _VALUE_FAST)
_FULL = _entries(_TS_FULL, _VALUE_FULL)
_CSV_READ = pacsv.ReadOptions(column_names=["ts", "value"], block_size=1 << 22)
_CSV_PARSE = pacsv.ParseOptions(quote_char=False)
_CSV_CONVERT = pacsv.ConvertOptions(
    column_types={"ts": pa.float64(), "value": pa.float64()},
    null_values=[],
    strings_can_be_null=False,
)
_MAX_TS_S = 1e11  # beyond year 5000: leave such bodies to the plain parser


@dataclass
class Scanned:
    """A matrix body read by the fast path.

    ``result`` holds one dict per series with its ``metric`` (the ``values`` replaced by the
    series number); ``counts`` the samples of each series; ``ts_us`` (int64 microseconds) and
    ``values`` (float64) every sample, series after series, in body order.
    """

    result: list[dict[str, Any]]
    warnings: list[str]
    counts: np.ndarray
    ts_us: np.ndarray
    values: np.ndarray


def scan_matrix(body: bytes) -> Scanned | None:
    """Read a successful ``query_range`` matrix body, or None when the plain parser must decide."""
    parts: list[bytes] = []
    arrays: list[bytes] = []
    pos = 0
    for match in _VALUES.finditer(body):
        a = match.end()
        if body[a : a + 1] == b"]":
            end = a
        else:
            close = body.find(b"]]", a)
            if close < 0:
                return None
            end = close + 1
        parts += (body[pos : a - 1], str(len(arrays)).encode())
        arrays.append(body[a:end])
        pos = end + 1  # past the values array's closing bracket
    parts.append(body[pos:])
    doc = _skeleton(b"".join(parts), len(arrays))
    if doc is None:
        return None
    filled = [s for s in arrays if s]
    text = b",".join(filled)
    counts = np.array([s.count(b"[") for s in arrays], dtype=np.int64)
    total = int(counts.sum())
    if not text:
        ts, values = np.empty(0, np.float64), np.empty(0, np.float64)
    else:
        if _FAST.fullmatch(text) is None and _FULL.fullmatch(text) is None:
            return None
        # [1,"0"],[2,"1"]  ->  1,0 \n 2,1 : two float columns
        csv = text.translate(None, b'["').replace(b"],", b"\n")[:-1]
        try:
            table = pacsv.read_csv(
                pa.py_buffer(csv),
                read_options=_CSV_READ,
                parse_options=_CSV_PARSE,
                convert_options=_CSV_CONVERT,
            )
        except pa.ArrowInvalid:
            return None
        if table.num_rows != total:
            return None
        ts, values = _float64(table.column("ts")), _float64(table.column("value"))
        if not np.all(np.abs(ts) < _MAX_TS_S):
            return None
    result = doc["data"]["result"]
    warnings = [str(w) for w in doc.get("warnings") or []]
    return Scanned(result, warnings, counts, np.rint(ts * 1_000_000).astype(np.int64), values)


def _float64(column: pa.ChunkedArray) -> np.ndarray:
    """A float64 column without nulls as one numpy array (``to_numpy`` would import pandas)."""
    parts = [
        np.frombuffer(chunk.buffers()[1], dtype=np.float64, count=len(chunk), offset=chunk.offset * 8)
        for chunk in column.chunks
    ]
    return np.concatenate(parts) if len(parts) != 1 else parts[0]


def _skeleton(text: bytes, n_series: int) -> dict[str, Any] | None:
    """The parsed skeleton when it is a success matrix whose series hold their numbers in order."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or doc.get("status") != "success":
        return None
    data = doc.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        return None
    result = data.get("result")
    if not isinstance(result, list) or len(result) != n_series:
        return None
    for i, item in enumerate(result):
        if not isinstance(item, dict) or not isinstance(item.get("metric"), dict):
            return None
        number = item.get("values")
        if type(number) is not int or number != i:
            return None
    return doc
