"""Progress of long work, shown on stderr as a bar (rich) only where someone is watching.

Library code and flows say what they have done with `report("claims checked", total, advance=1)`;
nothing is shown unless the entry point installed a display (`shown`): the CLI does, when stderr
is a terminal and `--quiet` was not given (`wanted`); the service does for a check whose client
asked for its stream of events (`flows.service`), a display that also hears when the run began
(`started`) and which verdicts were decided (`decided`). Without one (a pipe, a test, a Dask
worker) a report costs one global read. rich is imported only when a bar is built.
"""

from __future__ import annotations

import logging
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Protocol, Sequence, TextIO

__all__ = ["Display", "ProgressBar", "close", "decided", "report", "shown", "started", "wanted"]

# The lines the product reports, one bar each.
CLAIMS = "claims checked"
DOCUMENTS = "documents ingested"
ARTICLES = "articles checked"


class Display(Protocol):
    def __call__(self, what: str, total: int | None, advance: int, done: int | None, note: str | None,
                 scope: str) -> None: ...

    def close(self) -> None: ...


_DISPLAY: Display | None = None
_LOCK = threading.Lock()


def report(what: str, total: int | None, advance: int = 0, *, done: int | None = None, note: str | None = None,
           scope: str = "") -> None:
    """`advance` more of the `total` items of `what` are done (or `done` of them in all); `note`,
    when given, says what is happening now. A new `scope` (the next article of a batch) starts the
    count of `what` again. `total` None: not known yet."""
    display = _DISPLAY
    if display is not None:
        display(what, total, advance, done, note, scope)


def started(run_id: str) -> None:
    """A run began under `run_id`: passed on to a display that has a `started(run_id)` (the
    service's event stream); a progress bar has none."""
    hook = getattr(_DISPLAY, "started", None)
    if hook is not None:
        hook(run_id)


def decided(results: Sequence[Any], scope: str = "") -> None:
    """These claims' verdicts are decided (`ClaimResult`s; not stored yet): passed on to a display
    that has a `decided(results, scope)`."""
    hook = getattr(_DISPLAY, "decided", None)
    if hook is not None:
        hook(results, scope)


def wanted(quiet: bool, stream: TextIO | None = None) -> bool:
    """Show progress: not asked to be quiet, and `stream` (stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    if quiet:
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


@contextmanager
def shown(display: Display | None) -> Iterator[Display | None]:
    """Send every report to `display` (None: nowhere) until the block ends; then close it."""
    global _DISPLAY
    with _LOCK:
        previous, _DISPLAY = _DISPLAY, display
    try:
        yield display
    finally:
        with _LOCK:
            _DISPLAY = previous
        if display is not None:
            display.close()


def close() -> None:
    """Close the display now: before a last line on stderr from a process about to end."""
    display = _DISPLAY
    if display is not None:
        display.close()


class ProgressBar:
    """One bar per `what` on `stream`: count done of total, elapsed time and the current note.
    Transient: the bars are cleared when closed, leaving the terminal to the results. While they
    show, other lines for stderr (a warning, a log line) are printed above them, not through them."""

    def __init__(self, stream: TextIO | None = None) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn)

        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("{task.fields[note]}"),
            console=Console(file=sys.stderr if stream is None else stream, highlight=False),
            transient=True, redirect_stdout=False, redirect_stderr=True,
        )
        self._stream = self._progress.console.file
        self._handlers: list[tuple[logging.StreamHandler, object]] = []
        self._bars: dict[str, tuple[object, str]] = {}  # what -> (rich task id, scope)
        self._lock = threading.Lock()
        self._started = self._closed = False

    def __call__(self, what: str, total: int | None, advance: int, done: int | None, note: str | None,
                 scope: str) -> None:
        with self._lock:
            if self._closed:
                return
            if not self._started:
                self._start()
            bar = self._bars.get(what)
            if bar is None:
                task = self._progress.add_task(what, total=total, note="")
            else:
                task = bar[0]
                if bar[1] != scope:
                    self._progress.reset(task, total=total, completed=0, note="")
            self._bars[what] = (task, scope)
            fields = {} if note is None else {"note": note}
            self._progress.update(task, total=total, advance=advance, completed=done, **fields)

    def _start(self) -> None:
        self._progress.start()  # rich puts a proxy in sys.stderr that prints above the bars
        self._started = True
        if sys.stderr is not self._stream:  # log handlers writing to the terminal go through it too
            self._handlers = [(h, h.stream) for h in logging.getLogger().handlers
                              if type(h) is logging.StreamHandler and h.stream is self._stream]
            for h, _ in self._handlers:
                h.setStream(sys.stderr)

    def close(self) -> None:
        with self._lock:
            if self._started and not self._closed:
                for h, stream in self._handlers:
                    h.setStream(stream)
                self._progress.stop()
            self._closed = True
