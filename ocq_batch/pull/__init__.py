"""Stage 1, pull: ``query_range`` answers from a server or a replay folder, checked and parsed.

Owns the query plan (:mod:`~ocq_batch.pull.queries`), the Prometheus HTTP API's rules
(:mod:`~ocq_batch.pull.api`: chunking, what a body means), the HTTP client and its options
(:mod:`~ocq_batch.pull.client`, :mod:`~ocq_batch.pull.http_options`), the server source
that fetches and records (:mod:`~ocq_batch.pull.server`), the replay format
(:mod:`~ocq_batch.pull.replay`) and its source (:mod:`~ocq_batch.pull.source`), and the
parsing of bodies into columns (:mod:`~ocq_batch.pull.scan`, the fast path;
:mod:`~ocq_batch.pull.parse`). It ends where a parsed response is handed to the loader.
"""
