"""Errors raised by ocq-batch.

Every error the user can cause or fix is an :class:`OcqError`; the CLI prints
its message on one line and exits with code 1. Anything else is a bug.

    OcqError
     ├── ConfigError        a config file or option value is wrong
     ├── WindowError        the scoring window is empty, reversed or outside the data
     ├── SourceError        a source cannot be read or answered badly
     │    └── ReplayError   a recorded replay folder is missing, corrupt or incomplete
     ├── StoreError         the DuckDB store cannot be opened or has another schema
     ├── EmptyResultError   the window holds no participant
     └── ArchiveError       the archive cannot be written or published
"""

from __future__ import annotations


class OcqError(Exception):
    """Root of every error the user can act on; the message says what to do."""


class ConfigError(OcqError):
    """A configuration key, option or value is wrong."""


class WindowError(OcqError):
    """The scoring window is reversed, empty, or not covered by the data."""


class SourceError(OcqError):
    """A source of query_range responses failed or answered something unusable."""


class ReplayError(SourceError):
    """A recorded replay folder is missing, corrupt or does not answer a query."""


class StoreError(OcqError):
    """The DuckDB store cannot be opened, or was written by another schema version."""


class EmptyResultError(OcqError):
    """The window holds no participant, so there is nothing to rank."""


class ArchiveError(OcqError):
    """The archive could not be written or moved into place."""
