"""What a network costs before it is built, and whether this renderer can afford it. Plain Python.

A network config (``Scene.network``: width, depth, inputs, z size, outputs) fixes its work:

- **per frame**: multiply-adds per pixel (``macs_per_pixel``: the sum of in x out over the
  layers, the latent folded into the first bias as the renderer does) times the pixels drawn;
- **to build**: its parameter count (``parameters``): torch draws each one, the export copies
  it, the renderer uploads it; ``build_bytes`` is the peak memory of that.

``Budget`` compares the work with what this renderer has shown it can do: a throughput per
render path in multiply-adds per second, starting from a conservative prior (``PRIORS``) and
raised by frames actually drawn (``Budget.observe``: each frame's interval is a lower bound of
its speed, so the estimate never exceeds what the machine did). A network whose frame would
take longer than ``FRAME_LIMIT_S`` at the current render size, or whose build would need more
than ``BUILD_LIMIT_BYTES``, is refused with the reason; the width and depth ranges themselves
(1..1024, 1..64) stay, so the same network is accepted in a smaller window, at a lower render
scale or on a faster GPU.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

from .errors import CPPNError

FRAME_LIMIT_S = 2.0  # longest a frame may take: past this the show reads as frozen
# Peak bytes a build may take: torch's float32 parameters, the export's float64 copies and the
# float32 spec (about 16 bytes a parameter). The largest network in range, 1024 x 64, needs
# ~1.1 GB; the limit keeps two such builds (one running, one cached) within a laptop's memory.
BUILD_LIMIT_BYTES = 1 << 31
BYTES_PER_PARAMETER = 16
# Multiply-adds per second a render path is trusted with before any frame was measured: below
# what this 2-core llvmpipe machine measured on the cpu path (numpy), and below any discrete or
# integrated GPU of the last decade for the shader paths.
PRIORS: dict[str, float] = {"cpu": 2e9, "compute": 5e10, "fragment": 5e10}
DEFAULT_PRIOR = 2e9
SEARCH_LIMIT_PARAMETERS = 1 << 18  # a liveliness search builds ~12 candidates: only small ones
OBSERVE_RUN = 4  # frames of one workload before they count (the slowest of them is trusted)
MIN_OBSERVED_S = 1e-4  # shorter frame intervals are timer noise, not throughput

# model.CPPNConfig defaults for the fields the cost depends on (tests check they agree).
DEFAULTS: dict[str, Any] = {"width": 32, "depth": 4, "inputs": ("x", "y", "r"), "z_dim": 8,
                            "out_channels": 3}


def layer_sizes(network: Mapping[str, Any]) -> list[int] | None:
    """[inputs + z, width x depth, outputs], or None when the config is not one a model takes
    (the model's own validation then names the problem)."""
    net = {**DEFAULTS, **network}
    try:
        width, depth, z_dim, out = (net["width"], net["depth"], net["z_dim"],
                                    net["out_channels"])
        if any(isinstance(v, bool) or not isinstance(v, int) for v in (width, depth, z_dim, out)):
            return None
        inputs = len(net["inputs"])
    except (TypeError, KeyError):
        return None
    if min(width, depth, inputs, out) < 1 or z_dim < 0:
        return None
    return [inputs + z_dim] + [width] * depth + [out]


def macs_per_pixel(network: Mapping[str, Any]) -> int | None:
    """Multiply-adds per pixel, as ``NetworkSpec.macs_per_pixel`` counts them (z folded)."""
    sizes = layer_sizes(network)
    if sizes is None:
        return None
    n_inputs = len({**DEFAULTS, **network}["inputs"])
    return sizes[1] * n_inputs + sum(a * b for a, b in zip(sizes[1:], sizes[2:]))


def parameters(network: Mapping[str, Any]) -> int | None:
    """Weights and biases the network has."""
    sizes = layer_sizes(network)
    if sizes is None:
        return None
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def build_bytes(network: Mapping[str, Any]) -> int | None:
    n = parameters(network)
    return None if n is None else n * BYTES_PER_PARAMETER


def searchable(network: Mapping[str, Any]) -> bool:
    """Whether a liveliness search (a dozen candidate builds) is cheap enough for one frame."""
    n = parameters(network)
    return n is not None and n <= SEARCH_LIMIT_PARAMETERS


def describe(network: Mapping[str, Any]) -> str:
    net = {**DEFAULTS, **network}
    return f"{net['width']} x {net['depth']}"


class Budget:
    """Per render path, the throughput this renderer has shown; checks networks against it."""

    def __init__(self, frame_limit_s: float | None = FRAME_LIMIT_S,
                 build_limit_bytes: int = BUILD_LIMIT_BYTES,
                 priors: Mapping[str, float] | None = None, measure: bool = True) -> None:
        self.frame_limit_s = frame_limit_s  # None: no frame limit (offline renders)
        self.build_limit_bytes = build_limit_bytes
        self.rates: dict[str, float] = dict(PRIORS if priors is None else priors)
        self.measure = measure
        self._run: deque[float] = deque(maxlen=OBSERVE_RUN)
        self._run_key: tuple | None = None
        self.refused = 0  # networks refused so far

    def rate(self, path: str) -> float:
        """Multiply-adds per second trusted on ``path``."""
        return self.rates.get(path, DEFAULT_PRIOR)

    def observe(self, path: str, macs: float, seconds: float, key: Any = None) -> None:
        """One frame of ``macs`` multiply-adds drawn in ``seconds`` of wall time (``key`` names
        the workload: the network and size). After ``OBSERVE_RUN`` frames of one workload the
        slowest of them raises the path's rate if it beats it; the rate never goes down, as a
        slow frame (a vsync wait, another program) says nothing about the machine's speed."""
        if not self.measure or macs <= 0 or not math.isfinite(seconds) or \
                seconds < MIN_OBSERVED_S:
            return
        run_key = (path, key, macs)
        if run_key != self._run_key:
            self._run_key = run_key
            self._run.clear()
        self._run.append(macs / seconds)
        if len(self._run) == OBSERVE_RUN:
            self.rates[path] = max(self.rate(path), min(self._run))

    def frame_seconds(self, network: Mapping[str, Any], pixels: int, path: str) -> float | None:
        """Predicted seconds of one frame of ``network`` at ``pixels`` pixels."""
        macs = macs_per_pixel(network)
        return None if macs is None else macs * max(pixels, 1) / self.rate(path)

    def check(self, network: Mapping[str, Any], pixels: int, path: str) -> None:
        """Refuse (a CPPNError with the reason) a network this renderer cannot build or draw
        within the limits; a config the model would refuse passes here (the model names it)."""
        need = build_bytes(network)
        if need is None:
            return
        if need > self.build_limit_bytes:
            self.refused += 1
            raise CPPNError(f"{describe(network)} needs ~{need / 2**30:.1f} GiB to build "
                            f"(limit {self.build_limit_bytes / 2**30:.1f} GiB)")
        if self.frame_limit_s is None:
            return
        seconds = self.frame_seconds(network, pixels, path)
        if seconds is not None and seconds > self.frame_limit_s:
            self.refused += 1
            macs = macs_per_pixel(network) or 0
            fits = self.frame_limit_s * self.rate(path) / macs
            raise CPPNError(
                f"{describe(network)} would take ~{seconds:.3g} s a frame at {pixels} pixels "
                f"({macs * pixels / 1e9:.3g} GMAC; this {path} path has shown "
                f"{self.rate(path) / 1e9:.3g} GMAC/s; limit {self.frame_limit_s:g} s): refused "
                f"(it fits in {max(int(fits), 0)} pixels: a smaller window or render scale)")
