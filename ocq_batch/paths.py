"""Where the SQL steps and the bundled demo event live (repository or installed wheel)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ocq_batch.errors import OcqError

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PKG / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise OcqError(f"the '{name}' folder of ocq-batch is missing; reinstall with 'pip install -e .'")


def sql_dir() -> Path:
    """The folder of numbered SQL steps."""
    return _find("sql")


def demo_dir() -> Path:
    """The bundled demo event (a replay folder)."""
    return _find("data") / "demo"


@cache
def sql_text(name: str) -> str:
    """The text of one SQL file."""
    return (sql_dir() / name).read_text(encoding="utf-8")


def sql_steps(first: int = 1, last: int = 99) -> list[str]:
    """The numbered transformation files in run order, from step ``first`` to ``last``."""
    return sorted(p.name for p in sql_dir().glob("[0-9][0-9]_*.sql") if first <= int(p.name[:2]) <= last)
