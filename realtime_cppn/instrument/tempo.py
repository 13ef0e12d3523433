"""Tempo: tap tempo, BPM entry, x2 and /2, resync to beat one, beat and bar phase, quantisation.

Plain Python; time is always passed in (the app's injected clock, in seconds), never read here,
so a recorded set and the tests replay exactly. The beat grid is ``anchor + k * 60 / bpm``:
``anchor`` is a beat one. Changing the BPM keeps the current beat position, so the grid never
jumps; resync moves beat one to now. ``Quantizer`` holds actions until the next beat or bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..core.errors import CPPNError
from ..show.actions import Action

BPM_RANGE = (20.0, 300.0)
TAPS = 8  # taps averaged: enough to smooth a human's jitter, few enough to follow a change
TAP_RESET = 2.0  # seconds without a tap that start a new tap run (slower than 30 BPM)
QUANTA = ("beat", "bar")


def _check_bpm(bpm: float) -> float:
    if not (isinstance(bpm, (int, float)) and math.isfinite(bpm)):
        raise CPPNError(f"BPM must be a number, got {bpm!r}")
    return min(max(float(bpm), BPM_RANGE[0]), BPM_RANGE[1])


@dataclass(frozen=True)
class Tempo:
    """A beat grid. Immutable: every change returns a new Tempo."""

    bpm: float = 120.0
    anchor: float = 0.0  # clock time of a beat one
    beats_per_bar: int = 4
    taps: tuple[float, ...] = ()  # the current tap run, latest last

    def __post_init__(self) -> None:
        if not (isinstance(self.beats_per_bar, int) and 1 <= self.beats_per_bar <= 64):
            raise CPPNError(f"beats per bar must be 1..64, got {self.beats_per_bar!r}")
        object.__setattr__(self, "bpm", _check_bpm(self.bpm))

    @property
    def period(self) -> float:
        """Seconds per beat."""
        return 60.0 / self.bpm

    def beat(self, time: float) -> float:
        """Beats since beat one of the grid (the fraction is the beat phase)."""
        return (time - self.anchor) / self.period

    def beat_phase(self, time: float) -> float:
        return self.beat(time) % 1.0

    def bar_phase(self, time: float) -> float:
        return (self.beat(time) / self.beats_per_bar) % 1.0

    def beat_in_bar(self, time: float) -> int:
        """0 on beat one."""
        return int(math.floor(self.beat(time))) % self.beats_per_bar

    def next_time(self, time: float, quantum: str = "beat") -> float:
        """The clock time of the next beat (or bar start) strictly after ``time``."""
        if quantum not in QUANTA:
            raise CPPNError(f"quantise to one of {', '.join(QUANTA)}, got {quantum!r}")
        n = self.beats_per_bar if quantum == "bar" else 1
        k = math.floor(self.beat(time) / n + 1e-9) + 1
        return self.anchor + k * n * self.period

    def loop_seconds(self, bars: float) -> float:
        """The scene loop that lasts ``bars`` bars at this tempo."""
        if not (math.isfinite(bars) and bars > 0):
            raise CPPNError(f"loop length must be a positive number of bars, got {bars!r}")
        return bars * self.beats_per_bar * self.period

    def set_bpm(self, bpm: float, time: float) -> Tempo:
        """A new BPM, keeping the beat position at ``time`` (the grid does not jump)."""
        bpm = _check_bpm(bpm)
        beat = self.beat(time)
        return replace(self, bpm=bpm, anchor=time - beat * 60.0 / bpm)

    def double(self, time: float) -> Tempo:
        return self.set_bpm(self.bpm * 2.0, time)

    def half(self, time: float) -> Tempo:
        return self.set_bpm(self.bpm / 2.0, time)

    def resync(self, time: float) -> Tempo:
        """``time`` is beat one."""
        return replace(self, anchor=time)

    def tap(self, time: float) -> Tempo:
        """One tap: the BPM is the mean interval of the last ``TAPS`` taps; each tap is a beat.

        A tap after a gap of ``TAP_RESET`` seconds starts a new run (the old taps are from
        another song); the first tap of a run only sets the phase.
        """
        if not math.isfinite(time):
            raise CPPNError(f"tap time must be finite, got {time!r}")
        taps = self.taps
        if taps and (time - taps[-1] > TAP_RESET or time <= taps[-1]):
            taps = ()
        taps = (*taps, time)[-TAPS:]
        t = replace(self, taps=taps, anchor=time)  # a tap is on the beat
        if len(taps) >= 2:
            interval = (taps[-1] - taps[0]) / (len(taps) - 1)  # mean of the intervals
            t = replace(t, bpm=_check_bpm(60.0 / interval))
        return t


@dataclass(frozen=True)
class Pending:
    action: Action
    due: float


class Quantizer:
    """Holds actions until the next beat or bar of a Tempo; ``poll(time)`` releases the due ones.

    The due time is fixed when the action is queued, so a later tempo change does not delay or
    hurry an action already waiting.
    """

    def __init__(self) -> None:
        self.pending: list[Pending] = []

    def submit(self, action: Action, time: float, tempo: Tempo, quantum: str | None) -> None:
        """Queue ``action`` for the next ``quantum`` ("beat", "bar"; None: the next poll)."""
        due = time if quantum is None else tempo.next_time(time, quantum)
        self.pending.append(Pending(action, due))

    def poll(self, time: float) -> list[Action]:
        due = [p for p in self.pending if p.due <= time]
        self.pending = [p for p in self.pending if p.due > time]
        return [p.action for p in sorted(due, key=lambda p: p.due)]

    def clear(self) -> None:
        self.pending = []
