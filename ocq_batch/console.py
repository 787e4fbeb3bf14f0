"""The ``ocq-batch`` console script: SIGINT and SIGTERM are handled before anything else.

Importing the command line (typer, rich) takes about a fifth of a second; a Ctrl-C or a
``kill`` in it would otherwise end the process with a traceback, or with no word at all.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Install the signal handlers, then import and run the command line."""
    from ocq_batch import signals
    from ocq_batch.errors import Terminated

    signals.install()
    try:
        from ocq_batch.cli import run
    except (KeyboardInterrupt, Terminated) as exc:
        signals.announce(lambda line: print(line, file=sys.stderr))
        sys.exit(signals.exit_code(exc) or 130)
    run()
