"""``python -m ocq_batch`` runs the command line."""

from ocq_batch.cli import run

run()
