"""Terminal rendering: tables, the verdict, evidence cards and progress bars.

Text wraps at word boundaries at the console's width (``COLUMNS``, or the terminal's): a
table's names, ranks, numbers and times never break (``no_wrap``), its sentences wrap
between words. Errors on stderr stay one line when stderr is not a terminal, so scripts can
read them; on a terminal they wrap like the rest. Names and labels are data: the consoles
read no markup and no emoji codes (a user named ``[bold red]x[/]`` or ``:smile:`` prints as
written), and style is given as :class:`~rich.text.Text` (:func:`styled`), never as markup
around a value. Only the consoles are made at import:
the tables and progress bars are imported when drawn, so ``--help`` stays light.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console

from ocq_batch.timeutil import zone

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

    from ocq_batch.audit.cards import Card
    from ocq_batch.audit.run import AuditResult
    from ocq_batch.audit.verdict import CutOff
    from ocq_batch.config.model import Config
    from ocq_batch.rows import Rows

out = Console(highlight=False, markup=False, emoji=False)
err = Console(stderr=True, highlight=False, markup=False, emoji=False)
err.soft_wrap = not err.is_terminal  # one line per message for a script reading stderr

AROUND = 3  # places shown after the prize and the contested range, without --all
MARKS = "★ prize winner · ? contested: the score interval overlaps someone's across the cut-off"


def styled(*parts: str | tuple[str, str]) -> Any:
    """One line as a :class:`~rich.text.Text`: each part a plain string, or ``(text, style)``;
    the text is never read as markup."""
    from rich.text import Text

    return Text.assemble(*parts)


class RichProgress:
    """One rich progress bar per task, on stderr; does nothing when stderr is not a terminal.

    A task's callable advances it by ``n`` steps and, for a fetch, ``nbytes`` bytes of answers.
    """

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.current: Any = None

    def task(self, label: str, total: int | None) -> Callable[..., None]:
        if self.progress is None:
            return lambda n, nbytes=0: None
        if self.current is not None:
            self.progress.update(self.current, completed=self.progress.tasks[self.current].total or 1)
        self.current = self.progress.add_task(label, total=total, nbytes=0)
        task_id = self.current
        progress = self.progress

        def advance(n: int, nbytes: int = 0) -> None:
            fields = progress.tasks[task_id].fields
            progress.update(task_id, advance=n, nbytes=fields["nbytes"] + nbytes)

        return advance


def progress_columns() -> tuple[Any, ...]:
    """Label, bar, steps done of the total, bytes received, time left (when the total is known)."""
    from rich.filesize import decimal
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class BytesColumn(ProgressColumn):
        """The bytes of answers a task has received so far (fetching), blank for other tasks."""

        def render(self, task: Any) -> Text:
            n = task.fields.get("nbytes", 0)
            return Text(decimal(n) if n else "", style="progress.download")

    class LeftColumn(TimeRemainingColumn):
        def render(self, task: Any) -> Text:
            if task.total is None:
                return Text("")
            shown = super().render(task)
            return Text(f"ETA {shown.plain}", style="progress.remaining")

    return (
        TextColumn("{task.description:<16}", markup=False),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        BytesColumn(),
        LeftColumn(),
        TimeElapsedColumn(),
    )


@contextmanager
def progress_bar(enabled: bool = True, console: Console | None = None) -> Iterator[RichProgress]:
    console = console or err
    if not (enabled and console.is_terminal):
        yield RichProgress(None)
        return
    from rich.progress import Progress

    with Progress(*progress_columns(), console=console, transient=True) as p:
        yield RichProgress(p)


def clock(value: datetime | None, tz: Any, day: Any) -> str:
    """A time for a table: ``HH:MM:SS`` in ``tz``, with the date when it is not ``day``."""
    if value is None:
        return "-"
    there = value.astimezone(tz)
    return there.strftime("%H:%M:%S" if there.date() == day else "%Y-%m-%d %H:%M:%S")


def score_range(low: float, high: float) -> str:
    return f"{low:.1f}–{'∞' if high == float('inf') else f'{high:.1f}'}"


def shown_rows(rows: Sequence[dict[str, Any]], cutoff: CutOff, show_all: bool) -> int:
    """How many ranking rows to show: everyone, or the prize winners, the contested places and
    :data:`AROUND` more."""
    if show_all:
        return len(rows)
    last = max(cutoff.top, (cutoff.contested_ranks or (0, 0))[1])
    inside = sum(1 for r in rows if int(r["rank"]) <= last)
    return min(len(rows), inside + AROUND)


def ranking_table(
    ranking: Rows,
    config: Config,
    title: str,
    cutoff: CutOff,
    bounds: dict[str, dict[str, Any]],
    show_all: bool = False,
) -> tuple[Table, int]:
    """The ranking as a rich table: prize winners starred, contested places marked ``?``, a
    rule under the prize cut-off; and how many rows it leaves out (``--all`` shows them)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    tz = zone(config.timezone)
    end = config.end.astimezone(tz).date()
    table = Table(
        title=Text(title), title_justify="left", caption=MARKS, caption_justify="left", box=box.SIMPLE_HEAD
    )
    table.add_column("", no_wrap=True)
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("user", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("could be", no_wrap=True)
    table.add_column("done", justify="right", no_wrap=True)
    table.add_column("last done", no_wrap=True)
    rows = ranking.rows
    n = shown_rows(rows, cutoff, show_all)
    contested = cutoff.contested_users
    for i, row in enumerate(rows[:n]):
        in_top = bool(row["in_top"])
        mark = ("★" if in_top else " ") + ("?" if row["user"] in contested else "")
        bound = bounds.get(row["user"])
        table.add_row(
            mark.rstrip(),
            str(row["rank"]),
            Text(str(row["user"])),
            f"{row['score']:.1f}",
            score_range(bound["score_min"], bound["score_max"]) if bound else "-",
            str(row["exercises_completed"]),
            clock(row["last_completed_at"], tz, end),
            style="bold" if in_top else None,
            end_section=in_top and i + 1 < n and not rows[i + 1]["in_top"],
        )
    return table, len(rows) - n


def print_ranking(ranking: Rows, audit: AuditResult, config: Config, title: str, show_all: bool) -> None:
    """The ranking table, and a line saying how many places it left out."""
    bounds = {r["user"]: r for r in audit.tables["robustness"].rows}
    table, hidden = ranking_table(ranking, config, title, audit.cutoff, bounds, show_all)
    out.print(table)
    if hidden:
        out.print(f"… and {hidden} more participant(s) below; --all shows everyone")


def findings_table(findings: Sequence[dict[str, Any]]) -> Table:
    """Findings as a table: severity, check over who it is about, the sentence (wrapped)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, leading=1, show_edge=False)
    table.add_column("severity", no_wrap=True)
    table.add_column("check · who", no_wrap=True)
    table.add_column("finding", ratio=1, min_width=30)
    for f in findings:
        who = " ".join(str(x) for x in (f["user"], f["exercise"], f["env"]) if isinstance(x, str))
        style = SEVERITY_STYLE.get(f["severity"], "")
        # Text, not markup: a message may quote a pattern or a label with brackets
        table.add_row(
            Text(f["severity"], style), Text(f"{f['check']}\n{who or '(event)'}"), Text(f["message"])
        )
    return table


SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}
VERDICT_STYLE = {"contested": "red", "advice": "bold", "error": "red"}


def print_verdict(result: AuditResult) -> None:
    """The verdict: its sentence, who is contested, what to do, the errors touching the top N."""
    for kind, text in result.verdict_lines():
        if kind == "headline":
            style = "bold green" if result.clean else "bold red"
            out.print(styled(("verdict:", style), " ", text))
        else:
            label = "error: " if kind == "error" else ""
            out.print(styled((label + text, VERDICT_STYLE[kind])))


def print_card(card: Card, config: Config) -> None:
    """One evidence card: its title line coloured by the worst finding, the rest indented."""
    from rich.padding import Padding
    from rich.text import Text

    from ocq_batch.audit.cards import card_lines

    lines = card_lines(card, config)
    style = {"error": "bold red", "warning": "yellow"}.get(card.worst, "bold green")
    out.print(Text(lines[0], style=style))
    for line in lines[1:]:
        indent = len(line) - len(line.lstrip(" "))
        out.print(Padding(Text(line.strip()), (0, 0, 0, indent)))
