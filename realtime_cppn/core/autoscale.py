"""Automatic render scale: the fraction of the window the network is evaluated at, chosen each
frame so the show holds a target frame rate without the picture pumping. Plain Python.

The app feeds ``AutoScale.update(cost, scale)`` once per frame with the frame's cost in seconds
(its own work: draw, present, overlay, up to the GPU being done; not the wait for vsync, which
would hide any headroom) and gets the scale to use next. Scales sit on a ladder ``2^(-k/4)``
from 1 down to 1/8: each rung changes the pixel count, hence the network's cost, by sqrt(2).

Hysteresis, so the scale settles instead of oscillating:

- the cost is smoothed (exponential average over ~10 frames), restarted after every change
  (the old scale's cost says nothing about the new one) once ``settle`` frames have passed;
- **down** when the smoothed cost exceeds the budget (1 / target fps) by more than 15% for
  ``down_frames`` frames in a row, or for ``down_seconds`` of frames where each takes long
  (a slide show of 3 s frames must not wait 45 s); as many rungs as the overshoot needs
  (cost ~ pixels). The settling after a change likewise ends after ``settle_seconds``;
- **up** only when the cost predicted one rung up (cost x sqrt(2)) stays under 85% of the
  budget for ``up_frames`` frames in a row, i.e. the frame uses under ~60% of its budget;
- a rung left downward soon after it was entered upward (the cost model was wrong for this
  GPU: a cliff, a fixed cost) is barred from being re-entered for a back-off time that doubles
  each time (and the scale returns to the rung it came from), so even a misleading GPU sees
  at most a few changes, ever fewer.

Where even the lowest rung runs over budget for ``down_frames`` frames, the mode aims at
``fallback`` fps instead (30: smooth enough for motion) and, should that fail too, says so
(``short``): the window then suggests a smaller window or network. ``reset`` (a new window
size) aims at the target again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import CPPNError

LADDER: tuple[float, ...] = tuple(2.0 ** (-k / 4) for k in range(13))  # 1 .. 0.125
_STEP = math.sqrt(2.0)  # cost ratio between neighbouring rungs (pixels ~ scale^2)


def rung(scale: float) -> int:
    """The ladder index nearest ``scale`` (on a log scale)."""
    s = min(max(scale, LADDER[-1]), 1.0)
    return min(range(len(LADDER)), key=lambda i: abs(math.log(LADDER[i]) - math.log(s)))


@dataclass
class AutoScale:
    target_fps: float
    over: float = 1.15  # down when the smoothed cost is above this fraction of the budget
    headroom: float = 0.85  # up when the next rung's predicted cost is below this fraction
    down_frames: int = 10
    up_frames: int = 60  # slow to go up: a brief lull must not start a pump
    settle: int = 5  # frames ignored after a change (the change's own hiccup)
    down_seconds: float = 0.5  # ... or frames over budget for this long in a row
    settle_seconds: float = 0.25  # ... or frames ignored for this long
    smoothing: float = 0.1
    backoff: int = 600  # frames a failed rung is barred for at first; doubles each time
    revisit: int = 300  # a down step within this many frames of entering the rung upward fails it
    fallback: float = 30.0  # the rate aimed at where the lowest rung cannot hold target_fps
    changes: int = field(default=0, init=False)  # scale changes so far (for tests and the overlay)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.target_fps) and self.target_fps > 0):
            raise CPPNError(f"auto scale needs a positive target fps, got {self.target_fps}")
        self.frame = 0
        self.cost = 0.0  # the smoothed cost, seconds
        self._since_change = 0
        self._measured = 0
        self._over = 0
        self._under = 0
        self._entered_up: dict[int, int] = {}  # rung -> frame it was entered by an up step
        self._barred: dict[int, int] = {}  # rung -> first frame it may be entered again
        self._fails: dict[int, int] = {}
        self._over_s = self._settle_s = 0.0  # seconds of the over streak and of settling
        self.aim = self.target_fps  # the rate held: target_fps, or fallback where it cannot be
        self.short = False  # even the lowest rung runs over the budget of ``aim``

    @property
    def budget(self) -> float:
        return 1.0 / self.aim

    def reset(self) -> None:
        """Forget the measurements (the window changed size, the network changed) and aim at
        the target again."""
        self._restart()
        self.aim, self.short = self.target_fps, False

    def _restart(self) -> None:
        self._since_change = self._measured = self._over = self._under = 0
        self._over_s = self._settle_s = 0.0

    def why(self, scale: float) -> str:
        """Why the scale is what it is, for the badge and the info overlay."""
        if self.short:
            return (f"scale {scale:.2g} cannot hold {self.aim:g} fps: "
                    f"try a smaller window or network")
        if self.aim != self.target_fps:
            return f"scale {scale:.2g} for {self.aim:g} fps ({self.target_fps:g} out of reach)"
        return f"scale {scale:.2g} for {self.aim:g} fps"

    def update(self, cost: float, scale: float) -> float:
        """The scale for the next frame, given this frame's ``cost`` (seconds) at ``scale``."""
        self.frame += 1
        here = rung(scale)
        if not (math.isfinite(cost) and cost >= 0):
            return LADDER[here]
        if self._since_change < self.settle and self._settle_s < self.settle_seconds:
            self._since_change += 1
            self._settle_s += cost
            return LADDER[here]
        self.cost = cost if self._measured == 0 else \
            self.cost + self.smoothing * (cost - self.cost)
        self._measured += 1
        budget = self.budget
        over = self.cost > self.over * budget
        self._over, self._over_s = (self._over + 1, self._over_s + cost) if over else (0, 0.0)
        if over and self._over_s >= self.down_seconds:
            self._over = max(self._over, self.down_frames)
        up_ok = here > 0 and self.frame >= self._barred.get(here - 1, 0) and \
            self.cost * _STEP < self.headroom * budget
        self._under = self._under + 1 if up_ok else 0
        if self._over >= self.down_frames and here == len(LADDER) - 1:
            if self.aim > self.fallback:  # the lowest scale cannot hold the target: aim lower
                self.aim = self.fallback
                self._restart()
            else:
                self.short = True
            return LADDER[here]
        if self.short and self.cost <= budget:
            self.short = False
        if self._over >= self.down_frames and here < len(LADDER) - 1:
            steps = max(1, math.ceil(math.log(self.cost / budget) / math.log(_STEP)))
            entered = self._entered_up.pop(here, None)
            if entered is not None and self.frame - entered <= self.revisit:
                fails = self._fails[here] = self._fails.get(here, 0) + 1
                self._barred[here] = self.frame + self.backoff * 2 ** (fails - 1)
                steps = 1  # back to the rung it came from, which held the rate
            return self._change(min(here + steps, len(LADDER) - 1))
        if self._under >= self.up_frames:
            self._entered_up[here - 1] = self.frame
            return self._change(here - 1)
        return LADDER[here]

    def _change(self, new: int) -> float:
        self.changes += 1
        self._restart()
        return LADDER[new]
