"""Arrow columns made from numpy arrays and Python strings by their buffers, with no conversion.

pyarrow's converters (``pa.array``, ``pa.table`` of lists, ``to_numpy``, compute functions
given Python scalars) look for pandas the first time they run, and looking imports it:
0.3 to 0.5 s of a command that never holds a DataFrame. The export path therefore builds
its Arrow columns from buffers (``pa.Array.from_buffers``), which converts nothing and
copies nothing but string bytes. The values are the ones ``pa.array`` would give
(``tests/test_columns.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

TIMESTAMP_US = pa.timestamp("us", tz="UTC")
INT64 = pa.int64()
_NUMPY = {
    pa.int32(): np.int32,
    pa.int64(): np.int64,
    pa.float64(): np.float64,
    TIMESTAMP_US: np.int64,
}


def _validity(valid: np.ndarray | None) -> pa.Buffer | None:
    if valid is None or valid.all():
        return None
    return pa.py_buffer(np.packbits(valid.astype(np.bool_), bitorder="little"))


def numbers(values: np.ndarray, type: pa.DataType = INT64, valid: np.ndarray | None = None) -> pa.Array:
    """A fixed-width column (int32, int64, float64, or timestamps in µs since the epoch, UTC)
    over ``values``; rows where ``valid`` is False are null."""
    data = np.ascontiguousarray(values, dtype=_NUMPY[type])
    nulls = 0 if valid is None else int(len(valid) - np.count_nonzero(valid))
    return pa.Array.from_buffers(type, len(data), [_validity(valid), pa.py_buffer(data)], null_count=nulls)


def booleans(values: Sequence[bool]) -> pa.Array:
    """A boolean column of ``values`` (bit-packed, no nulls)."""
    bits = np.packbits(np.array(values, dtype=np.bool_), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def strings(values: Sequence[str | None]) -> pa.Array:
    """A string column of ``values`` (None is null)."""
    encoded = [b"" if v is None else v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    valid = np.array([v is not None for v in values], dtype=np.bool_)
    nulls = int(len(values) - np.count_nonzero(valid))
    buffers = [_validity(valid), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(encoded), buffers, null_count=nulls)


def to_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A fixed-width column without nulls as one numpy array, without ``to_numpy``."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    dtype = np.dtype(_NUMPY[column.type])
    parts = [
        np.frombuffer(c.buffers()[1], dtype=dtype, count=len(c), offset=c.offset * dtype.itemsize)
        for c in chunks
    ]
    if not parts:
        return np.empty(0, dtype)
    return np.concatenate(parts) if len(parts) != 1 else parts[0]
