"""Bad input fails with one clear CPPNError line; pack() lays weights out as documented; latent
paths loop seamlessly and the loop phase never jumps."""

from __future__ import annotations

import numpy as np
import pytest

from realtime_cppn.core import activations
from realtime_cppn.core.animation import LatentPath, Phase
from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.spec import Layer, NetworkSpec, check_size, parse_size
from realtime_cppn.rendering.codegen import glsl


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert text and "\n" not in text
    return text


def small_spec(z_dim: int = 2, widths=(5, 3), inputs=("x", "y", "r")) -> NetworkSpec:
    rng = np.random.default_rng(0)
    layers, fan_in = [], len(inputs) + z_dim
    for out in widths:
        layers.append(Layer(rng.normal(size=(out, fan_in)).astype(np.float32),
                            rng.normal(size=out).astype(np.float32), "tanh"))
        fan_in = out
    return NetworkSpec(tuple(inputs), z_dim, tuple(layers))


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [{"width": 0}, {"depth": 0}, {"width": -3}, {"depth": 1.5}])
def test_width_and_depth_below_one(kw):
    from realtime_cppn.nn.model import CPPN

    with pytest.raises(CPPNError, match="width|depth") as info:
        CPPN(**kw)
    one_line(info)


def test_unknown_activation_lists_valid_names():
    with pytest.raises(CPPNError) as info:
        activations.get("swish")
    text = one_line(info)
    assert "swish" in text
    for name in activations.NAMES:
        assert name in text
    with pytest.raises(CPPNError, match="valid: tanh"):
        small_spec().__class__(("x",), 0, (Layer(np.ones((1, 1), np.float32),
                                                 np.zeros(1, np.float32), "swish"),))


def test_registry_has_the_required_activations():
    required = {"tanh", "sigmoid", "sin", "cos", "tan", "sign", "relu", "abs", "gaussian",
                "softplus", "identity"}
    assert required <= set(activations.NAMES)


@pytest.mark.parametrize("size", [(0, 10), (10, 0), (0, 0), (-1, 5)])
def test_size_zero(renderer, size):
    renderer.set_network(small_spec(), None)
    with pytest.raises(CPPNError, match="at least 1x1") as info:
        renderer.draw(size)
    one_line(info)


def test_size_above_the_context_limit(renderer):
    renderer.set_network(small_spec(), None)
    limit = renderer.max_size
    assert limit >= 4096
    for size in [(limit + 1, 1), (1, limit + 1)]:
        with pytest.raises(CPPNError, match=f"limit of {limit}") as info:
            renderer.draw(size)
        one_line(info)


def test_z_of_the_wrong_length(renderer):
    spec = small_spec(z_dim=2)
    with pytest.raises(CPPNError, match="z must have 2 values, got 3"):
        renderer.set_network(spec, np.zeros(3))
    renderer.set_network(spec, np.zeros(2))
    with pytest.raises(CPPNError, match="z must have 2 values, got 1"):
        renderer.set_latent(np.zeros(1))
    with pytest.raises(CPPNError, match="non-finite"):
        renderer.set_latent(np.array([0.0, np.nan]))


def test_z_of_the_wrong_length_in_torch():
    import torch

    from realtime_cppn.nn.model import CPPN

    with pytest.raises(CPPNError, match="z must have 8 values, got 3"):
        CPPN(width=4, depth=1)(torch.zeros(5, 3), torch.zeros(3))


@pytest.mark.parametrize(
    "text", ["10", "10x", "x10", "axb", "10x10x10", "-5x5", "0x10", "10x0", "", "10 by 10",
             "1.5x2", "0x0"],
)
def test_malformed_size_strings(text):
    with pytest.raises(CPPNError, match="size") as info:
        parse_size(text)
    one_line(info)


@pytest.mark.parametrize("text, size", [("1920x1080", (1920, 1080)), ("1X1", (1, 1)),
                                        ("64x4096", (64, 4096))])
def test_size_strings(text, size):
    assert parse_size(text) == size
    assert check_size(size) == size


def test_spec_validation():
    ok = small_spec()
    with pytest.raises(CPPNError, match="inputs"):
        NetworkSpec(("x", "q"), 0, ok.layers)
    with pytest.raises(CPPNError, match="do not take 3 inputs"):
        NetworkSpec(("x", "y", "r"), 0, ok.layers)  # the weights expect z too
    bad = Layer(np.full((3, 5), np.inf, np.float32), np.zeros(3, np.float32), "tanh")
    with pytest.raises(CPPNError, match="non-finite"):
        NetworkSpec(ok.inputs, 2, (ok.layers[0], bad))
    four = Layer(np.ones((4, 5), np.float32), np.zeros(4, np.float32), "tanh")
    with pytest.raises(CPPNError, match="1, 2 or 3 outputs"):
        NetworkSpec(ok.inputs, 2, (ok.layers[0], four))


# --- pack() layout ------------------------------------------------------------------------------


def test_pack_layout():
    spec = small_spec(z_dim=2, widths=(5, 3))
    z = np.array([0.7, -1.3])
    lay = glsl.layout(spec)
    data = glsl.pack(spec, z)
    assert data.dtype == np.float32 and data.shape == (lay.size, 4)
    l0, l1 = lay.layers
    # Layer 0 multiplies only the 3 coordinate features: z is folded into its bias on the host.
    assert (l0.fan_in, l0.fan_out, l0.bias_offset, l0.weight_offset) == (3, 5, 0, 2)
    assert (l1.fan_in, l1.fan_out) == (5, 3)
    assert l1.bias_offset == l0.weight_offset + 4 * 2 * 1  # 2 out blocks x 1 in block of vec4s
    assert lay.size == l1.weight_offset + 4 * 1 * 2
    flat = data.reshape(-1)
    w0, b0 = spec.layers[0].weight.astype(np.float64), spec.layers[0].bias.astype(np.float64)
    np.testing.assert_allclose(flat[:5], b0 + w0[:, 3:] @ z, rtol=1e-6)
    assert np.all(flat[5:8] == 0), "bias padding"
    rows0 = data[l0.weight_offset:l1.bias_offset].reshape(8, 4)  # (4 * out_blocks, 4 * in_blocks)
    np.testing.assert_array_equal(rows0[:5, :3], spec.layers[0].weight[:, :3])
    assert np.all(rows0[5:] == 0) and np.all(rows0[:, 3:] == 0), "weight padding"
    np.testing.assert_array_equal(data[l1.bias_offset].reshape(-1)[:3], spec.layers[1].bias)
    rows1 = data[l1.weight_offset:].reshape(4, 8)
    np.testing.assert_array_equal(rows1[:3, :5], spec.layers[1].weight)
    assert np.all(rows1[3:] == 0) and np.all(rows1[:, 5:] == 0)
    # The per-frame latent update rewrites exactly the first bias blocks.
    block = glsl.first_bias_block(spec, z)
    np.testing.assert_array_equal(block, data[: lay.first_bias_blocks])
    # The source depends on the architecture alone, never on weights or z.
    assert glsl.source(spec) == glsl.source(small_spec(z_dim=2, widths=(5, 3)))


def test_pack_without_z():
    spec = small_spec(z_dim=0, widths=(3,))
    data = glsl.pack(spec)
    np.testing.assert_array_equal(data[0, :3], spec.layers[0].bias)


# --- latent paths and the loop phase ------------------------------------------------------------


@pytest.mark.parametrize("seed, z_dim", [(0, 8), (3, 1), (42, 32)])
def test_latent_path_is_periodic_and_smooth(seed, z_dim):
    path = LatentPath(seed, z_dim)
    np.testing.assert_allclose(path(0.0), path(1.0), atol=1e-6)
    np.testing.assert_allclose(path(0.25), path(3.25), atol=1e-6)
    assert np.abs(path(0.0) - path(0.5)).max() > 0.1, "a path that stands still"
    # Velocity is continuous across the seam and matches the path's finite differences.
    eps = 1e-6
    np.testing.assert_allclose(path.velocity(1.0 - 1e-9), path.velocity(0.0), atol=1e-4)
    for phase in (0.0, 0.37, 0.999):
        fd = (path(phase + eps) - path(phase - eps)) / (2 * eps)
        np.testing.assert_allclose(path.velocity(phase), fd, atol=1e-4)
    # No jump anywhere: consecutive samples of a fine sweep stay close.
    zs = np.stack([path(t) for t in np.linspace(0.0, 1.0, 2001)])
    step = np.abs(np.diff(zs, axis=0)).max()
    assert step < 0.05


def test_latent_path_deterministic_and_empty():
    assert np.array_equal(LatentPath(5, 8)(0.3), LatentPath(5, 8)(0.3))
    assert not np.allclose(LatentPath(5, 8)(0.3), LatentPath(6, 8)(0.3))
    assert LatentPath(5, 0)(0.3).shape == (0,)


def test_phase_never_jumps():
    # Speed changes, pauses, reverse: each step moves the phase by exactly dt * speed / period.
    phase, period, dt = Phase(0.9), 8.0, 1 / 60
    schedule = [(1.0, False)] * 30 + [(4.0, False)] * 30 + [(4.0, True)] * 10 \
        + [(0.25, False)] * 30 + [(-1.0, False)] * 10 + [(0.0, False)] * 5
    for speed, paused in schedule:
        nxt = phase.advance(dt, speed, period, paused)
        expected = 0.0 if paused else dt * speed / period
        assert nxt.value - phase.value == pytest.approx(expected, abs=1e-12)
        phase = nxt
    assert phase.advance(0.0, 3.0, period).value == phase.value
    with pytest.raises(CPPNError, match="period"):
        phase.advance(dt, 1.0, 0.0)
