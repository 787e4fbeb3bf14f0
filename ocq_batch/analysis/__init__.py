"""Stage 7, analysis of ocq-batch archives (for Jupyter): open, verify, query, score again.

    ax = open_archives("ocq-out")            # one archive folder, or a list of them
    ax.df("ranking")                         # a table as a pandas DataFrame
    ax.sql("select * from completions")      # DuckDB views over every table of the archive
    ax.funnel(), ax.completion_times(), ...  # the common questions, as DataFrames
    ax.what_if({"stepped": {"model": "stepped"}})  # re-rank through the pipeline's own SQL

With several archives open (several events, or several runs of one event), every
view and every result has an ``event`` column: the manifest's event name, followed
by the folder name when two archives share it. Times are UTC; ``*_min`` columns are
minutes and ``*_s`` columns seconds. Re-scoring never re-implements a formula: it
loads ``samples.parquet`` back into a store of ``sql/load/schema.sql`` and runs
:func:`ocq_batch.detect.steps.run_pipeline` with another :class:`~ocq_batch.config.model.Config`.
"""

from ocq_batch.analysis.rescore import (
    BASELINE,
    Rescored,
    Rescorer,
    cutoff_moves,
    cutoff_summary,
    rank_table,
    rescore,
    scenario,
    what_if,
)
from ocq_batch.analysis.views import Archives, open_archives
from ocq_batch.archive.read import Archive, event_labels, read_archive
from ocq_batch.errors import NotAnArchiveError, SchemaVersionError, TamperedFileError

__all__ = [
    "BASELINE",
    "Archive",
    "Archives",
    "NotAnArchiveError",
    "Rescored",
    "Rescorer",
    "SchemaVersionError",
    "TamperedFileError",
    "cutoff_moves",
    "cutoff_summary",
    "event_labels",
    "open_archives",
    "rank_table",
    "read_archive",
    "rescore",
    "scenario",
    "what_if",
]
