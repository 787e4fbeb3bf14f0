"""The rows of ``samples.parquet`` without sorting a string per sample.

``sql/archive/samples.sql`` defines the file: every sample in the window with its
series' columns, ordered by (component, exercise, env, user, cluster, series_id, ts).
Sorting those rows as such makes DuckDB carry about 200 bytes of strings per sample
through the sort (and spill them at 1e8 samples). The series part of the order only
depends on the series, so here DuckDB sorts integers instead: each series' position
in that order, and the timestamp. The strings are then put back in Arrow: a series'
samples are consecutive, so its columns are repeated over the run (run-end decoding),
and each sample's origin is taken from its fetch. Same rows, same order, same types:
``tests/test_archive_samples.py`` checks the files are byte-identical.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ocq_batch.columns import numbers, to_numpy
from ocq_batch.resources import sql_text

# where the columns of samples.parquet come from: the series, the sample, the fetch (origin)
SERIES_COLUMNS = ("metric", "user", "exercise", "env", "cluster", "component", "labels", "query")
SAMPLE_COLUMNS = ("ts", "value")
COLUMNS = (*SERIES_COLUMNS[:6], *SAMPLE_COLUMNS, *SERIES_COLUMNS[6:], "origin")  # the file's order


def samples_reader(
    con: duckdb.DuckDBPyConnection, batch_rows: int, window: tuple[datetime, datetime] | None = None
) -> pa.RecordBatchReader:
    """The rows of ``sql/archive/samples.sql`` as a stream of batches (memory bounded by the batch size).

    ``window`` (from, to) is the one in ``run_params`` unless given: the export starts this
    file before the pipeline writes ``run_params``.
    """
    if window is None:
        window = con.execute("select from_ts, to_ts from run_params").fetchall()[0]
    series = con.sql(sql_text("archive/series_in_order.sql")).to_arrow_table()
    origins = con.sql(sql_text("archive/origins_in_order.sql")).to_arrow_table()
    bounds = {"from_ts": window[0], "to_ts": window[1]}
    reader = con.sql(sql_text("archive/samples_by_position.sql"), params=bounds).to_arrow_reader(batch_rows)
    parts = {name: series.schema.field(name) for name in SERIES_COLUMNS}
    parts.update({name: reader.schema.field(name) for name in SAMPLE_COLUMNS})
    parts["origin"] = origins.schema.field("origin")
    schema = pa.schema([parts[name] for name in COLUMNS])
    columns = {name: series.column(name).combine_chunks() for name in SERIES_COLUMNS}
    origin = origins.column("origin").combine_chunks()
    return pa.RecordBatchReader.from_batches(schema, _batches(reader, schema, columns, origin))


def _batches(
    reader: pa.RecordBatchReader, schema: pa.Schema, series: dict[str, pa.Array], origin: pa.Array
) -> Iterator[pa.RecordBatch]:
    with reader:
        for batch in reader:
            if batch.num_rows == 0:
                continue
            position = to_numpy(batch.column("series_position"))
            starts = np.flatnonzero(position[1:] != position[:-1]) + 1  # where a new series begins
            run_ends = numbers(np.append(starts, len(position)), pa.int32())
            firsts = numbers(position[np.concatenate(([0], starts))])
            out = {
                name: pc.run_end_decode(_runs(run_ends, column.take(firsts), len(position)))
                for name, column in series.items()
            }
            out["ts"], out["value"] = batch.column("ts"), batch.column("value")
            out["origin"] = origin.take(batch.column("fetch_position"))
            yield pa.RecordBatch.from_arrays([out[name] for name in COLUMNS], schema=schema)


def _runs(run_ends: pa.Array, values: pa.Array, length: int) -> pa.Array:
    """The run-end encoded array of ``values`` ending at ``run_ends``, made from its children
    (``RunEndEncodedArray.from_arrays`` would convert them and import pandas)."""
    kind = pa.run_end_encoded(run_ends.type, values.type)
    return pa.Array.from_buffers(kind, length, [None], children=[run_ends, values])
