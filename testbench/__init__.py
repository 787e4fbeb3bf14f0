"""The test and benchmark bench: a real Prometheus on 127.0.0.1 over a backfilled TSDB.

Not part of the shipped package (the wheel holds ``ocq_batch`` only): the tests
(``pytest`` puts the repository on ``sys.path``), ``benchmarks/`` and ``scripts/record-demo``
use it. :mod:`testbench.prometheus` builds TSDBs with ``promtool`` and serves them;
:mod:`testbench.live_rules` writes the live leaderboard's recording rules for a config.
"""
