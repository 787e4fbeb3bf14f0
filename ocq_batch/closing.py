"""A base for objects that hold a resource until :meth:`Closing.close`: ``with obj:`` closes it."""

from __future__ import annotations

from typing import Self


class Closing:
    """``with obj:`` gives ``obj`` and calls ``obj.close()`` at the end, whatever happened."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
