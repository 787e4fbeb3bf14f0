"""``--help`` that wraps between words only.

click's help formatter wraps with :class:`textwrap.TextWrapper`'s defaults, which break words
at hyphens and cut words longer than a line: ``--ca-`` / ``file``, ``[default: ocq-`` /
``out]``. The formatter here wraps the same layout at spaces only; a word longer than the
line stays whole. The command classes carry it (``cls=`` of the app and its commands).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from typer.core import TyperCommand, TyperGroup

_Context = TyperCommand.context_class  # click's Context, or the copy recent typer versions carry


def wrap(text: str, width: int, initial: str = "", subsequent: str = "") -> str:
    """``text`` wrapped at spaces to ``width`` columns; paragraphs (blank lines) kept."""
    wrapper = textwrap.TextWrapper(
        width=max(width, 20),
        initial_indent=initial,
        subsequent_indent=subsequent,
        break_on_hyphens=False,
        break_long_words=False,
        replace_whitespace=True,
    )
    paragraphs = [" ".join(p.split()) for p in text.expandtabs().split("\n\n")]
    return "\n\n".join(wrapper.fill(p) for p in paragraphs if p)


class HelpFormatter(_Context.formatter_class):  # type: ignore[name-defined]
    """click's help layout, wrapped at spaces only (see the module docstring)."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        head = f"{prefix if prefix is not None else 'Usage: ':>{self.current_indent}}{prog} "
        self.write(wrap(args, self.width - self.current_indent, head, " " * len(head)) or head.rstrip())
        self.write("\n")

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        self.write(wrap(text, self.width, indent, indent))
        self.write("\n")

    def write_dl(self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        first_col = min(max((len(r[0]) for r in rows), default=0), col_max) + col_spacing
        pad = " " * (first_col + self.current_indent)
        for first, *rest in rows:
            second = rest[0] if rest else ""
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if len(first) <= first_col - col_spacing:
                self.write(" " * (first_col - len(first)))
            else:
                self.write("\n" + pad)
            lines = wrap(second, max(self.width - first_col - self.current_indent, 10)).splitlines()
            self.write(lines[0] + "\n" if lines else "\n")
            for line in lines[1:]:
                self.write(f"{pad}{line}\n" if line else "\n")


class Context(_Context):  # type: ignore[misc,valid-type]
    formatter_class = HelpFormatter


class Command(TyperCommand):
    """A command whose ``--help`` wraps between words."""

    context_class = Context


class Group(TyperGroup):
    """The application group, whose ``--help`` wraps between words."""

    context_class = Context
