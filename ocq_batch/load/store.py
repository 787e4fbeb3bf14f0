"""The DuckDB store: raw samples with provenance, insert-only and idempotent.

``open_store`` opens (or creates) the file with the schema of ``sql/load/schema.sql``, checks
its version and defines the SQL macros (``sql/macros.sql``) on the connection;
:class:`~ocq_batch.load.loader.Loader` appends responses to it. Label values and query
strings only ever reach DuckDB as loaded data or bound parameters.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ocq_batch.errors import ConflictError, OcqError, StoreError
from ocq_batch.oserror import disk_error
from ocq_batch.resources import sql_text

SCHEMA_VERSION = 3  # 2: the change log; 3: samples at the times the TSDB stores them (raw)
# DuckDB's own default is 80 % of RAM; a bound keeps a 1e8-sample run under 4 GiB (it spills
# sorts and joins to disk beyond it). OCQ_DUCKDB_MEMORY=8GB raises it on a bigger machine.
MEMORY_LIMIT = "2GB"
_MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?\s*[KMGT]i?B$")


def utc_session(con: duckdb.DuckDBPyConnection) -> None:
    """The store's session setting: timestamps read and written in UTC. DuckDB keeps it per
    connection, so every cursor of the store needs it too."""
    con.execute("set TimeZone = 'UTC'")


def define_macros(con: duckdb.DuckDBPyConnection) -> None:
    """The completion threshold and the score formula (``sql/macros.sql``), as temporary
    macros of this connection: every step calls them."""
    con.execute(sql_text("macros.sql"))


def open_store(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (or create) the store at ``path``, check its schema version, define the macros."""
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise _open_error(path, exc) from None
    utc_session(con)
    define_macros(con)
    limit = os.environ.get("OCQ_DUCKDB_MEMORY", MEMORY_LIMIT)
    if not _MEMORY.match(limit):
        raise StoreError(f"OCQ_DUCKDB_MEMORY={limit!r} is not a size such as 2GB or 512MB; fix or unset it")
    con.execute(f"set memory_limit = '{limit}'")  # checked above: digits and a unit only
    if read_only:
        _check_version(con, path)
        return con
    has_meta = con.execute(
        "select count(*) from information_schema.tables where table_name = 'meta'"
    ).fetchall()  # fetched to the end: DuckDB refuses new work on a connection with a pending result
    existed = bool(has_meta and has_meta[0][0])
    if existed:
        _check_version(con, path)
    con.execute(sql_text("load/schema.sql"))  # idempotent: adds what a store of this version lacks
    if not existed:
        con.execute("insert into meta values ('schema_version', ?)", [str(SCHEMA_VERSION)])
    return con


def claim(con: duckdb.DuckDBPyConnection, path: Path, event: str, source: str, where: str) -> None:
    """Make sure the store at ``path`` belongs to ``event`` and ``source`` (its meta keys
    ``event`` and ``source``), recording them in a store that holds no response yet.

    ConflictError, in one line, when it holds another event's or source's responses, or
    responses loaded before ocq-batch recorded whom a store belongs to: ``where`` is the option
    to change (``--out``, or ``--store``), and ``--fresh`` sets the old store aside.
    """
    found = dict(con.execute("select key, value from meta where key in ('event', 'source')").fetchall())
    if found.get("event") == event and found.get("source") == source:
        return
    if count_rows(con, "fetches"):
        if "event" not in found or "source" not in found:
            what = "responses loaded by an older ocq-batch, which did not record their event and source"
        elif found["event"] == event:
            what = f"the data of {found['source']}, not of {source} (event {event})"
        else:
            what = f"event {found['event']} from {found['source']}, not event {event} from {source}"
        raise ConflictError(
            f"store {path} holds {what}; use another {where}, or --fresh to set the old store aside "
            "and start a new one"
        )
    with transaction(con):
        con.execute("delete from meta where key in ('event', 'source')")
        con.execute("insert into meta values ('event', ?), ('source', ?)", [event, source])


def _open_error(path: Path, exc: duckdb.Error) -> OcqError:
    """Why ``path`` cannot be opened, in one line: another program holds it (ocq-batch itself
    never does: its own lock comes first), an OS error on it, a damaged file, or not a store."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "Could not set lock" in first:
        holder = first.partition("Conflicting lock is held in ")[2].split(". See")[0]
        return StoreError(
            f"store {path} is open in another program{f' ({holder})' if holder else ''}; "
            "close it there (a notebook, the duckdb shell) or pass another --store"
        )
    mapped = disk_error(exc, path, store=path)
    if mapped is not None:
        return mapped
    return StoreError(f"{path} is not a DuckDB store ({first}); pass another --out or --store")


def _version(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute("select value from meta where key = 'schema_version'").fetchall()
    return str(rows[0][0]) if rows else None


def _check_version(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    found = _version(con)
    if found in ("1", "2"):
        raise StoreError(
            f"store {path} was written by an older ocq-batch (schema {found}) and holds query_range grid "
            "values, not the samples the TSDB stores; pass a new --out to load the event again"
        )
    if found != str(SCHEMA_VERSION):
        raise StoreError(
            f"store {path} has schema version {found or 'none'}, this ocq-batch writes {SCHEMA_VERSION}; "
            "pass a new --out (the old store stays readable by the version that wrote it)"
        )


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Everything inside commits together, or is rolled back (also on Ctrl-C)."""
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def count_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    rows = con.execute(f"select count(*) from {table}").fetchall()  # table is one of ours
    return int(rows[0][0]) if rows else 0
