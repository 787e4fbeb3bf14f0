"""Stage 2, load: the DuckDB store, where raw samples are the only stored facts.

Owns the store's schema and opening (:mod:`~ocq_batch.load.store`), the loader that appends
parsed responses without ever storing a sample twice (:mod:`~ocq_batch.load.loader`), and
the change log derived from the samples as they arrive (:mod:`~ocq_batch.load.changelog`).
The SQL is ``sql/load/``.
"""
