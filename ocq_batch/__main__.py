"""``python -m ocq_batch`` runs the command line, as the ``ocq-batch`` script does."""

from ocq_batch.console import main

main()
