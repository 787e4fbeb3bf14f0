"""SIGINT and SIGTERM as exceptions, remembered, and the few moments they must wait for.

:func:`install` (called by the console entry point) makes SIGINT raise KeyboardInterrupt and
SIGTERM raise :class:`~ocq_batch.errors.Terminated` in the main thread, so that every
``finally`` and ``except BaseException`` on the way out runs and removes what was
half-written. It also notes which signal came: DuckDB turns an exception raised inside a
query into its own ``RuntimeError('Query interrupted')``, and a thread pool may report a
worker's failure instead, so the command line's guard asks :func:`exit_code` rather than
trusting the type of the exception that reached it.

:func:`deferred` holds a signal back while the few renames of a publish run, and raises it
right after: a publish is then done whole or not started, never stopped half-way.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from ocq_batch.errors import Terminated

# what the user reads, whenever the signal came: every command cleans up on its way out
INTERRUPTED = "interrupted: nothing half-written was left; run the same command again to resume"
_received: int | None = None
_announced = False
_deferring = 0
_pending: list[int] = []


def _raise(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(f"signal {signal.Signals(signum).name}")


def _handler(signum: int, frame: FrameType | None) -> None:
    global _received
    _received = signum
    if _deferring:
        _pending.append(signum)
        return
    _raise(signum)


def install() -> None:
    """Handle SIGINT and SIGTERM as above (main thread only); a signal the process was started
    with as ignored (``nohup``, a background job) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _handler)


def received() -> int | None:
    """The signal that arrived since :func:`install`, if any."""
    return _received


def announce(write: Callable[[str], object]) -> None:
    """Write the :data:`INTERRUPTED` line with ``write``, once per process: the guard of a
    command and the console entry point may both see the same interruption."""
    global _announced
    if not _announced:
        _announced = True
        write(INTERRUPTED)


def exit_code(exc: BaseException) -> int | None:
    """128 + the signal that interrupted the command (130 SIGINT, 143 SIGTERM), or None when
    ``exc`` is no interruption."""
    signum = _received
    if signum is None and isinstance(exc, KeyboardInterrupt):
        signum = signal.SIGINT
    if signum is None and isinstance(exc, Terminated):
        signum = signal.SIGTERM
    return None if signum is None else 128 + int(signum)


@contextmanager
def deferred() -> Iterator[None]:
    """Run the body to its end even when SIGINT or SIGTERM arrives; raise it afterwards."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        held = _pending[:1] if not _deferring else []
        if not _deferring:
            _pending.clear()  # when the body failed, received() still tells the guard
    if held:
        _raise(held[0])


def hold() -> None:
    """The command is done: SIGINT and SIGTERM are ignored from now on, so that one arriving
    while the process exits cannot turn a finished run into a killed one.

    Ignored process-wide, not only blocked in the main thread: a signal is delivered to any
    thread that does not block it (DuckDB's and Arrow's workers live until the process
    ends), and the interpreter's finalisation puts the default action back for a handler
    it installed, but leaves an ignored signal ignored."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
