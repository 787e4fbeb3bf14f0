"""A lock per output folder and per store: one writing ocq-batch at a time on each.

The lock of ``<dir>/<name>`` is the file ``<dir>/.<name>.lock``, beside the folder rather
than in it, so that it stays in place while a publish swaps the folder. It is held with
``flock(2)``: the kernel releases it when its process ends, however it ends, so no dead
process ever holds one. The file names its holder (PID, command line, since when) for the
one line a second command prints; a file left behind by a killed process is taken over, and
that is said. The holder removes the file when it is done; a command that had opened it just
before finds, once it holds the lock, that the file is no longer the one at that path, and
starts again.

A reader (``verify --archive``, :func:`~ocq_batch.analysis.open_archives`) takes no lock: a
publish swaps whole folders, and readers hold the generation they opened.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ocq_batch.closing import Closing
from ocq_batch.errors import LockedError
from ocq_batch.oserror import naming
from ocq_batch.timeutil import format_duration

POLL_S = 0.1  # how often a waiting command tries again
_ATTEMPTS = 100  # a lock file replaced under us this many times in a row: give up
_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")  # user:password@ in a URL of the command line
# the locks this process holds (lock file -> how many holders): taking one again is free,
# as flock(2) would refuse a second open file of the same process
_held: dict[Path, int] = {}


def lock_path(target: Path) -> Path:
    """Where the lock of ``target`` (a folder or a file) lives: beside it, hidden."""
    return target.parent / f".{target.name}.lock"


def command_line() -> str:
    """This process's command line as the lock file records it (credentials in URLs hidden)."""
    args = [Path(sys.argv[0]).name or "ocq-batch", *sys.argv[1:]] if sys.argv else ["ocq-batch"]
    text = _CREDENTIALS.sub(r"\1***@", shlex.join(args))
    return text if len(text) <= 300 else text[:297] + "..."


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a lock: the PID, its command line, since when (ISO 8601, UTC)."""

    pid: int
    command: str
    since: str

    def describe(self) -> str:
        return f"PID {self.pid} ('{self.command}', since {self.since})"


def _read_holder(fd: int) -> Holder | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"null")
        return Holder(int(data["pid"]), str(data["command"]), str(data["since"]))
    except (ValueError, TypeError, KeyError):
        return None  # empty (just created) or not ours


class FolderLock(Closing):
    """The exclusive lock of ``target`` (``what`` says how the user named it: ``--out``).

    :meth:`acquire` takes it or raises :class:`LockedError` naming the holder; :meth:`close`
    releases it and removes the lock file.
    """

    def __init__(self, target: Path, what: str) -> None:
        self.target = target
        self.what = what
        self.path = lock_path(target)
        self._fd: int | None = None
        self._again = False  # this process held it already

    def acquire(self, wait_s: float = 0.0, say: Callable[[str], None] | None = None) -> None:
        """Take the lock, waiting up to ``wait_s`` seconds for its holder (``say`` is told once);
        an OS error (the folder unwritable, a full disk) is a DiskError naming the lock file."""
        with naming(self.path):
            self._acquire(wait_s, say)

    def _acquire(self, wait_s: float, say: Callable[[str], None] | None) -> None:
        if self.path in _held:
            _held[self.path] += 1
            self._again = True
            return
        say = say or (lambda text: None)
        deadline = time.monotonic() + max(0.0, wait_s)
        told = False
        for _ in range(_ATTEMPTS):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                if not self._wait(fd, deadline, wait_s, say, told):
                    os.close(fd)
                    told = True
                    continue
                mine = os.fstat(fd)
                try:
                    now = os.stat(self.path)
                except FileNotFoundError:
                    now = None
                if now is None or (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino):
                    os.close(fd)  # its holder removed the file as we opened it: take the new one
                    continue
                try:
                    self._take(fd, say)
                except BaseException:
                    os.unlink(self.path)  # ours, half-written (a full disk): not left behind
                    raise
                return
            except BaseException:
                if self._fd != fd:
                    os.close(fd)
                raise
        raise LockedError(
            f"{self.what} {self.target}: its lock file {self.path} keeps being replaced; try again"
        )

    def _wait(self, fd: int, deadline: float, wait_s: float, say: Callable[[str], None], told: bool) -> bool:
        """Lock ``fd`` (True), or wait for it until ``deadline``; False: the file may have changed."""
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                pass
            holder = self._holder(fd)
            who = holder.describe() if holder else f"a process that has not yet written {self.path}"
            if time.monotonic() >= deadline:
                if wait_s > 0:
                    waited = format_duration(wait_s)
                    raise LockedError(
                        f"{self.what} {self.target} is still in use after waiting {waited}, by "
                        f"ocq-batch {who}; wait for it to finish, or pass a longer --wait"
                    ) from None
                raise LockedError(
                    f"{self.what} {self.target} is in use by another ocq-batch, {who}; wait for it "
                    "to finish, or pass --wait 10m to queue behind it"
                ) from None
            if not told:
                limit = format_duration(wait_s)
                say(f"waiting up to {limit} for ocq-batch {who} to finish with {self.target}")
                told = True
            time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
            if not self.path.exists():
                return False  # released and removed: open the next file

    def _holder(self, fd: int) -> Holder | None:
        """The holder named in the file; a moment's grace for one that has just created it."""
        for _ in range(5):
            holder = _read_holder(fd)
            if holder is not None:
                return holder
            time.sleep(0.02)
        return None

    def _take(self, fd: int, say: Callable[[str], None]) -> None:
        left = _read_holder(fd)
        if left is not None and left.pid != os.getpid():
            say(
                f"warning: {self.what} {self.target}: taking over the lock left by ocq-batch "
                f"{left.describe()}, which ended without releasing it"
            )
        since = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        data = json.dumps({"pid": os.getpid(), "command": command_line(), "since": since}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data + b"\n", 0)
        self._fd = fd
        _held[self.path] = 1

    def close(self) -> None:
        """Release the lock and remove its file (first, so that no one locks a removed file)."""
        if self._again:
            self._again = False
            _held[self.path] -= 1
            return
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _held.pop(self.path, None)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)


@contextmanager
def locked(
    targets: Sequence[tuple[Path, str]], wait_s: float = 0.0, say: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the lock of every ``(target, what)``, taken in the order given, for the body."""
    with ExitStack() as stack:
        for target, what in targets:
            lock = FolderLock(target, what)
            lock.acquire(wait_s, say)
            stack.enter_context(lock)
        yield
