"""A one-line progress bar with rate and ETA for offline renders, fits and replays."""

from __future__ import annotations

import time

import numpy as np


class Progress:
    """A one-line progress bar with rate and ETA, redrawn at most ~10 times a second.
    ``unit`` names what is counted ("frames": the rate reads fps; "steps": steps/s)."""

    def __init__(self, total: int, stream, width: int = 30, interval: float = 0.1,
                 unit: str = "frames") -> None:
        self.total = max(int(total), 1)
        self.unit = unit
        self.stream = stream
        self.width = width
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        # Not a terminal (a log file): a plain line every few seconds instead of redraws.
        self.interval = interval if self.tty else 5.0
        self.start = time.perf_counter()
        self._last = -1e9
        self._width = 0  # characters of the line on screen: a shorter one must cover them
        self.done = 0

    def update(self, done: int) -> None:
        self.done = done
        now = time.perf_counter()
        if now - self._last < self.interval and done < self.total:
            return
        self._last = now
        text = self.line(now)
        if self.tty:
            text, self._width = "\r" + text.ljust(self._width), max(self._width, len(text))
        else:
            text += "\n"
        self.stream.write(text)
        self.stream.flush()

    def line(self, now: float | None = None) -> str:
        now = time.perf_counter() if now is None else now
        elapsed = now - self.start
        frac = self.done / self.total
        fill = int(round(self.width * frac))
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        per_s = "fps" if self.unit == "frames" else f"{self.unit}/s"
        return (f"[{'#' * fill}{'.' * (self.width - fill)}] {self.done}/{self.total} {self.unit} "
                f"{rate:5.1f} {per_s}  ETA {_clock(eta)}")

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "--:--"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
