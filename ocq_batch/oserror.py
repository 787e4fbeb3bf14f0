"""One line for every OS error: the path, what went wrong, what to do. The one mapping.

An OS error reaches ocq-batch three ways: from Python (``errno`` and ``filename`` set), from
pyarrow (``errno`` set, the path in its text when at all) and from DuckDB (neither: its
text reads ``Could not write file "<path>": No space left on device``). :func:`disk_error`
reads all three and gives a :class:`~ocq_batch.errors.DiskError` naming the path, or a
:class:`~ocq_batch.errors.StoreError` for a damaged DuckDB file. The command line's guard
calls it for whatever escapes; :func:`naming` wraps work whose errors may not carry their
path (pyarrow's writers, DuckDB's checksums) with the path they are about.

Only the standard library is imported: the guard runs before any data library is loaded.
"""

from __future__ import annotations

import errno as errnos
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ocq_batch.errors import DiskError, OcqError, StoreError

AGAIN = "then run the command again"
ELSEWHERE = "or pass a folder on another disk (--out, --store)"

# errno -> (what happened, what to do); anything else gets its strerror and "check the path"
ADVICE: dict[int, tuple[str, str]] = {
    errnos.ENOSPC: ("no space left on the device", f"free some space there {ELSEWHERE}"),
    errnos.EDQUOT: ("disk quota exceeded", f"free some space there {ELSEWHERE}"),
    errnos.EFBIG: (
        "file too large (a file-size limit, see ulimit -f, or the file system's own)",
        f"raise the limit {ELSEWHERE}",
    ),
    errnos.EACCES: ("permission denied", f"make it writable for this user {ELSEWHERE}"),
    errnos.EPERM: (
        "operation not permitted (an immutable or append-only file? see lsattr)",
        f"lift it (chattr -i) {ELSEWHERE}",
    ),
    errnos.EROFS: ("read-only file system", f"remount it read-write {ELSEWHERE}"),
    errnos.EIO: (
        "input/output error",
        f"the disk may be failing: check it (dmesg), save what you need {ELSEWHERE}",
    ),
    errnos.ENOENT: ("no such file or folder", "check the path (was it removed while the command ran?)"),
    errnos.ENOTDIR: ("a part of the path is not a folder", "check the path"),
}
# DuckDB keeps only the C library's text of an errno: found by that text
_BY_TEXT = {os.strerror(n): n for n in ADVICE}
_QUOTED = re.compile(r"""["']((?:/|\./|\.\./|[A-Za-z]:\\)[^"']*)["']""")
_ERRNO_IN_TEXT = re.compile(r"\[errno (\d+)\]")
# DuckDB's words for a store whose bytes are damaged (not an OS error, but the file's)
_DAMAGED = (
    "Corrupt database file",
    "not a valid DuckDB database file",
    "Could not read enough bytes",
    "database has been invalidated",
)


def _is_duckdb(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in ("duckdb", "_duckdb")


def message(path: str | os.PathLike[str] | None, number: int | None, detail: str = "") -> str:
    """The line for OS error ``number`` on ``path``: the path, what happened, what to do."""
    what, todo = ADVICE.get(number or -1, (detail or "an OS error", "check the path and the disk"))
    where = f"{os.fspath(path)}: " if path is not None else ""
    return f"{where}{what}; {todo}, {AGAIN}"


def disk_error(
    exc: BaseException, path: str | os.PathLike[str] | None = None, store: Path | None = None
) -> OcqError | None:
    """``exc`` as one clear error when it is an OS error (Python's, pyarrow's or DuckDB's), or
    a DuckDB file that is damaged; None for anything else.

    ``path`` is named when the error does not name its own; ``store`` is the DuckDB file a
    DuckDB error without a path is about.
    """
    if isinstance(exc, OcqError):
        return exc
    text = str(exc)
    if _is_duckdb(exc):
        number = next((n for phrase, n in _BY_TEXT.items() if phrase in text), None)
        quoted = _QUOTED.search(text)
        named = quoted.group(1) if quoted else (None if store is None else os.fspath(store))
        if number is not None:
            return DiskError(message(named, number), named, number)
        if any(phrase in text for phrase in _DAMAGED):
            first = text.splitlines()[0] if text else type(exc).__name__
            which = f"store {named}" if named else "the DuckDB store"
            return StoreError(
                f"{which} is damaged ({first}); move it aside and run the command again, "
                "which rebuilds it from the source"
            )
        return None
    if not isinstance(exc, OSError):
        return None
    number = exc.errno
    if number is None:
        found = _ERRNO_IN_TEXT.search(text)
        number = int(found.group(1)) if found else None
    given: str | os.PathLike[str] | None = exc.filename
    if given is None:
        quoted = _QUOTED.search(text)
        given = quoted.group(1) if quoted else path
    detail = exc.strerror or text or type(exc).__name__
    where = None if given is None else os.fsdecode(given)
    return DiskError(message(where, number, detail), where, number)


@contextmanager
def naming(path: str | os.PathLike[str], store: Path | None = None) -> Iterator[None]:
    """Turn an OS error inside into a :class:`DiskError` that names ``path`` when it names
    nothing itself (DuckDB's errors name ``store`` when given)."""
    try:
        yield
    except Exception as exc:
        mapped = disk_error(exc, path, store)
        if mapped is None or mapped is exc:
            raise
        raise mapped from None
