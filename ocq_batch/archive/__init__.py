"""Stage 5, archive: Parquet files and a manifest, written, published and read back.

Owns the archive's layout (:mod:`~ocq_batch.archive.layout`), writing it
(:mod:`~ocq_batch.archive.write`, :mod:`~ocq_batch.archive.samples`; the queries are
``sql/archive/``), publishing it atomically (:mod:`~ocq_batch.archive.publish`, with the
folder exchange of :mod:`~ocq_batch.archive.swap`), and reading it back: one generation,
checked (:mod:`~ocq_batch.archive.read`) and loaded into a working store again
(:mod:`~ocq_batch.archive.reload`).
"""
