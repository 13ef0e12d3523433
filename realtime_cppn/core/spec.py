"""NetworkSpec, View and the coordinate grid: the plain-numpy description of what the shader evaluates.

A NetworkSpec is what crosses the torch -> GLSL boundary: per layer a float32 weight matrix
(out, in), a bias (out,) and an activation name. The first layer's inputs are the coordinate
features named by ``inputs`` followed by the ``z_dim`` latent values.

Coordinate convention (shared by ``coords`` and every shader): pixel centres; the shorter side of
the image spans [-1, 1] so circles stay round; x grows to the right, y grows upwards; row 0 of an
image is its top row. Then symmetry folds the screen point, and the network sees
``centre + scale * point``; ``r`` is the length of that, ``b`` the constant 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from . import activations
from .errors import CPPNError

INPUTS = ("x", "y", "r", "b")  # every coordinate feature a network may read, in canonical order
OUTPUT_CHANNELS = (1, 2, 3)  # mono, uv pair, rgb
MAX_Z = 256


@dataclass(frozen=True, eq=False)
class Layer:
    weight: np.ndarray  # (out, in) float32
    bias: np.ndarray  # (out,) float32
    activation: str

    @property
    def shape(self) -> tuple[int, int]:
        return self.weight.shape  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class NetworkSpec:
    inputs: tuple[str, ...]
    z_dim: int
    layers: tuple[Layer, ...]
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.inputs or any(i not in INPUTS for i in self.inputs):
            raise CPPNError(f"inputs must be chosen from {INPUTS}, got {self.inputs!r}")
        if len(set(self.inputs)) != len(self.inputs):
            raise CPPNError(f"inputs repeat a feature: {self.inputs!r}")
        if not 0 <= self.z_dim <= MAX_Z:
            raise CPPNError(f"z size must be in 0..{MAX_Z}, got {self.z_dim}")
        if not self.layers:
            raise CPPNError("a network needs at least one layer")
        fan_in = len(self.inputs) + self.z_dim
        for i, layer in enumerate(self.layers):
            activations.get(layer.activation)
            w, b = layer.weight, layer.bias
            if w.ndim != 2 or b.shape != (w.shape[0],) or w.shape[1] != fan_in:
                raise CPPNError(
                    f"layer {i}: weight {w.shape} and bias {b.shape} do not take {fan_in} inputs"
                )
            if not (np.isfinite(w).all() and np.isfinite(b).all()):
                raise CPPNError(f"layer {i} has non-finite weights")
            fan_in = w.shape[0]
        if fan_in not in OUTPUT_CHANNELS:
            raise CPPNError(f"the last layer must have 1, 2 or 3 outputs, not {fan_in}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise CPPNError(f"scale must be a positive number, got {self.scale}")

    @property
    def out_channels(self) -> int:
        return self.layers[-1].weight.shape[0]

    @property
    def architecture(self) -> tuple:
        """What the generated GLSL depends on: equal architectures share one compiled program."""
        return (self.inputs, self.z_dim, tuple((*lay.shape, lay.activation) for lay in self.layers))

    @property
    def macs_per_pixel(self) -> int:
        """Useful multiply-adds per pixel (z is folded into the first bias on the host)."""
        first = self.layers[0].weight.shape[0] * len(self.inputs)
        return first + sum(lay.weight.size for lay in self.layers[1:])

    def first_bias(self, z: np.ndarray | None) -> np.ndarray:
        """The first layer's bias with the latent term W_z z folded in: z is constant per frame."""
        layer = self.layers[0]
        bias = layer.bias.astype(np.float64)
        if self.z_dim:
            z = self.check_z(z)
            bias = bias + layer.weight[:, len(self.inputs):].astype(np.float64) @ z
        return bias.astype(np.float32)

    def check_z(self, z: np.ndarray | None) -> np.ndarray:
        if z is None:
            return np.zeros(self.z_dim)
        z = np.asarray(z, dtype=np.float64).reshape(-1)
        if z.shape != (self.z_dim,):
            raise CPPNError(f"z must have {self.z_dim} values, got {z.size}")
        if not np.isfinite(z).all():
            raise CPPNError("z has non-finite values")
        return z

    def with_weights_of(self, other: NetworkSpec) -> NetworkSpec:
        if other.architecture != self.architecture:
            raise CPPNError("networks of different architectures cannot share weights")
        return replace(self, layers=other.layers)


MIRRORS = ("none", "x", "y", "xy")
KALEIDO_RANGE = range(2, 13)  # n-fold kaleidoscopes, k2 .. k12
SYMMETRIES = (*MIRRORS, *(f"k{n}" for n in KALEIDO_RANGE))
COLOR_MODES = ("rgb", "hsv", "palette")  # how outputs become colour (uv networks sample a texture)
WRAPS = ("clamp", "repeat", "mirror")

# Cosine palettes c(t) = a + b * cos(2 pi (c t + d)) (Inigo Quilez): smooth gradients for mono nets.
PALETTES: dict[str, tuple[tuple[float, float, float], ...]] = {
    "rainbow": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), (0.0, 0.33, 0.67)),
    "fire": ((0.5, 0.3, 0.1), (0.5, 0.4, 0.2), (1.0, 1.0, 1.0), (0.0, 0.1, 0.2)),
    "ocean": ((0.2, 0.5, 0.6), (0.2, 0.4, 0.4), (1.0, 1.0, 1.0), (0.5, 0.3, 0.2)),
    "neon": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), (2.0, 1.0, 0.0), (0.5, 0.2, 0.25)),
}


@dataclass(frozen=True)
class View:
    """How screen pixels become network coordinates, and how outputs become colour."""

    zoom: float = 1.0  # > 1 magnifies: the network sees scale / zoom
    center: tuple[float, float] = (0.0, 0.0)
    # none | x | y | xy (abs() of the screen coordinates, as in the seed) | kN: n-fold kaleidoscope
    symmetry: str = "none"
    color: str = "rgb"  # rgb | hsv (outputs read as hue, saturation, value) | palette (mono)
    palette: str = "rainbow"
    wrap: str = "mirror"  # uv networks: how texture coordinates outside [0, 1] wrap
    uv_normalize: bool = False  # the seed's per-frame min/max stretch of the uv map (flickers)
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.symmetry not in SYMMETRIES:
            raise CPPNError(
                f"unknown symmetry {self.symmetry!r}; valid: none, x, y, xy, k2 .. k12"
            )
        if not (math.isfinite(self.zoom) and self.zoom > 0):
            raise CPPNError(f"zoom must be a positive number, got {self.zoom}")
        if len(self.center) != 2 or not all(math.isfinite(c) for c in self.center):
            raise CPPNError(f"center must be two finite numbers, got {self.center!r}")
        if self.color not in COLOR_MODES:
            raise CPPNError(f"unknown colour mode {self.color!r}; valid: {', '.join(COLOR_MODES)}")
        if self.palette not in PALETTES:
            raise CPPNError(f"unknown palette {self.palette!r}; valid: {', '.join(PALETTES)}")
        if self.wrap not in WRAPS:
            raise CPPNError(f"unknown wrap mode {self.wrap!r}; valid: {', '.join(WRAPS)}")

    @property
    def symmetry_code(self) -> int:
        """0..3 for the mirrors; 0 when a kaleidoscope is on (see ``kaleido``)."""
        return MIRRORS.index(self.symmetry) if self.symmetry in MIRRORS else 0

    @property
    def kaleido(self) -> int:
        """Fold count of the kaleidoscope, 0 for none."""
        return int(self.symmetry[1:]) if self.symmetry.startswith("k") else 0

    @property
    def color_code(self) -> int:
        return COLOR_MODES.index(self.color) + 1  # 0 is raw outputs

    @property
    def wrap_code(self) -> int:
        return WRAPS.index(self.wrap)


def check_size(size: tuple[int, int], limit: int | None = None) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise CPPNError(f"size must be (width, height), got {size!r}") from None
    if w < 1 or h < 1:
        raise CPPNError(f"size must be at least 1x1, got {w}x{h}")
    if limit is not None and (w > limit or h > limit):
        raise CPPNError(f"size {w}x{h} exceeds this GPU's texture limit of {limit}")
    return w, h


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080)."""
    parts = str(text).lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise CPPNError(f"size must look like 1920x1080, got {text!r}")
    return check_size((int(parts[0]), int(parts[1])))


def screen_points(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Screen x, y (float64, (H, W)) of each pixel centre, top row first."""
    w, h = check_size(size)
    short = min(w, h)
    x = (2.0 * (np.arange(w) + 0.5) - w) / short  # (W,)
    y = (h - 2.0 * (np.arange(h) + 0.5)) / short  # (H,) top row has the largest y
    return np.broadcast_to(x, (h, w)), np.broadcast_to(y[:, None], (h, w))


def fold(x: np.ndarray, y: np.ndarray, view: View) -> tuple[np.ndarray, np.ndarray]:
    """Symmetry on screen points, exactly as common.glsl's network_point does it."""
    if view.symmetry in ("x", "xy"):
        x = np.abs(x)
    if view.symmetry in ("y", "xy"):
        y = np.abs(y)
    n = view.kaleido
    if n:
        # Dihedral fold: angle into [0, pi/n] (mirror within each of n sectors), radius kept.
        # float32 like the shader, so both land on the same side of a sector edge.
        sector = np.float32(2.0 * math.pi / n)
        a = np.arctan2(y, x).astype(np.float32)
        a = a - sector * np.floor(a / sector)
        a = np.where(a > sector / 2, sector - a, a).astype(np.float64)
        rad = np.hypot(x, y)
        x, y = rad * np.cos(a), rad * np.sin(a)
    return x, y


def coords(
    size: tuple[int, int],
    inputs: tuple[str, ...] = ("x", "y", "r"),
    scale: float = 1.0,
    view: View | None = None,
) -> np.ndarray:
    """The input grid the shader evaluates: (H, W, len(inputs)) float64, top row first."""
    view = view or View()
    x, y = screen_points(size)
    x, y = fold(x, y, view)
    s = scale / view.zoom
    x = view.center[0] + s * x
    y = view.center[1] + s * y
    feats = {"x": x, "y": y, "r": np.hypot(x, y), "b": np.ones_like(x)}
    return np.stack([feats[i] for i in inputs], axis=-1)
