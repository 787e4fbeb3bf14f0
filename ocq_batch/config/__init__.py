"""Stage 0, configuration: what one event is and how it is scored.

Owns the :class:`~ocq_batch.config.model.Config` of an event (exercises, queries, scoring
and audit settings, all defaulting to Open Code Quest 2024) and its scoring
:class:`~ocq_batch.config.model.Window`; reading it from a TOML file
(:mod:`~ocq_batch.config.toml`) and back from an archive's manifest
(:mod:`~ocq_batch.config.settings`).
"""
