"""Injected clocks: where the live loop's time comes from. Plain Python.

Every clock answers ``tick() -> (time, dt)`` once per frame. ``WallClock`` follows real time (the
live show); ``FixedClock`` advances exactly ``1 / fps`` per frame, so frame n is at n / fps however
slow the renderer is (tests, recording). With ``pace=True`` a fixed clock also waits so frames are
not produced faster than real time (a live window without vsync must not spin the CPU).
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from typing import Protocol

from ..core.errors import CPPNError


class Clock(Protocol):
    def tick(self) -> tuple[float, float]: ...


class WallClock:
    """Seconds since the first tick (never decreasing); the first tick is (0, 0)."""

    def __init__(self, now: Callable[[], float] = _time.perf_counter) -> None:
        self._now = now
        self._start: float | None = None
        self._last = 0.0

    def tick(self) -> tuple[float, float]:
        t = self._now()
        if self._start is None:
            self._start = t
        t = max(t - self._start, self._last)  # never backwards, even if ``now`` is not monotonic
        dt, self._last = t - self._last, t
        return t, dt


class FixedClock:
    """Frame n is at time n / fps exactly (summing 1/fps would drift: n is counted instead)."""

    def __init__(self, fps: float, pace: bool = False,
                 now: Callable[[], float] = _time.perf_counter,
                 sleep: Callable[[float], None] = _time.sleep) -> None:
        if not fps > 0:
            raise CPPNError(f"fps must be positive, got {fps}")
        self.fps = float(fps)
        self.frame = -1
        self._pace = pace
        self._now, self._sleep = now, sleep
        self._start: float | None = None

    def tick(self) -> tuple[float, float]:
        self.frame += 1
        if self._pace:
            if self._start is None:
                self._start = self._now()
            wait = self._start + self.frame / self.fps - self._now()
            if wait > 0:
                self._sleep(wait)
        t = self.frame / self.fps
        return t, (1.0 / self.fps if self.frame else 0.0)
