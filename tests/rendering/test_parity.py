"""Shader vs torch float64: the GPU evaluates exactly the network torch evaluates on ``coords``.

Every comparison reads back a float32 target holding the raw network outputs and bounds the max
abs error by 1e-4 (the issue's tolerance). Networks stay small: llvmpipe is slow. Each test runs
on the compute shader and on the cpu path (numpy, what llvmpipe machines get by default); the
fragment path and the uniform-block storage have tests of their own below.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import away_from_discontinuities, reference

from realtime_cppn.core import activations
from realtime_cppn.core.spec import SYMMETRIES, Layer, NetworkSpec, View, coords
from realtime_cppn.nn.export import to_spec
from realtime_cppn.nn.model import CPPN

ATOL = 1e-4
SMOOTH = tuple(n for n in activations.NAMES if n != "tan")  # tan has its own tests below


@pytest.fixture(params=["compute_renderer", "cpu_renderer"])
def renderer(request):
    return request.getfixturevalue(request.param)


def draw(r, spec: NetworkSpec, size, z=None, view=None) -> np.ndarray:
    r.set_network(spec, z)
    out = r.read(r.draw(size, view))
    assert out.dtype == np.float32
    assert out.shape == (size[1], size[0], spec.out_channels)
    return out


def assert_parity(r, spec, size, z=None, view=None, margin=1e-3, min_kept=0.9) -> None:
    out = draw(r, spec, size, z, view)
    ref, pre = reference(spec, size, z, view)
    keep = away_from_discontinuities(spec, pre, margin)
    assert keep.mean() >= min_kept, "the test net sits too close to discontinuities to test"
    err = np.abs(out.astype(np.float64) - ref)[keep]
    assert err.max() <= ATOL, f"max abs error {err.max():.3g} at {np.argmax(err)}"


def cppn_spec(**kw) -> NetworkSpec:
    kw.setdefault("z_dim", 0)
    return to_spec(CPPN(**kw))


def latent(n: int, seed: int = 0) -> np.ndarray | None:
    return np.random.default_rng(seed).normal(size=n) if n else None


# --- activations --------------------------------------------------------------------------------


@pytest.mark.parametrize("z_dim", [0, 8])
@pytest.mark.parametrize("name", SMOOTH)
def test_activation_matches_torch(renderer, name, z_dim):
    # The activation in every layer, the output layer included, so its raw value is read back.
    spec = cppn_spec(width=8, depth=2, activation=name, output_activation=name, z_dim=z_dim,
                     seed=11)
    assert_parity(renderer, spec, (40, 28), latent(z_dim, 1))


def test_tan_single_layer(renderer):
    # tan multiplies the float32 rounding of its argument (~1e-7) by tan' = 1 + tan^2, up to 1e6
    # at 1e-3 from a pole, so no float32 evaluation is within 1e-4 there. Here the argument is
    # the input layer's (exact up to rounding) and the error is measured in the argument: the
    # shader must return tan of a value within 1e-5 of the true pre-activation, on every branch.
    rng = np.random.default_rng(5)
    spec = NetworkSpec(("x", "y", "b"), 0, (
        Layer(rng.normal(0, 2, (3, 3)).astype(np.float32), np.zeros(3, np.float32), "tan"),
    ), scale=2.0)
    out = draw(renderer, spec, (64, 48)).astype(np.float64)
    ref, pre = reference(spec, (64, 48))
    keep = away_from_discontinuities(spec, pre, 1e-3)
    assert keep.mean() > 0.97
    assert np.abs(pre[0]).max() > 3 * np.pi / 2, "the test must cross several poles"
    err_in_argument = (np.abs(out - ref) / (1.0 + ref**2))[keep]
    assert err_in_argument.max() <= 1e-5


def test_tan_hidden_layer(renderer):
    # A hidden tan feeding a sigmoid output: 1e-4 absolute wherever every tan argument lies more
    # than 0.1 from a pole (there tan' <= 100 keeps float32 rounding below the tolerance).
    spec = cppn_spec(width=8, depth=1, activation="tan", z_dim=8, seed=2)
    assert_parity(renderer, spec, (48, 40), latent(8, 2), margin=0.1, min_kept=0.3)


def test_discontinuity_mask():
    # The skip rule itself: tan's poles at pi/2 + k pi and sign's zero, 1e-3 wide, nothing else.
    one = np.ones((1, 1), np.float32)
    spec = NetworkSpec(("x",), 0, (Layer(one, one[0], "tan"), Layer(one, one[0], "sign")))
    tan_pre = np.array([np.pi / 2 + 5e-4, -np.pi / 2 - 2e-3, 3 * np.pi / 2 - 1e-4, 0.3, 0.3, 7.0])
    sign_pre = np.array([1.0, 1.0, 1.0, 5e-4, -2e-3, 0.0])
    keep = away_from_discontinuities(spec, [tan_pre.reshape(1, 6, 1), sign_pre.reshape(1, 6, 1)])
    assert keep.tolist() == [[False, True, False, False, True, False]]


# --- outputs, latents, sizes --------------------------------------------------------------------


@pytest.mark.parametrize("z_dim", [0, 8])
@pytest.mark.parametrize("channels", [1, 2, 3])
def test_output_modes(renderer, channels, z_dim):
    spec = cppn_spec(width=6, depth=2, out_channels=channels, z_dim=z_dim, seed=channels)
    assert spec.out_channels == channels
    assert_parity(renderer, spec, (33, 21), latent(z_dim, channels))


@pytest.mark.parametrize("size", [(1, 1), (37, 23), (23, 37), (4096, 2), (3, 70)])
@pytest.mark.parametrize("path", ["compute_renderer", "cpu_renderer", "fragment_renderer"])
def test_sizes(request, gl_context, path, size):
    r = request.getfixturevalue(path)
    # The short side spans [-1, 1], so a 4096x2 image reaches x = 4096: scale the network so the
    # long side spans [-2, 2]; else float32 rounding of huge pre-activations (not the shader)
    # would dominate the error.
    scale = 2.0 * min(size) / max(size)
    spec = cppn_spec(width=4, depth=1, activation="sin", seed=3, z_dim=8, scale=scale)
    assert_parity(r, spec, size, latent(8, 3))


def test_set_latent_equals_set_network(renderer):
    spec = cppn_spec(width=8, depth=2, z_dim=8, seed=9)
    z0, z1 = latent(8, 0), latent(8, 1)
    renderer.set_network(spec, z0)
    renderer.set_latent(z1)
    moved = renderer.read(renderer.draw((24, 16)))
    assert np.array_equal(moved, draw(renderer, spec, (24, 16), z1))
    assert_parity(renderer, spec, (24, 16), z1)
    assert np.abs(moved - draw(renderer, spec, (24, 16), z0)).max() > 1e-2, "z had no effect"


# --- random architectures -----------------------------------------------------------------------


def _random_case(i: int):
    rng = np.random.default_rng(1000 + i)
    depth = int(rng.integers(1, 4))
    inputs = tuple(f for f in ("x", "y", "r", "b") if rng.random() < 0.7) or ("r",)
    spec = cppn_spec(
        width=int(rng.integers(1, 17)),
        depth=depth,
        activation=tuple(str(a) for a in rng.choice(SMOOTH, depth)),
        output_activation=str(rng.choice(["sigmoid", "tanh", "sin", "gaussian"])),
        inputs=inputs,
        z_dim=int(rng.choice([0, 1, 3, 8])),
        out_channels=int(rng.integers(1, 4)),
        scale=float(rng.uniform(0.5, 3.0)),
        seed=i,
    )
    size = (int(rng.integers(1, 65)), int(rng.integers(1, 65)))
    view = View(zoom=float(rng.uniform(0.5, 2.0)), center=tuple(rng.normal(0, 0.5, 2)),
                symmetry=str(rng.choice(SYMMETRIES)))
    return spec, size, latent(spec.z_dim, i), view


@pytest.mark.parametrize("i", range(12))
def test_random_architectures(renderer, i):
    spec, size, z, view = _random_case(i)
    assert_parity(renderer, spec, size, z, view)


# --- render paths, weight storages, views -------------------------------------------------------


@pytest.fixture(scope="module")
def _fragment_ubo_renderer(_session_context):
    from realtime_cppn.rendering.renderer import Renderer

    r = Renderer(_session_context, path="fragment", storage="ubo")
    yield r
    r.release()


@pytest.fixture
def fragment_ubo_renderer(_fragment_ubo_renderer, gl_context):
    return _fragment_ubo_renderer


@pytest.mark.parametrize(
    "name, path, storage",
    [
        ("compute_renderer", "compute", "texture"),
        ("cpu_renderer", "cpu", "host"),
        ("fragment_renderer", "fragment", "texture"),
        ("ubo_renderer", "compute", "ubo"),
        ("fragment_ubo_renderer", "fragment", "ubo"),
    ],
)
def test_paths_and_storages(request, gl_context, name, path, storage):
    r = request.getfixturevalue(name)
    spec = cppn_spec(width=5, depth=2, z_dim=3, out_channels=3, seed=21)
    assert r.path == path and r.storage_for(spec) == storage
    assert_parity(r, spec, (29, 17), latent(3, 21))
    r.set_latent(latent(3, 22))  # the per-frame latent update, through either storage
    ref, _ = reference(spec, (29, 17), latent(3, 22))
    assert np.abs(r.read(r.draw((29, 17))) - ref).max() <= ATOL


@pytest.mark.parametrize("symmetry", SYMMETRIES)
def test_symmetry_and_view_match_coords(renderer, symmetry):
    spec = cppn_spec(width=6, depth=2, inputs=("x", "y"), seed=8)
    view = View(zoom=1.7, center=(0.3, -0.2), symmetry=symmetry)
    assert_parity(renderer, spec, (30, 22), view=view)
    grid = coords((30, 22), ("x", "y"), spec.scale, view)
    if symmetry in ("x", "xy"):  # mirrored about the vertical centre line
        assert np.allclose(grid[:, :15], grid[:, 15:][:, ::-1])


def test_orientation_first_row_is_coords_first_row(renderer, fragment_renderer):
    # out = 0.25 x + y (identity): asymmetric in both axes, so a flip in either would show.
    spec = NetworkSpec(("x", "y"), 0, (
        Layer(np.array([[0.25, 1.0]], np.float32), np.zeros(1, np.float32), "identity"),
    ))
    size = (7, 5)
    grid = coords(size, ("x", "y"))
    expected = 0.25 * grid[..., 0] + grid[..., 1]  # (H, W)
    for r in (renderer, fragment_renderer):
        out = draw(r, spec, size)[..., 0]
        np.testing.assert_allclose(out[0], expected[0], atol=1e-6)  # first row
        np.testing.assert_allclose(out, expected, atol=1e-6)
        assert out[0, 0] > out[-1, 0], "top row must have the largest y"
        assert out[0, -1] > out[0, 0], "x grows to the right"
    # Round circles on non-square targets: one unit in x spans as many pixels as one in y.
    assert np.isclose(grid[0, 1, 0] - grid[0, 0, 0], grid[0, 0, 1] - grid[1, 0, 1])


# --- compiles -----------------------------------------------------------------------------------


def test_reseed_compiles_nothing(renderer):
    a = cppn_spec(width=7, depth=2, activation="cos", seed=1, z_dim=2)
    b = cppn_spec(width=7, depth=2, activation="cos", seed=2, z_dim=2)
    renderer.set_network(a, latent(2))
    renderer.draw((16, 16))
    compiles = renderer.stats.compiles
    out_b = draw(renderer, b, (16, 16), latent(2))
    assert renderer.stats.compiles == compiles
    ref_b, _ = reference(b, (16, 16), latent(2))
    assert np.abs(out_b - ref_b).max() <= ATOL
    ref_a, _ = reference(a, (16, 16), latent(2))
    assert np.abs(out_b - ref_a).max() > 1e-2, "the picture did not change"


def test_new_activation_may_compile(renderer):
    a = cppn_spec(width=7, depth=2, activation="sin", seed=1)
    b = cppn_spec(width=7, depth=2, activation="gaussian", seed=1)
    renderer.set_network(a)
    compiles = renderer.stats.compiles
    assert_parity(renderer, b, (16, 16))
    assert renderer.stats.compiles in (compiles, compiles + 1)


def test_wide_deep_network(renderer):
    # sigma 0.3 keeps a 64x16 tanh net out of the chaotic regime, so float32 can match to 1e-4.
    spec = cppn_spec(width=64, depth=16, seed=64, z_dim=8, sigma=0.3)
    assert_parity(renderer, spec, (32, 32), latent(8, 64))
    assert reference(spec, (32, 32), latent(8, 64))[0].std() > 0.05, "a flat picture tests little"


def test_wide_deep_network_default_sigma(renderer):
    # With N(0, 1) weights a 64x16 tanh net is chaotic: rounding grows ~2x per layer, and torch
    # itself in float32 is ~0.1 off its float64 result at some pixels. The shader (same program
    # as above: a reseed) must be as close to float64 as float32 torch is, quantile by quantile
    # (the max is left out: in a chaotic net it is one pixel's luck).
    import torch

    model = CPPN(width=64, depth=16, seed=65, z_dim=8)
    spec, z = to_spec(model), latent(8, 65)
    compiles = renderer.stats.compiles
    out = draw(renderer, spec, (32, 32), z).astype(np.float64)
    grid = torch.from_numpy(coords((32, 32), spec.inputs, spec.scale)).float()
    f32 = model(grid, torch.from_numpy(z).float()).detach().numpy()
    ref, _ = reference(spec, (32, 32), z)
    err_shader, err_f32 = np.abs(out - ref), np.abs(f32 - ref)
    for q in (0.5, 0.9, 0.99):
        assert np.quantile(err_shader, q) <= 2 * np.quantile(err_f32, q) + 1e-5, q
    assert renderer.stats.compiles - compiles <= 1


# --- display targets ----------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
def test_display_colour_8bit(renderer, channels):
    # display=True maps outputs to colour (mono -> grey, rgb clamped) into an 8-bit target; the
    # uv mode (2 channels) samples a texture and is tested with the UV remap.
    spec = cppn_spec(width=6, depth=2, out_channels=channels, output_activation="identity",
                     seed=31)
    renderer.set_network(spec)
    rgb = renderer.read(renderer.draw((20, 12), dtype="f1", display=True), 3)
    assert rgb.dtype == np.uint8
    ref, _ = reference(spec, (20, 12))
    expected = np.clip(np.broadcast_to(ref, (12, 20, 3)), 0, 1) * 255
    assert np.abs(rgb - expected).max() <= 1.0
    assert rgb.min() == 0 or rgb.max() == 255, "identity outputs should clamp somewhere"
