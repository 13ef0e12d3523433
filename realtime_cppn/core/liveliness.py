"""Dead-network check: is a tiny render of a candidate network worth showing? Plain numpy.

A random CPPN can come out nearly flat, saturated to one colour, or pixel noise. The app renders
each candidate at 32x32 pixels (display colours in [0, 1]) and measures three things:

- **contrast**: the root-mean-square of the per-channel standard deviations over the image.
  Below ``MIN_CONTRAST`` (0.04, about 10 of 255 levels) the picture is flat.
- **saturation**: the share of pixels whose every channel is clipped (<= 0.02 or >= 0.98) to the
  same corner of the colour cube (black, white, pure red, ...). Above ``MAX_SATURATED`` (90%)
  the picture is one saturated colour with at most a few specks.
- **roughness**: the mean absolute difference between horizontally and vertically neighbouring
  pixels, divided by the contrast. A smooth picture scores well under 0.5; independent pixel noise
  scores about 1.13 (2 / sqrt(pi)). Above ``MAX_ROUGHNESS`` (0.8) the picture is noise.

A candidate passing all three is lively; reseeding draws again (a bounded number of times, then
keeps the liveliest candidate seen) until one passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

SIZE = (32, 32)  # enough to see structure, cheap enough to test several candidates per frame
MIN_CONTRAST = 0.04
MAX_SATURATED = 0.9
MAX_ROUGHNESS = 0.8
CLIP = 0.02
TRIES = 12


@dataclass(frozen=True)
class Liveliness:
    contrast: float
    saturated: float
    roughness: float

    @property
    def flat(self) -> bool:
        return self.contrast < MIN_CONTRAST

    @property
    def saturated_one_colour(self) -> bool:
        return self.saturated > MAX_SATURATED

    @property
    def noise(self) -> bool:
        return self.roughness > MAX_ROUGHNESS

    @property
    def lively(self) -> bool:
        return not (self.flat or self.saturated_one_colour or self.noise)

    @property
    def verdict(self) -> str:
        if self.flat:
            return "flat"
        if self.saturated_one_colour:
            return "saturated"
        return "noise" if self.noise else "lively"

    @property
    def score(self) -> float:
        """Higher is livelier: used to keep the best candidate when every try fails."""
        return (min(self.contrast / MIN_CONTRAST, 3.0) - self.saturated
                - max(self.roughness - MAX_ROUGHNESS, 0.0))


def measure(frame: np.ndarray) -> Liveliness:
    """Liveliness of a display frame: (H, W, C) floats in [0, 1] (uint8 is scaled)."""
    f = np.asarray(frame)
    if f.dtype == np.uint8:
        f = f.astype(np.float32) / 255.0
    f = f.astype(np.float64)
    if f.ndim == 2:
        f = f[:, :, None]  # (H, W, 1)
    contrast = float(np.sqrt(np.mean(f.reshape(-1, f.shape[-1]).var(axis=0))))
    low, high = f <= CLIP, f >= 1.0 - CLIP
    clipped = np.all(low | high, axis=-1)  # (H, W)
    if clipped.any():
        corner = high[clipped].astype(np.int64) @ (1 << np.arange(f.shape[-1]))  # colour id
        saturated = float(np.bincount(corner).max() / clipped.size)
    else:
        saturated = 0.0
    dx = np.abs(np.diff(f, axis=1)).mean() if f.shape[1] > 1 else 0.0
    dy = np.abs(np.diff(f, axis=0)).mean() if f.shape[0] > 1 else 0.0
    roughness = float((dx + dy) / 2.0 / max(contrast, 1e-9))
    return Liveliness(contrast, saturated, roughness)


def choose(candidates: Iterable[int], render: Callable[[int], np.ndarray],
           tries: int = TRIES) -> tuple[int, Liveliness]:
    """The first lively candidate seed (rendered by ``render(seed)``), within ``tries``;
    failing that, the liveliest seen."""
    best: tuple[float, int, Liveliness] | None = None
    for i, seed in enumerate(candidates):
        if i >= tries:
            break
        m = measure(render(seed))
        if m.lively:
            return seed, m
        if best is None or m.score > best[0]:
            best = (m.score, seed, m)
    if best is None:
        raise ValueError("no candidates to choose from")
    return best[1], best[2]
