"""Named moments of a run where the fault tests stop it on purpose; inert unless the
environment variable ``OCQ_TEST_STOP_AT`` is set, which only ``tests/test_faults_*.py`` do.

    OCQ_TEST_STOP_AT="<point>[#<n>]=<action>[;<point>=<action> ...]"

``<point>`` is one of :data:`POINTS`; ``#<n>`` picks the n-th time the run reaches it (the
first by default). ``<action>`` is one of:

``kill``
    SIGKILL this process: what ``kill -9``, the OOM killer or a power cut leaves behind.
``pause:<file>``
    create ``<file>`` and wait (at most :data:`PAUSE_S`) until the test removes it, so the
    test sends a real signal, or starts a second command, at exactly this moment.
``fail:<ERRNO>``
    raise ``OSError(<ERRNO>)`` here as the next system call would (``fail:EIO``;
    ``fail:EINVAL`` at ``publish:exchange`` is a file system without ``RENAME_EXCHANGE``).
"""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

VARIABLE = "OCQ_TEST_STOP_AT"
PAUSE_S = 120.0
POINTS = (
    "lock:held",  # the locks of a writing command are taken, nothing else done yet
    "load:response",  # a response is loaded into the store (each one)
    "archive:file",  # a file of the archive is written into the staging folder (each one)
    "archive:manifest",  # the staging folder is complete, manifest included
    "publish:synced",  # the staging folder is flushed to disk; nothing moved yet
    "publish:moved",  # a working file (store, replay folder) moved into the staging folder (each one)
    "publish:exchange",  # just before the exchange of the staging folder and --out
    "publish:exchanged",  # --out is the new archive; the old one is in the staging folder
    "publish:renamed-old",  # fallback: --out moved aside, the new archive not yet in place
    "publish:renamed-new",  # fallback: the new archive is --out, the old one beside it
    "publish:done",  # published; the old archive is not yet removed
    "replay:tmp",  # a recorded response is written under its temporary name, not yet renamed
)
_seen: dict[str, int] = {}


def reach(point: str, path: Path | None = None) -> None:
    """The run is at ``point`` (one of :data:`POINTS`; ``path`` names what a ``fail`` is on)."""
    spec = os.environ.get(VARIABLE)
    if not spec:
        return
    if point not in POINTS:
        raise ValueError(f"unknown fault point {point!r}")
    _seen[point] = _seen.get(point, 0) + 1
    for rule in filter(None, (r.strip() for r in spec.split(";"))):
        where, _, action = rule.partition("=")
        name, _, nth = where.partition("#")
        if name != point or _seen[point] != int(nth or 1):
            continue
        _act(action, point, path)


def _act(action: str, point: str, path: Path | None) -> None:
    kind, _, arg = action.partition(":")
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)  # SIGKILL is delivered before this returns
    elif kind == "pause":
        marker = Path(arg)
        marker.write_text(f"{os.getpid()} {point}\n")
        deadline = time.monotonic() + PAUSE_S
        while marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    elif kind == "fail":
        number = getattr(errno, arg)
        raise OSError(number, os.strerror(number), None if path is None else str(path))
    else:
        raise ValueError(f"{VARIABLE}: unknown action {action!r} at {point}")
