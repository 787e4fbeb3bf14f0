"""Terminal rendering: ranking tables and progress bars (quiet when not on a terminal).

Only the consoles are made at import: every command prints, but the progress bars and
tables are imported when drawn, so ``--help`` and a quiet run stay light.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console

from ocq_batch.timeutil import local, zone

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

    from ocq_batch.rows import Rows

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class RichProgress:
    """One rich progress bar per task, on stderr; does nothing when stderr is not a terminal."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.current: Any = None

    def task(self, label: str, total: int | None) -> Callable[[int], None]:
        if self.progress is None:
            return lambda n: None
        if self.current is not None:
            self.progress.update(self.current, completed=self.progress.tasks[self.current].total or 1)
        self.current = self.progress.add_task(label, total=total)
        task_id = self.current
        progress = self.progress
        return lambda n: progress.advance(task_id, n)


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[RichProgress]:
    if not (enabled and err.is_terminal):
        yield RichProgress(None)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description:<20}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as p:
        yield RichProgress(p)


def ranking_table(ranking: Rows, top: int, timezone: str, title: str) -> Table:
    """The ranking as a rich table, top N marked and a rule under the prize cut-off."""
    from rich.table import Table

    tz = zone(timezone)
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("", justify="center")
    table.add_column("rank", justify="right")
    table.add_column("user")
    table.add_column("score", justify="right")
    table.add_column("done", justify="right")
    table.add_column(f"last completion ({timezone})")
    rows = ranking.rows
    for i, row in enumerate(rows):
        in_top = bool(row["rank"] <= top)
        last_text = local(row["last_completed_at"], tz)
        table.add_row(
            "★" if in_top else "",
            str(row["rank"]),
            str(row["user"]),
            f"{row['score']:.1f}",
            str(row["exercises_completed"]),
            last_text,
            style="bold" if in_top else None,
            end_section=in_top and i + 1 < len(rows) and not rows[i + 1]["rank"] <= top,
        )
    return table
