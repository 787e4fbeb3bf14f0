"""Stage 3, detect, score and rank: the numbered SQL steps of ``sql/detect/``, run in order.

Owns the step runner (:mod:`~ocq_batch.detect.steps`: samples to completions, scores,
ranking and timeline, every table a projection rebuilt on each run) and the score formula
in Python (:mod:`~ocq_batch.detect.formula`, equal to the macros of ``sql/macros.sql``).
"""
