"""Latent animation: closed z paths, the loop phase, and weight morphs. Plain numpy, no clock.

A path is a pure function of (seed, phase): each latent dimension is a sum of a few Fourier
harmonics of the loop, so z(phase) is smooth (C-infinity) and z(0) == z(1) exactly; a clip of any
whole number of loops is seamless. Time never enters here directly: the caller advances a
``Phase`` by the injected clock's delta times the speed, so changing speed or pausing changes only
the rate, never the position, and the picture cannot jump.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np

from .errors import CPPNError
from .spec import Layer, NetworkSpec

HARMONICS = 3  # more harmonics wander further per loop; 3 keeps motion slow and organic


@dataclass(frozen=True)
class LatentPath:
    """z(phase) for phase in [0, 1): one loop. ``amplitude`` scales the N(0, 1)-like wander."""

    seed: int
    z_dim: int
    amplitude: float = 1.0

    def coefficients(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Cached: drawing them costs ~70 us, a live frame evaluates z every frame.
        return _coefficients(int(self.seed) & 0xFFFFFFFF, self.z_dim)

    def __call__(self, phase: float) -> np.ndarray:
        """z at ``phase`` (loops, any real number): (z_dim,) float64."""
        if not self.z_dim:
            return np.zeros(0)
        k, a, b = self.coefficients()
        angle = 2.0 * math.pi * k * (phase % 1.0)  # (K,)
        return self.amplitude * (a @ np.cos(angle) + b @ np.sin(angle))

    def velocity(self, phase: float) -> np.ndarray:
        """dz/dphase: used by tests to check C1 continuity."""
        if not self.z_dim:
            return np.zeros(0)
        k, a, b = self.coefficients()
        angle = 2.0 * math.pi * k * (phase % 1.0)
        w = 2.0 * math.pi * k
        return self.amplitude * (-(a * w) @ np.sin(angle) + (b * w) @ np.cos(angle))


@functools.lru_cache(maxsize=256)
def _coefficients(seed: int, z_dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A path's Fourier coefficients (read-only arrays: every caller shares them)."""
    rng = np.random.default_rng([0x5EED, seed, z_dim])
    k = np.arange(1, HARMONICS + 1, dtype=np.float64)  # (K,)
    decay = 1.0 / k  # low harmonics dominate: smooth motion
    a = rng.normal(size=(z_dim, HARMONICS)) * decay
    b = rng.normal(size=(z_dim, HARMONICS)) * decay
    # Per-dimension variance over a loop is sum(a^2 + b^2) / 2: normalise it to 1.
    norm = np.sqrt(np.maximum((a**2 + b**2).sum(axis=1) / 2.0, 1e-12))[:, None]
    out = (k, a / norm, b / norm)
    for arr in out:
        arr.setflags(write=False)
    return out


@dataclass(frozen=True)
class Phase:
    """Position on the loop, advanced by clock deltas: ``phase += dt * speed / period``."""

    value: float = 0.0

    def advance(self, dt: float, speed: float, period: float, paused: bool = False) -> Phase:
        if period <= 0:
            raise CPPNError(f"loop period must be positive, got {period}")
        if paused or dt <= 0:
            return self
        return Phase(self.value + dt * speed / period)


def smoothstep(t: float) -> float:
    t = min(max(t, 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def blend(a: NetworkSpec, b: NetworkSpec, t: float) -> NetworkSpec:
    """Weights of ``a`` and ``b`` mixed by t in [0, 1] (eased): a morph is uploads only."""
    if a.architecture != b.architecture:
        raise CPPNError("only networks of the same architecture can morph")
    s = smoothstep(t)
    if s <= 0.0:
        return a
    if s >= 1.0:
        return b
    layers = tuple(
        Layer(
            ((1 - s) * la.weight + s * lb.weight).astype(np.float32),
            ((1 - s) * la.bias + s * lb.bias).astype(np.float32),
            la.activation,
        )
        for la, lb in zip(a.layers, b.layers)
    )
    return replace(a, layers=layers)
