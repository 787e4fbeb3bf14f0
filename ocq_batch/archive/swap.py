"""Exchanging two folders' names in one step: ``renameat2(RENAME_EXCHANGE)`` on Linux.

With it, a publish never leaves ``--out`` missing, not even for an instant: the staging
folder becomes ``--out`` and the old archive takes the staging folder's name, atomically.
Where it does not exist (another OS, a C library before glibc 2.28, a kernel before 3.15, or
a file system that refuses the flag, as some network and FUSE ones do), :func:`exchange`
says so and the publish falls back to two renames (see :mod:`ocq_batch.archive.publish`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

from ocq_batch import faultpoint

AT_FDCWD = -100
RENAME_EXCHANGE = 1 << 1
# what renameat2 answers where the exchange itself is unsupported, rather than failed
UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}


@cache
def _renameat2() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def exchange(a: Path, b: Path) -> bool:
    """Swap the names of the existing folders ``a`` and ``b`` atomically; False (nothing
    done) where the system or the file system cannot, OSError on any other failure."""
    try:
        faultpoint.reach("publish:exchange", b)
    except OSError as exc:  # a test's stand-in for the system call's answer
        if exc.errno in UNSUPPORTED:
            return False
        raise
    fn = _renameat2()
    if fn is None:
        return False
    if fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    number = ctypes.get_errno()
    if number in UNSUPPORTED:
        return False
    raise OSError(number, os.strerror(number), str(a), None, str(b))
