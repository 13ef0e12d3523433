"""What a network costs before it is built, and whether this renderer can afford it. Plain Python.

A network config (``Scene.network``: width, depth, inputs, z size, outputs) fixes its work:

- **per frame**: multiply-adds per pixel (``macs_per_pixel``: the sum of in x out over the
  layers, the latent folded into the first bias as the renderer does) plus a weight per
  activation (``work_per_pixel``), times the pixels drawn, plus a fixed cost per layer;
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
# Work (multiply-add equivalents, ``work_per_pixel``) per second a render path is trusted with
# before any frame was measured: near the slowest this 2-core llvmpipe machine's cpu path
# (numpy) measured while loaded (3.4e9 for 32 x 4, 2.5e10 for 256 x 8), and below any discrete
# or integrated GPU of the last decade for the shader paths; ``software`` is a shader path on a
# software rasterizer (llvmpipe), slower than numpy on the same cores.
PRIORS: dict[str, float] = {"cpu": 4e9, "compute": 5e10, "fragment": 5e10, "software": 2e9}
DEFAULT_PRIOR = 4e9
# An activation costs more than a multiply-add (tanh, sin: a few dozen flops) and every layer
# is a pass with a fixed cost (on the cpu path a numpy call per tile and thread). Measured on
# this machine's cpu path: 32 x 64 at 320x240 took 3.5 s where its MACs alone predict 1.9 s.
ACTIVATION_WORK = 24  # multiply-add equivalents per activation
LAYER_SECONDS: dict[str, float] = {"cpu": 5e-3, "compute": 1e-4, "fragment": 1e-4,
                                   "software": 5e-3}
# A liveliness search builds and draws ~12 candidates in one frame: only small, shallow ones.
SEARCH_LIMIT_PARAMETERS = 1 << 18
SEARCH_LIMIT_DEPTH = 8
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


def work_per_pixel(network: Mapping[str, Any]) -> int | None:
    """Multiply-add equivalents per pixel: the MACs plus ``ACTIVATION_WORK`` per unit."""
    sizes, macs = layer_sizes(network), macs_per_pixel(network)
    if sizes is None or macs is None:
        return None
    return macs + ACTIVATION_WORK * sum(sizes[1:])


def spec_work_per_pixel(spec: Any) -> int:
    """``work_per_pixel`` of a built ``NetworkSpec`` (what a drawn frame is measured by)."""
    return spec.macs_per_pixel + ACTIVATION_WORK * sum(lay.weight.shape[0] for lay in spec.layers)


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
    n, sizes = parameters(network), layer_sizes(network)
    return n is not None and sizes is not None and n <= SEARCH_LIMIT_PARAMETERS and \
        len(sizes) - 2 <= SEARCH_LIMIT_DEPTH


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
        self._seen: dict[str, dict[int, float]] = {}  # path -> width -> best rate measured
        self.refused = 0  # networks refused so far

    def rate(self, path: str, width: int | None = None) -> float:
        """Work per second trusted on ``path`` for networks of ``width``: the best seen with
        networks no wider (narrow layers use the machine less well), else the prior."""
        seen = [r for w, r in self._seen.get(path, {}).items() if width is None or w <= width]
        return max([self.rates.get(path, DEFAULT_PRIOR), *seen])

    def observe(self, path: str, work: float, seconds: float, width: int = 0) -> None:
        """One frame of ``work`` drawn in ``seconds`` of wall time by a network ``width`` wide.
        After ``OBSERVE_RUN`` frames of one workload the slowest of them raises the trusted
        rate for that width if it beats it; it never goes down, as a slow frame (a vsync wait,
        another program) says nothing about the machine's speed."""
        if not self.measure or work <= 0 or not math.isfinite(seconds) or \
                seconds < MIN_OBSERVED_S:
            return
        run_key = (path, width, work)
        if run_key != self._run_key:
            self._run_key = run_key
            self._run.clear()
        self._run.append(work / seconds)
        if len(self._run) == OBSERVE_RUN:
            seen = self._seen.setdefault(path, {})
            seen[width] = max(seen.get(width, 0.0), min(self._run))

    def frame_seconds(self, network: Mapping[str, Any], pixels: int, path: str) -> float | None:
        """Predicted seconds of one frame of ``network`` at ``pixels`` pixels."""
        work, sizes = work_per_pixel(network), layer_sizes(network)
        if work is None or sizes is None:
            return None
        layers = (len(sizes) - 1) * LAYER_SECONDS.get(path, LAYER_SECONDS["cpu"])
        return work * max(pixels, 1) / self.rate(path, sizes[1]) + layers

    def pixels_within(self, network: Mapping[str, Any], path: str) -> float | None:
        """How many pixels a frame of ``network`` may draw within the frame limit (None: no
        limit applies, or the model would refuse the config itself)."""
        if self.frame_limit_s is None:
            return None
        work, sizes = work_per_pixel(network), layer_sizes(network)
        if work is None or sizes is None:
            return None
        fixed = (len(sizes) - 1) * LAYER_SECONDS.get(path, LAYER_SECONDS["cpu"])
        return max(self.frame_limit_s - fixed, 0.0) * self.rate(path, sizes[1]) / max(work, 1)

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
            work = work_per_pixel(network) or 1
            rate = self.rate(path, (layer_sizes(network) or [0, 0])[1])
            fits = self.pixels_within(network, path) or 0.0
            raise CPPNError(
                f"{describe(network)} would take ~{seconds:.3g} s a frame at {pixels} pixels "
                f"({work * pixels / 1e9:.3g} GMAC; this {path} path has shown "
                f"{rate / 1e9:.3g} GMAC/s; limit {self.frame_limit_s:g} s): refused "
                f"(it fits in {int(fits)} pixels: a smaller window or render scale)")
