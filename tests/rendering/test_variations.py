"""Symmetry, kaleidoscope, colour modes and uv remap: shader output against numpy/torch references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import realtime_cppn as rc
from realtime_cppn.core.spec import PALETTES, View

pytestmark = pytest.mark.gl


def _net(channels: int = 3, seed: int = 1, **kw) -> rc.CPPN:
    return rc.CPPN(width=8, depth=2, z_dim=0, out_channels=channels, seed=seed, **kw).double()


def _torch_outputs(net: rc.CPPN, size, view: View) -> np.ndarray:
    feats = torch.from_numpy(rc.coords(size, net.config.inputs, net.config.scale, view))
    with torch.no_grad():
        return net(feats).numpy()


def _display(renderer, net, size, view) -> np.ndarray:
    spec = rc.to_spec(net)
    renderer.set_network(spec)
    return renderer.read(renderer.draw(size, view, display=True), 3)


@pytest.mark.parametrize("symmetry", ["x", "y", "xy", "k2", "k5", "k12"])
def test_symmetry_matches_reference(renderer, symmetry):
    net, size, view = _net(), (48, 32), View(symmetry=symmetry)
    got = rc.render(rc.to_spec(net), size, view=view, renderer=renderer)
    ref = _torch_outputs(net, size, view)
    # Pixels on a kaleidoscope sector edge may fold either way in float32; they are few.
    bad = np.abs(got - ref).max(axis=-1) > 1e-4
    assert bad.mean() < 0.01, f"{bad.sum()} pixels differ"


@pytest.mark.parametrize("n", [3, 6, 7])
def test_kaleidoscope_is_invariant_under_its_rotation(n):
    # Coordinates of a point and of the same point rotated by 2 pi / n fold to the same place.
    view = View(symmetry=f"k{n}")
    rng = np.random.default_rng(n)
    x, y = rng.uniform(-1, 1, 500), rng.uniform(-1, 1, 500)
    a = 2 * math.pi / n
    xr, yr = x * math.cos(a) - y * math.sin(a), x * math.sin(a) + y * math.cos(a)
    from realtime_cppn.core.spec import fold

    p, q = np.stack(fold(x, y, view)), np.stack(fold(xr, yr, view))
    near_edge = np.abs(np.stack(fold(x, y, view))[1]) < 1e-5
    np.testing.assert_allclose(p[:, ~near_edge], q[:, ~near_edge], atol=1e-5)


def _hsv2rgb(c: np.ndarray) -> np.ndarray:
    k = np.array([1.0, 2.0 / 3.0, 1.0 / 3.0])
    p = np.abs(np.modf(c[..., :1] + k)[0] * 6.0 - 3.0)
    return c[..., 2:3] * (1.0 + c[..., 1:2] * (np.clip(p - 1.0, 0.0, 1.0) - 1.0))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("color", ["rgb", "hsv", "palette"])
def test_colour_modes(renderer, channels, color):
    net, size = _net(channels), (24, 16)
    view = View(color=color, palette="fire")
    o = _torch_outputs(net, size, View())
    if color == "palette":
        a, b, c, d = (np.array(v) for v in PALETTES["fire"])
        ref = a + b * np.cos(2 * np.pi * (c * o[..., :1] + d))
    elif color == "hsv":
        hsv = np.concatenate([o, np.ones_like(o), np.ones_like(o)], -1) if channels == 1 else o
        ref = _hsv2rgb(np.clip(hsv, 0, 1))
    else:
        ref = np.repeat(o, 3, -1) if channels == 1 else o
    got = _display(renderer, net, size, view)
    np.testing.assert_allclose(got, np.clip(ref, 0, 1), atol=2e-4)


@pytest.mark.parametrize("wrap", ["clamp", "repeat", "mirror"])
def test_uv_remap_samples_the_texture(renderer, wrap):
    # identity outputs push uv outside [0, 1], so every wrap mode is exercised.
    net, size = _net(2, output_activation="identity"), (32, 24)
    rng = np.random.default_rng(0)
    tex = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)  # non-square on purpose
    renderer.set_texture(tex, nearest=True)
    try:
        got = _display(renderer, net, size, View(wrap=wrap))
    finally:
        renderer.set_texture(None)
    uv = _torch_outputs(net, size, View())
    if wrap == "repeat":
        uv = uv - np.floor(uv)
    elif wrap == "mirror":
        uv = 1.0 - np.abs(np.mod(uv, 2.0) - 1.0)
    h, w = tex.shape[:2]
    # Texel borders can round either way in float32: skip uv that lie on one (inside [0, 1];
    # outside it, clamping picks the border texel unambiguously).
    scaled = uv * np.array([w, h])
    inside = (uv > 0.0) & (uv < 1.0)
    edge = ((np.abs(scaled - np.round(scaled)) < 1e-3) & inside).any(axis=-1)
    uv = np.clip(uv, 0.0, 1.0)
    col = np.clip(np.floor(uv[..., 0] * w), 0, w - 1).astype(int)
    row = np.clip(np.floor((1.0 - uv[..., 1]) * h), 0, h - 1).astype(int)  # v grows upwards
    ref = tex[row, col] / 255.0
    assert edge.mean() < 0.05
    np.testing.assert_allclose(got[~edge], ref[~edge], atol=1 / 255)


def test_uv_normalize_stretches_to_full_range(renderer):
    net, size = _net(2), (32, 32)
    gradient = np.zeros((2, 256, 3), np.uint8)
    gradient[..., 0] = np.arange(256)  # red encodes u
    renderer.set_texture(gradient)
    try:
        stable = _display(renderer, net, size, View())
        stretched = _display(renderer, net, size, View(uv_normalize=True))
    finally:
        renderer.set_texture(None)
    assert np.ptp(stretched[..., 0]) > np.ptp(stable[..., 0])
    assert stretched[..., 0].min() < 0.05 and stretched[..., 0].max() > 0.95
