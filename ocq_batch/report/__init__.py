"""Stage 6, report: what people read, in a terminal and in the archive.

Owns the terminal's consoles, tables and progress bars (:mod:`~ocq_batch.report.terminal`),
and the jury's report: its content (:mod:`~ocq_batch.report.content`), as Markdown
(:mod:`~ocq_batch.report.markdown`) and as one self-contained HTML page
(:mod:`~ocq_batch.report.html`, charts by :mod:`~ocq_batch.report.svg`).
"""
