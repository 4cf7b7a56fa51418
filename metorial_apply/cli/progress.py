"""Apply progress for people: a rich progress bar with the changes in flight on a terminal, one
plain line per finished change in CI (or when not a TTY), and the final summary either way.

It only consumes apply events and the report; nothing here holds a secret (addresses, ids
and API messages only). Every line is made inert: ids and API error messages come from the
server, and a forged line in a CI log must not be possible.
"""

from __future__ import annotations

import sys
from typing import IO, Any

import click

from metorial_apply.apply.report import ApplyReport, ChangeResult
from metorial_apply.apply.run import ApplyEvent, ChangeFinished, ChangeStarted
from metorial_apply.apply.schedule import Outcome
from metorial_apply.core.inert import inert

STYLE = {Outcome.DONE: "green", Outcome.FAILED: "red", Outcome.SKIPPED: "yellow"}


def change_line(result: ChangeResult, index: int, total: int, width: int) -> str:
    """`[ 1/12] + deployment.github          created pde_1aBcDe   0.21 s`."""
    digits = len(str(total))
    head = f"[{index:>{digits}}/{total}] {result.marker:<3} {inert(str(result.address)):<{width}}  "
    tail = f"   {result.duration_s:.2f} s" if result.outcome is Outcome.DONE else ""
    return head + inert(result.summary()) + tail


class PlainProgress:
    """One line per finished change (CI logs); `quiet` keeps only failures."""

    def __init__(
        self, *, width: int = 30, quiet: bool = False, color: bool = False, stream: IO[str] | None = None
    ) -> None:
        self.width, self.quiet, self.color = width, quiet, color
        self.stream = stream

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __call__(self, event: ApplyEvent) -> None:
        if not isinstance(event, ChangeFinished):
            return
        result = event.result
        if self.quiet and result.outcome is not Outcome.FAILED:
            return
        line = change_line(result, event.index, event.total, self.width)
        fg = STYLE[result.outcome] if self.color and result.outcome is not Outcome.DONE else None
        click.echo(click.style(line, fg=fg) if fg else line, file=self.stream or sys.stdout, color=self.color)

    def note(self, text: str) -> None:
        click.echo(inert(text), file=self.stream or sys.stdout, color=self.color)


class RichProgress:
    """A progress bar with the changes in flight beneath it; finished lines scroll above."""

    def __init__(self, total: int, *, width: int = 30, quiet: bool = False, color: bool = True) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.width, self.quiet = width, quiet
        self.console = Console(no_color=not color, highlight=False)
        self.bar = Progress(TextColumn("Applying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=self.console, transient=True)
        self.task = self.bar.add_task("apply", total=total)
        self.running: dict[str, str] = {}
        self.live: Any = None

    def _view(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        lines = [Text(f"  {action:<7} {inert(address)}", style="dim")
                 for address, action in sorted(self.running.items())]
        return Group(self.bar, *lines)

    def __enter__(self) -> RichProgress:
        from rich.live import Live

        self.live = Live(self._view(), console=self.console, refresh_per_second=8, transient=True)
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.__exit__(*exc)

    def __call__(self, event: ApplyEvent) -> None:
        from rich.text import Text

        if isinstance(event, ChangeStarted):
            self.running[str(event.address)] = event.action
        elif isinstance(event, ChangeFinished):
            self.running.pop(str(event.result.address), None)
            self.bar.update(self.task, completed=event.index)
            if not self.quiet or event.result.outcome is Outcome.FAILED:
                line = change_line(event.result, event.index, event.total, self.width)
                style = STYLE[event.result.outcome] if event.result.outcome is not Outcome.DONE else None
                self.console.print(Text(line, style=style or ""))
        self.live.update(self._view())

    def note(self, text: str) -> None:
        self.console.print(inert(text), markup=False)


def make_progress(
    total: int, width: int, *, interactive: bool, quiet: bool, color: bool
) -> PlainProgress | RichProgress:
    """The rich bar on an interactive terminal; plain lines in CI or when piped."""
    if interactive:
        return RichProgress(total, width=width, quiet=quiet, color=color)
    return PlainProgress(width=width, quiet=quiet, color=color)


def summary_lines(report: ApplyReport, verb: str = "Apply") -> list[str]:
    """The final summary and, when something is left, the residual plan."""
    lines = [inert(report.summary(verb))]
    if report.residual():
        lines.append(f"Left to do (run plan again after fixing): {inert(report.residual_line())}")
    return lines
