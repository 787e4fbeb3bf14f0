"""The ``ocq-batch`` command line: one module per command, each parsing its options, calling
one library function of :mod:`ocq_batch.jobs` and rendering the result.

Exit codes: 0 success; 1 bad input or data (one line on stderr saying what to change);
2 a usage error (one line too); 3 from ``audit`` and ``verify`` when the prize cut-off is
not decided or an error finding touches it; 130 interrupted (SIGINT, Ctrl-C); 143 stopped
(SIGTERM). Either way nothing half-written is left.
"""

from ocq_batch.cli.main import app, run

__all__ = ["app", "run"]
