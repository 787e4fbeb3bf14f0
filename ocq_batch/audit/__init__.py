"""Stage 4, audit: findings, live board vs batch, the verdict, the jury's evidence cards.

Owns the audit run over a scored store (:mod:`~ocq_batch.audit.run`, the SQL of
``sql/audit/``), whether the prize cut-off is decidable (:mod:`~ocq_batch.audit.verdict`),
and the evidence card of each winner (:mod:`~ocq_batch.audit.cards`).
"""
