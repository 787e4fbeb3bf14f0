"""The simulator: a deterministic synthetic event, and its writers.

Owns drawing an event's truth and observing it as the hub did
(:mod:`~ocq_batch.sim.event`), and writing it as a replay folder
(:mod:`~ocq_batch.sim.replay`), as OpenMetrics for promtool
(:mod:`~ocq_batch.sim.openmetrics`), and as ``query_range`` bodies byte for byte as
Prometheus formats them (:mod:`~ocq_batch.sim.promjson`).
"""
