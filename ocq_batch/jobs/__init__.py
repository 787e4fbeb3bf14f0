"""The jobs the commands run, one library call each: they join the stages together.

Owns the export (:mod:`~ocq_batch.jobs.export`: pull, load, detect, audit, archive) and the
fetch into a replay folder; the audited result behind ``audit`` and ``verify``
(:mod:`~ocq_batch.jobs.audit`); and writing a simulated event (:mod:`~ocq_batch.jobs.simulate`).
"""
