"""Arrow columns built from buffers (ocq_batch.columns) equal what pyarrow's converters give."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ocq_batch.columns import TIMESTAMP_US, numbers, strings, to_numpy


def test_numbers_equal_pa_array() -> None:
    ints = np.array([3, -1, 0, 2**40], dtype=np.int64)
    assert numbers(ints).equals(pa.array(ints, pa.int64()))
    assert numbers(ints, pa.int32()).equals(pa.array(ints.astype(np.int32), pa.int32()))
    floats = np.array([1.5, np.nan, -np.inf, 0.0])
    built, want = numbers(floats, pa.float64()), pa.array(floats, pa.float64())
    assert built.type == want.type and built.null_count == want.null_count == 0
    assert np.array_equal(to_numpy(built), floats, equal_nan=True)  # NaN stays a value, as in pa.array
    assert numbers(ints, TIMESTAMP_US).equals(pa.array(ints, pa.int64()).cast(TIMESTAMP_US))


def test_numbers_with_nulls() -> None:
    values = np.arange(11, dtype=np.int64)
    valid = values % 3 != 0
    built = numbers(values, valid=valid)
    assert built.null_count == 4
    assert built.equals(pa.array(values, pa.int64(), mask=~valid))
    assert numbers(values, valid=np.ones(11, bool)).null_count == 0


def test_strings_equal_pa_array() -> None:
    values = ["user01", None, "", "é ünïcode", "table6"]
    assert strings(values).equals(pa.array(values, pa.string()))
    assert strings([]).equals(pa.array([], pa.string()))


def test_to_numpy_reads_chunks_and_slices() -> None:
    column = pa.chunked_array([pa.array([1, 2, 3], pa.int64()), pa.array([4, 5], pa.int64())])
    assert to_numpy(column).tolist() == [1, 2, 3, 4, 5]
    assert to_numpy(column.slice(2, 2)).tolist() == [3, 4]
    assert to_numpy(pa.array([7, 8, 9], pa.int64()).slice(1)).tolist() == [8, 9]
