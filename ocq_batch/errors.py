"""Every error ocq-batch raises on purpose, in one tree.

Every error the user can cause or fix is an :class:`OcqError`; the command line prints its
message on one line and exits with code 1. Anything else is a bug.

    OcqError
     ├── ConfigError            a config file or option value is wrong
     ├── WindowError            the scoring window is empty, reversed or outside the data
     ├── SourceError            a source cannot be read or answered badly
     │    ├── ReplayError       a recorded replay folder is missing, corrupt or incomplete
     │    ├── TransientError    a server failure worth retrying (caught by the retry loop;
     │    │                     it only escapes as the SourceError that gives up)
     │    └── ChunkTooLargeError  a request would load more samples than the server allows
     │                          (the source splits it in two; it escapes only past 1 s chunks)
     ├── StoreError             the DuckDB store cannot be opened, is corrupt or has another schema
     │    └── ConflictError     two values for one sample, or a store or out folder of another
     │                          event or source than the run's
     ├── LockedError            another ocq-batch is writing the same --out, --store or replay folder
     ├── DiskError              an OS error on a named path: a full disk, no permission, a read-only
     │                          file system, an I/O error (made by ocq_batch.oserror, the one mapping)
     ├── EmptyResultError       the window holds no participant
     └── ArchiveError           the archive cannot be written, published or read
          ├── NotAnArchiveError   the folder has no ocq-batch manifest
          ├── SchemaVersionError  the archive's layout is of another version
          └── TamperedFileError   a file is missing or no longer matches its sha256

Outside the tree, beside Python's KeyboardInterrupt (SIGINT, exit code 130), is
:class:`Terminated` (SIGTERM, exit code 143): both are BaseExceptions, so that no
``except Exception`` stops them on their way to the command line's guard.
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


class TransientError(SourceError):
    """A failure worth retrying (a timeout, a cut body, 429, 5xx); ``problem`` says what
    happened and ``retry_after`` how long the server asked to wait (s), if it did."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after


class ChunkTooLargeError(SourceError):
    """The server refused a request for loading too many samples at once: split its range."""


class StoreError(OcqError):
    """The DuckDB store cannot be opened, or was written by another schema version."""


class ConflictError(StoreError):
    """A fact with two values (a sample stored for the same series and time with another value),
    or a run into a store or out folder that belongs to another event or source."""


class LockedError(OcqError):
    """Another ocq-batch holds the lock of a folder or store this command would write."""


class DiskError(OcqError):
    """An OS error on ``path`` (``errno`` its number, None when the library gave none): a full
    disk, no permission, a read-only file system, an I/O error; the message says what to do."""

    def __init__(self, message: str, path: str | None = None, errno: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


class EmptyResultError(OcqError):
    """The window holds no participant, so there is nothing to rank."""


class ArchiveError(OcqError):
    """The archive could not be written, moved into place, or read back."""


class NotAnArchiveError(ArchiveError):
    """The folder has no ocq-batch manifest.json, or its manifest is not an archive's."""


class SchemaVersionError(ArchiveError):
    """The archive was written with a schema version this ocq-batch cannot read."""


class TamperedFileError(ArchiveError):
    """A file of the archive is missing or its sha256 no longer matches the manifest."""


class Terminated(BaseException):
    """SIGTERM arrived (``kill <pid>``, a service manager stopping the run): unwinds like
    KeyboardInterrupt, removing what was half-written, and exits with code 143."""
