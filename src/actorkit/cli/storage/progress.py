"""Progress of a long copy or verify: a rich progress bar on a terminal, else a plain line
every few seconds (for logs and CI)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Progress"]


class Progress:
    """Counts actors done out of ``total`` and shows it on ``stream`` (stderr).

    ``interval``: seconds between plain lines (0 shows nothing). The bar is used when
    ``stream`` is a terminal and rich is installed.
    """

    def __init__(
        self, what: str, total: int, *, interval: float = 5.0, stream: TextIO | None = None
    ) -> None:
        self.what = what
        self.total = total
        self.done = 0
        self.interval = interval
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self._last_line = self.started
        self._bar: Any = None
        self._task: Any = None
        if interval > 0 and self.stream.isatty():
            self._start_bar()

    def _start_bar(self) -> None:
        try:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar
        except ImportError:
            return
        self._bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("actors  {task.fields[rate]}/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(self.what, total=self.total or None, rate="-")

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(self._task, advance=n, rate=f"{self.rate:,.0f}")
            return
        now = time.monotonic()
        if self.interval > 0 and now - self._last_line >= self.interval:
            self._last_line = now
            self.line()

    def line(self) -> None:
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        print(
            f"{self.what}: {self.done:,}/{self.total:,} actors{pct}, {self.rate:,.0f} actors/s",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
