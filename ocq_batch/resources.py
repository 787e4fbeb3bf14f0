"""The files ocq-batch ships beside its code: the SQL of every stage and the bundled demo event.

Both are folders at the top of the repository (``sql/``, ``data/``) and inside the wheel
(``ocq_batch/sql``, ``ocq_batch/data``, see ``pyproject.toml``). They are read through
:mod:`importlib.resources`, from the installed package first and, in a source checkout
(an editable install), from the repository beside it.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from ocq_batch.errors import OcqError


def _folder(name: str) -> Traversable:
    inside = files("ocq_batch").joinpath(name)
    if inside.is_dir():
        return inside
    checkout = Path(__file__).resolve().parent.parent / name
    if checkout.is_dir():
        return checkout
    raise OcqError(f"the '{name}' folder of ocq-batch is missing; reinstall it with 'pip install ocq-batch'")


@cache
def sql_text(name: str) -> str:
    """The text of one SQL file, by its path under ``sql/`` (e.g. ``detect/06_scores.sql``)."""
    return _folder("sql").joinpath(*name.split("/")).read_text(encoding="utf-8")


def sql_names(stage: str) -> list[str]:
    """The numbered SQL steps of one stage folder (``detect``, ``audit``), in run order."""
    folder = _folder("sql").joinpath(stage)
    return sorted(
        f"{stage}/{p.name}" for p in folder.iterdir() if p.name[:2].isdigit() and p.name.endswith(".sql")
    )


def sql_files() -> list[str]:
    """Every SQL file, by its path under ``sql/`` (for the tests of their grain lines)."""

    def walk(folder: Traversable, prefix: str) -> list[str]:
        out: list[str] = []
        for item in folder.iterdir():
            if item.is_dir():
                out += walk(item, f"{prefix}{item.name}/")
            elif item.name.endswith(".sql"):
                out.append(prefix + item.name)
        return out

    return sorted(walk(_folder("sql"), ""))


def demo_dir() -> Path:
    """The bundled demo event (a replay folder), as a path on disk."""
    demo = _folder("data").joinpath("demo")
    if not isinstance(demo, Path):  # a zipped install: no folder to replay from
        raise OcqError("the bundled demo event needs ocq-batch installed as files, not zipped")
    return demo
