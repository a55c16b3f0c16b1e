"""Progress for long CLI work: a live bar on a terminal, sparse lines when piped."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Literal, TextIO

from ragkit.cli._output import clean, is_terminal

__all__ = ["Progress", "format_bytes", "format_duration"]

Unit = Literal["B", "items"]

_RATE_WINDOW = 5.0
"""Seconds of samples the rate is averaged over: smooth, yet quick to follow."""
_BAR_MIN, _BAR_MAX = 10, 40
_CLEAR_LINE = "\r\x1b[K"


def format_bytes(count: float) -> str:
    """Format a byte count with decimal units, the way the Ollama CLI does.

    Examples:
        >>> format_bytes(2_019_393_189)
        '2.0 GB'
        >>> format_bytes(274_302_450)
        '274 MB'
        >>> format_bytes(512)
        '512 B'
    """
    value = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            break
        value /= 1000
    if unit == "B" or abs(value) >= 10 or value == int(value):
        return f"{int(value)} {unit}"
    return f"{value:.1f} {unit}"


def format_duration(seconds: float) -> str:
    """Format a duration compactly: ``45s``, ``3m05s``, ``2h07m``.

    Examples:
        >>> format_duration(185)
        '3m05s'
        >>> format_duration(7620)
        '2h07m'
    """
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class Progress:
    """Show how far a piece of work has come, on stderr, never on stdout.

    On a terminal one line is redrawn in place: the label, a bar, the amount
    done, the rate and the time remaining. A new ``status`` (say, the next
    layer of a pull) keeps the finished line and starts a new one. When the
    stream is not a terminal (piped, CI logs) it writes plain lines only when
    a status starts, when it completes, and otherwise at most every
    ``plain_interval`` seconds, so logs stay short.

    Use it as a context manager, or call :meth:`close` when done::

        with Progress(total=len(files), label="indexing") as progress:
            for file in files:
                ...
                progress.advance()

    Args:
        total: The amount of work, if known (bytes or items).
        unit: ``"B"`` shows byte sizes and rates, ``"items"`` plain counts.
        label: What is being done; it is cleaned of control characters.
        stream: Where to write; standard error by default.
        interactive: Force terminal (``True``) or plain (``False``) rendering;
            ``None`` asks the stream (``TERM=dumb`` counts as plain).
        enabled: ``False`` writes nothing at all (``--quiet``, ``--json``).
        clock: Monotonic seconds; replaceable in tests.
        width: Line width in columns; ``None`` asks the terminal.
        refresh: Minimum seconds between redraws on a terminal.
        plain_interval: Minimum seconds between intermediate plain lines.
    """

    def __init__(
        self,
        *,
        total: int | None = None,
        unit: Unit = "items",
        label: str = "",
        stream: TextIO | None = None,
        interactive: bool | None = None,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
        refresh: float = 0.1,
        plain_interval: float = 10.0,
    ) -> None:
        if unit not in ("B", "items"):
            raise ValueError(f'unit must be "B" or "items", not {unit!r}')
        self._stream = sys.stderr if stream is None else stream
        if interactive is None:
            interactive = is_terminal(self._stream) and os.environ.get("TERM") != "dumb"
        self.interactive = interactive
        self.enabled = enabled
        self.unit: Unit = unit
        self.label = clean(label)
        self.total = total
        self.completed = 0
        self._clock = clock
        self._width = width
        self._refresh = refresh
        self._plain_interval = plain_interval
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, int]] = deque()
        self._drawn = False
        self._dirty = False
        self._last_draw = float("-inf")
        self._last_plain = float("-inf")
        self._plain_done = False
        self._plain_completed = 0
        self._announced = False
        self._closed = False
        fancy = self._can_encode("█▕▏")
        self._fill, self._left, self._right = ("█", "▕", "▏") if fancy else "#[]"

    # -- public API ------------------------------------------------------------

    def update(
        self,
        completed: int | None = None,
        total: int | None = None,
        *,
        status: str | None = None,
    ) -> None:
        """Record progress, and redraw when it is time to.

        Args:
            completed: The amount done so far (not an increment); ``None``
                keeps the current value.
            total: The amount of work, when it became known or changed.
            status: A new label. A different one finishes the current line
                and starts counting afresh (``completed`` 0, ``total`` unknown
                unless given).
        """
        with self._lock:
            self._update(completed, total, status)

    def _update(
        self, completed: int | None, total: int | None, status: str | None
    ) -> None:
        if self._closed:
            return
        now = self._clock()
        label = None if status is None else clean(status)
        changed = label is not None and label != self.label
        if label is not None and changed:
            self._finish_line()
            self.label = label
            self.completed = 0
            self.total = None
            self._samples.clear()
            self._announced = False
            self._plain_done = False
            self._plain_completed = 0
        if total is not None:
            self.total = total
        if completed is not None:
            self.completed = completed
        self._sample(now)
        self._dirty = True
        self._render(now, force=changed)

    def advance(self, amount: int = 1) -> None:
        """Add ``amount`` to the work done."""
        with self._lock:
            self._update(self.completed + amount, None, None)

    def message(self, text: str) -> None:
        """Print a line of its own (a warning, a skipped file) above the bar."""
        with self._lock:
            if not self.enabled or self._closed:
                return
            if self.interactive and self._drawn:
                self._write(_CLEAR_LINE + clean(text) + "\n")
                self._draw(self._clock())
            else:
                self._write(clean(text) + "\n")

    def close(self) -> None:
        """Finish the current line; later calls do nothing."""
        with self._lock:
            if self._closed:
                return
            self._finish_line()
            self._closed = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- figures ---------------------------------------------------------------

    @property
    def fraction(self) -> float | None:
        """Completed / total in 0..1, when the total is known."""
        if not self.total:
            return None
        return min(1.0, max(0.0, self.completed / self.total))

    @property
    def rate(self) -> float | None:
        """Units per second over the last few seconds, once it can be measured."""
        if len(self._samples) < 2:
            return None
        (t0, c0), (t1, c1) = self._samples[0], self._samples[-1]
        if t1 <= t0 or c1 < c0:
            return None
        return (c1 - c0) / (t1 - t0)

    @property
    def remaining(self) -> float | None:
        """Estimated seconds left, when the total and a rate are known."""
        rate = self.rate
        if self.total is None or not rate:
            return None
        return max(0, self.total - self.completed) / rate

    # -- internals -------------------------------------------------------------

    def _can_encode(self, text: str) -> bool:
        encoding = getattr(self._stream, "encoding", None) or "ascii"
        try:
            text.encode(encoding)
        except (UnicodeEncodeError, LookupError):
            return False
        return True

    def _sample(self, now: float) -> None:
        samples = self._samples
        if samples and samples[-1][1] > self.completed:
            # The count went backwards (a restarted transfer): old samples lie.
            samples.clear()
        samples.append((now, self.completed))
        while len(samples) > 2 and now - samples[0][0] > _RATE_WINDOW:
            samples.popleft()

    def _is_done(self) -> bool:
        return self.total is not None and self.completed >= self.total

    def _render(self, now: float, *, force: bool) -> None:
        if not self.enabled:
            return
        if self.interactive:
            due = now - self._last_draw >= self._refresh
            if force or due or self._is_done():
                self._draw(now)
            return
        if not self._announced:
            self._announced = True
        elif self._is_done():
            if self._plain_done:
                return
        elif (
            self.completed == self._plain_completed
            or now - self._last_plain < self._plain_interval
        ):
            return
        self._plain_done = self._is_done()
        self._plain_completed = self.completed
        self._last_plain = now
        self._write(self._plain_line() + "\n")

    def _finish_line(self) -> None:
        if self.enabled and self.interactive and self._drawn:
            if self._dirty:
                self._draw(self._clock())
            self._write("\n")
        self._drawn = False

    def _draw(self, now: float) -> None:
        self._last_draw = now
        self._drawn = True
        self._dirty = False
        self._write(_CLEAR_LINE + self._live_line())

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            # A closed or broken stderr must not break the work it reports on.
            self.enabled = False

    def _columns(self) -> int:
        if self._width is not None:
            return self._width
        try:
            columns = os.get_terminal_size(self._stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            columns = shutil.get_terminal_size().columns
        # Some terminals (a serial console, `script`, some CI runners) report
        # 0 columns: that means "unknown", not "nothing fits".
        return columns if columns > 0 else 80

    def _amount(self, value: float) -> str:
        return format_bytes(value) if self.unit == "B" else f"{int(value)}"

    def _counts(self) -> str:
        if self.total is None:
            done = self._amount(self.completed)
            return done if self.unit == "B" else f"{done} items"
        if self.unit == "B":
            return f"{format_bytes(self.completed)}/{format_bytes(self.total)}"
        return f"{self.completed}/{self.total}"

    def _plain_line(self) -> str:
        fraction = self.fraction
        if fraction is not None:
            return f"{self.label}: {int(fraction * 100)}% ({self._counts()})"
        if self.completed:
            return f"{self.label}: {self._counts()}"
        return self.label

    def _figures(self) -> str:
        counts = self._counts()
        if self.total is not None:
            # Pad to the widest the counts can get so the line does not jitter.
            widest = f"{self._amount(888 * 10**12 if self.unit == 'B' else self.total)}"
            counts = counts.rjust(2 * len(widest) + 1)
        rate = self.rate
        per = "/s" if self.unit == "B" else " items/s"
        shown_rate = "" if rate is None else f"{self._amount(rate)}{per}"
        remaining = self.remaining
        eta = "" if remaining is None or self._is_done() else format_duration(remaining)
        rate_width = 10 if self.unit == "B" else 14
        return f"{counts}  {shown_rate:>{rate_width}}  {eta:>6}"

    def _live_line(self) -> str:
        columns = max(20, self._columns() - 1)
        fraction = self.fraction
        if fraction is None and not self.completed:
            return self.label[:columns]
        figures = self._figures()
        if fraction is None:
            return f"{self.label}  {figures}".rstrip()[:columns]
        percent = f"{int(fraction * 100):3d}%"
        room = columns - len(self.label) - len(percent) - len(figures) - 6
        if room < _BAR_MIN:
            return f"{self.label}  {percent}  {figures}".rstrip()[:columns]
        size = min(_BAR_MAX, room)
        filled = int(fraction * size)
        bar = self._fill * filled + " " * (size - filled)
        line = f"{self.label}  {percent} {self._left}{bar}{self._right} {figures}"
        return line.rstrip()
