"""The fast path for ``query_range`` bodies: samples straight into numpy, no Python object per sample.

A matrix body is ``{"status":"success","data":{"resultType":"matrix","result":[{"metric":{..},
"values":[[<ts>,"<value>"],...]},...]}}``. The sample arrays are most of its bytes, so
:func:`scan_matrix` cuts every ``"values":[...]`` array out of the body and:

- parses what is left (the *skeleton*: status, labels, warnings, with each values array
  replaced by its series number) with orjson, a few objects per series;
- when every sample entry has the same width (integer timestamps of one width, integer
  values of one width: ``[1728047700,"1"]``, the usual kube-state-metrics body), reads the
  arrays as a byte matrix in numpy: every byte is checked against its column (a bracket,
  a comma, a quote or a digit), so the check is as strict as the grammar below, and the
  digits become numbers column by column (:func:`_fixed_width`, about 5x the tier below);
- otherwise checks the cut-out arrays against a strict grammar with one regular
  expression (a common-case pattern first, then the full one), so that only valid JSON
  numbers and the value strings ``float()`` reads the same way are accepted, and reads
  the numbers with Arrow's CSV parser (C++, every core) into float64 arrays.

Anything unexpected (whitespace, other keys, a value such as ``"abc"``, a body that is
not JSON, an error status) returns None: the caller then uses the plain orjson parser,
which keeps every validation rule and error message. The fast path is only ever taken
when it gives exactly the plain parser's result.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv

_VALUES = b'"values":['
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
MAX_TS_S = 1e11  # beyond year 5000: no sample timestamp (the plain parser rejects them)


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
    view = memoryview(body)  # slices of a memoryview are not copies
    parts: list[memoryview | bytes] = []
    arrays: list[tuple[int, int]] = []  # where each values array starts and ends
    find = body.find
    pos = 0
    while (a := find(_VALUES, pos)) >= 0:
        a += len(_VALUES)
        if body[a : a + 1] == b"]":
            end = a
        else:
            # Prometheus writes "values" last, and no sample holds a "}": the array ends just
            # before the first "}" after it, the end of its series object. A single byte is
            # found with memchr, several times faster than any longer needle; any other body
            # fails this check or the ones below.
            close = find(b"}", a)
            if close < 0 or body[close - 3 : close] != b'"]]':
                return None
            end = close - 1
        parts += (view[pos : a - 1], str(len(arrays)).encode())
        arrays.append((a, end))
        pos = end + 1  # past the values array's closing bracket
    parts.append(view[pos:])
    doc = _skeleton(b"".join(parts), len(arrays))
    if doc is None:
        return None
    text = b",".join([view[a:end] for a, end in arrays if end > a])
    fixed = _fixed_width(text) if text else None
    if fixed is not None:
        width, ts_us, values = fixed
        counts = np.array([(end - a + 1) // width if end > a else 0 for a, end in arrays], dtype=np.int64)
        return Scanned(doc["data"]["result"], _warnings(doc), counts, ts_us, values)
    counts = np.array([body.count(b"[", a, end) for a, end in arrays], dtype=np.int64)
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
        if not np.all(np.abs(ts) < MAX_TS_S):
            return None
    ts_us = np.rint(ts * 1_000_000).astype(np.int64)
    return Scanned(doc["data"]["result"], _warnings(doc), counts, ts_us, values)


def _warnings(doc: dict[str, Any]) -> list[str]:
    return [str(w) for w in doc.get("warnings") or []]


_FIXED_MAX_DIGITS = 15  # integers of up to 15 digits are exact in float64
_BLOCK_BYTES = 1 << 19  # the byte matrix is read in blocks of about this size, which stay in cache


def _fixed_width(text: bytes) -> tuple[int, np.ndarray, np.ndarray] | None:
    """``[<ts>,"<value>"],...`` when every entry has the same width, as a byte matrix.

    Accepts exactly the entries ``[`` *t* ``,"`` *v* ``"]`` where *t* is a whole number of
    one width with no leading zero (below 1e11 s, as the other tiers require) and *v* a
    whole number of one width with no leading zero (or ``0``), entries joined by commas.
    Each array the caller joined ends with ``]``, which only the last column holds, so
    every array is a whole number of entries. Returns the entry width with its comma,
    the timestamps in microseconds and the values; None when the text is anything else.

    One block of whole entries at a time, the bytes are checked against the template
    (:func:`_matches`) and, while the block is in cache, its numbers are read
    (:func:`_number`).
    """
    width = text.find(b"]") + 2  # one entry and the comma after it
    ts_digits = text.find(b",") - 1
    value_digits = width - ts_digits - 6  # six fixed bytes: [ , " " ] and the comma
    if (
        width < 2
        or (len(text) + 1) % width
        or not 1 <= ts_digits <= 11
        or not 1 <= value_digits <= _FIXED_MAX_DIGITS
    ):
        return None
    buf = np.frombuffer(text, dtype=np.uint8)
    n = (len(text) + 1) // width
    template, limit = _tiles(ts_digits, value_digits)
    rows = len(template) // width
    ts = np.empty(n, dtype=np.int64)
    values = np.empty(n, dtype=np.float64)
    scratch = _Scratch(min(rows, n), min(len(template), n * width))  # small bodies, small scratch
    first_value = ts_digits + 3
    for first in range(0, n, rows):
        k = min(rows, n - first)
        at = first * width
        if not _matches(buf[at : at + k * width], template, limit, scratch):
            return None
        block_ts = ts[first : first + k]
        _number(buf, at + 1, ts_digits, width, block_ts, scratch)
        block_ts *= 1_000_000  # seconds to microseconds, while in cache
        _number(buf, at + first_value, value_digits, width, values[first : first + k], scratch)
    return width, ts, values


@functools.lru_cache(maxsize=8)
def _tiles(ts_digits: int, value_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """One block of entries as a template and, per byte, how far above its template byte the
    text may be: a digit is ``0`` + 9, a leading digit ``1`` + 8 (no leading zero; a
    one-digit value may be ``0``), a fixed byte + 0."""
    lead_value = b"1" if value_digits > 1 else b"0"
    template = b"[1" + b"0" * (ts_digits - 1) + b',"' + lead_value + b"0" * (value_digits - 1) + b'"],'
    value_limit = [8 if value_digits > 1 else 9] + [9] * (value_digits - 1)
    limit = bytes([0, 8] + [9] * (ts_digits - 1) + [0, 0] + value_limit + [0, 0, 0])
    rows = max(1, _BLOCK_BYTES // len(template))
    return np.frombuffer(template * rows, dtype=np.uint8), np.frombuffer(limit * rows, dtype=np.uint8)


class _Scratch:
    """Work arrays reused from block to block: no allocation inside the loop."""

    def __init__(self, rows: int, n_bytes: int) -> None:
        self.above = np.empty(n_bytes, dtype=np.uint8)
        self.ok = np.empty(n_bytes, dtype=np.bool_)
        self.acc = np.empty(rows, dtype=np.int64)
        self.term = np.empty(rows, dtype=np.int64)


def _matches(part: np.ndarray, template: np.ndarray, limit: np.ndarray, scratch: _Scratch) -> bool:
    """Every byte of ``part`` is its template byte, or at most ``limit`` above it.

    Whole rows are compared at once, so that numpy runs long contiguous loops (a row at
    a time is five times slower). uint8 arithmetic wraps: a byte below its template byte
    becomes large and fails the limit too. The last entry has no comma after it: the
    template's is not compared.
    """
    k = len(part)
    above, ok = scratch.above[:k], scratch.ok[:k]
    np.subtract(part, template[:k], out=above)
    np.less_equal(above, limit[:k], out=ok)
    return bool(ok.all())


def _number(
    buf: np.ndarray, offset: int, digits: int, width: int, out: np.ndarray, scratch: _Scratch
) -> None:
    """Into ``out``, the numbers written with ``digits`` checked digits at ``offset`` of
    each of ``len(out)`` entries of ``width`` bytes.

    The last eight digits are read at once as one little-endian word (:func:`_eight_digits`).
    Each digit before them adds its column times its power of ten, or a constant when the
    whole block shares it, as the leading digits of timestamps do.
    """
    k = len(out)

    def column(dtype: str | type, at: int) -> np.ndarray:
        return np.ndarray((k,), dtype=dtype, buffer=buf, offset=at, strides=(width,))

    if digits == 1:  # a 0/1 value: one column
        np.subtract(column(np.uint8, offset), ord("0"), out=out, dtype=out.dtype)
        return
    acc = out if out.dtype == np.int64 else scratch.acc[:k]
    lead = digits - 8 if digits >= 8 else digits  # the digits before the last eight
    if digits >= 8:
        word = acc.view(np.uint64)
        word[:] = column("<u8", offset + lead)
        _eight_digits(word)
    else:
        acc[:] = 0
    constant, term = 0, scratch.term[:k]
    for j in range(lead):
        digit = column(np.uint8, offset + j)
        scale = 10 ** (digits - 1 - j)
        first = int(digit[0])
        if (digit == first).all():
            constant += (first - ord("0")) * scale
        else:
            np.multiply(digit, scale, out=term, dtype=np.int64)
            acc += term
            constant -= ord("0") * scale
    if constant:
        acc += constant
    if acc is not out:
        out[:] = acc


def _eight_digits(x: np.ndarray) -> np.ndarray:
    """Eight ASCII digits read as little-endian uint64 words (the first digit in the low byte)
    into their values, in place: pairs, then quads, then all eight, each step one mask, one
    multiplication and one shift (the SWAR method; uint64 products wrap as the method needs)."""
    for mask, scale, shift in (
        (0x0F0F0F0F0F0F0F0F, 10 << 8 | 1, 8),
        (0x00FF00FF00FF00FF, 100 << 16 | 1, 16),
        (0x0000FFFF0000FFFF, 10000 << 32 | 1, 32),
    ):
        x &= np.uint64(mask)
        x *= np.uint64(scale)
        x >>= np.uint64(shift)
    return x


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
