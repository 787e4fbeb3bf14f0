"""glibc's malloc, told to keep freed megabyte blocks for reuse (a command-line process only).

A ``query_range`` body is megabytes, and the fetch makes several blocks of its size: httpx
joins the body into one bytes object, the scanner joins its sample arrays into another,
and the samples become numpy arrays. glibc serves such blocks with ``mmap`` (or from the
top of the heap) and gives them back to the kernel as soon as they are freed, so the next
body's blocks are fresh pages: one page fault and one zeroed page per 4 kB. At 10^7
samples that was 40 to 100 thousand faults and 0.16 to 0.35 s of system CPU in a fetch,
taken from the two cores the server needs (see ``benchmarks/notes.md``).

:func:`keep_freed_memory` raises both thresholds, so blocks under 32 MB come from the heap
and up to 256 MB of freed heap is kept for the next blocks. The process' peak memory is
what it was; only freed memory waits longer before it goes back to the kernel. It is
called by the console entry point, never on import: a notebook's process keeps its own
settings, and so does a user who set glibc's malloc tunables in the environment.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
TRIM_BYTES = 256 << 20
MMAP_BYTES = 32 << 20  # glibc's own ceiling for the mmap threshold on 64-bit systems


def keep_freed_memory(trim_bytes: int = TRIM_BYTES, mmap_bytes: int = MMAP_BYTES) -> bool:
    """Raise glibc's trim and mmap thresholds; True when both were set.

    Does nothing (False) on other C libraries and systems, and when the environment
    already tunes malloc (``GLIBC_TUNABLES`` naming ``glibc.malloc``, or ``MALLOC_*_``).
    """
    if not sys.platform.startswith("linux"):
        return False
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", "") or any(
        name.startswith("MALLOC_") and name.endswith("_") for name in os.environ
    ):
        return False
    try:
        libc = ctypes.CDLL(None)  # the C library the interpreter runs on
        libc.gnu_get_libc_version  # noqa: B018  (glibc only: other libraries' mallopt differs)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt(_M_TRIM_THRESHOLD, trim_bytes) == 1 and mallopt(_M_MMAP_THRESHOLD, mmap_bytes) == 1
