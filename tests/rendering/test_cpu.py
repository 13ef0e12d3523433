"""The cpu path (cpu.py): numpy evaluation and frames against torch float64, chunking, threads,
the renderer's choice of it on software OpenGL, and its colours against the shader's. Its raw
frames through the renderer are checked with every shader path in test_parity.py."""

from __future__ import annotations

import dataclasses
import threading
import warnings

import numpy as np
import pytest
from conftest import reference

from realtime_cppn.core import activations
from realtime_cppn.core.spec import View
from realtime_cppn.nn.export import to_spec
from realtime_cppn.nn.model import CPPN
from realtime_cppn.rendering import cpu


@pytest.mark.parametrize("name", activations.NAMES)
def test_numpy_activation_matches_torch_float64(name):
    import torch

    x = np.concatenate([np.linspace(-60, 60, 4001), np.linspace(-3, 3, 4001), [0.0, -0.0]])
    act = activations.get(name)
    if name == "tan":  # float32 rounding of x is magnified near the poles: stay 0.1 away
        x = x[np.abs(np.remainder(x, np.pi) - np.pi / 2) > 0.1]
    if name == "sign":
        x = x[x != 0]  # the sign of zero is 0 on every side; float32 keeps it
    x32 = x.astype(np.float32)
    out = act.numpy(x32.copy())
    assert out.dtype == np.float32
    ref = act.torch(torch.from_numpy(x32.astype(np.float64))).numpy()
    scale = np.maximum(1.0, np.abs(ref))  # relative where values are large (tan, softplus)
    assert (np.abs(out - ref) / scale).max() <= 2e-6, name
    # In place: the array given is the array returned (the cpu path keeps no temporaries).
    y = x32.copy()
    assert act.numpy(y) is y


@pytest.mark.parametrize("size", [(1, 1), (37, 23), (300, 200), (1031, 17)])
@pytest.mark.parametrize("width", [3, 20, 64])
def test_evaluator_matches_torch_across_chunks_and_odd_widths(size, width):
    # 300x200 and 1031x17 are several chunks with a ragged last one; widths 3 and 20 exercise
    # the tiled bias rows (a row of 256 floats is not a multiple of 20 or 3 of them).
    spec = to_spec(CPPN(width=width, depth=2, seed=width, z_dim=4, sigma=0.5))
    z = np.random.default_rng(1).normal(size=4)
    view = View(zoom=1.3, center=(0.2, -0.1), symmetry="k5")
    ev = cpu.CpuEvaluator(threads=2)
    try:
        ev.set_network(spec, z)
        out = ev.evaluate(size, view)  # (H * W, C), bottom row first
    finally:
        ev.release()
    ref, _ = reference(spec, size, z, view)
    w, h = size
    got = out.reshape(h, w, spec.out_channels)[::-1]
    assert np.abs(got - ref).max() <= 1e-5


@pytest.mark.parametrize("channels, mode", [(3, "rgb"), (1, "rgb"), (3, "raw"), (2, "raw"),
                                           (1, "raw")])
@pytest.mark.parametrize("one_layer", [False, True])
def test_frames_are_the_outputs_coloured_as_colorize_does(channels, mode, one_layer):
    # frame() widens the last layer to RGBA and finishes each chunk in place. An identity
    # output layer puts values outside 0..1, so the clamp of "rgb" is tested; a one-layer
    # network's only layer is both the first (z folded into its bias) and the last.
    if not one_layer:
        spec = to_spec(CPPN(width=20, depth=2, seed=channels, z_dim=4,
                            out_channels=channels, output_activation="identity"))
    else:
        spec = to_spec(CPPN(width=5, depth=1, seed=channels, z_dim=4, out_channels=channels))
        first = spec.layers[0]  # the rest goes; its first outputs become the network's
        spec = dataclasses.replace(spec, layers=[dataclasses.replace(
            first, weight=first.weight[:channels], bias=first.bias[:channels],
            activation="identity")])
    z = np.random.default_rng(2).normal(size=4)
    size = (301, 200)  # several chunks, a ragged last one, rows not a multiple of 64 pixels
    ev = cpu.CpuEvaluator(threads=2)
    try:
        ev.set_network(spec, z)
        got = ev.frame(size, mode=mode).reshape(size[1], size[0], 4)[::-1]
    finally:
        ev.release()
    ref, _ = reference(spec, size, z)
    assert (ref < 0).any() and (ref > 1).any(), "nothing to clamp"
    want = np.zeros(got.shape)
    want[..., 3] = 1.0
    if mode == "rgb":
        want[..., :3] = np.clip(ref if channels == 3 else ref[..., :1], 0.0, 1.0)
    else:
        want[..., :channels] = ref
    assert np.abs(got - want).max() <= 1e-5


def test_frames_are_made_for_raw_and_rgb_only():
    from realtime_cppn.core.errors import CPPNError

    assert cpu.can_frame(2, "raw") and not cpu.can_frame(2, "rgb")  # uv samples a texture
    assert not cpu.can_frame(3, "hsv") and not cpu.can_frame(1, "palette")
    ev = cpu.CpuEvaluator(threads=1)
    try:
        ev.set_network(to_spec(CPPN(width=4, depth=1, seed=1)), None)
        with pytest.raises(CPPNError, match="no cpu frame for colour mode 'hsv'"):
            ev.frame((8, 8), mode="hsv")
    finally:
        ev.release()


def test_threads_give_identical_pixels_and_latent_changes_only_the_bias():
    spec = to_spec(CPPN(width=16, depth=3, seed=2))
    z0, z1 = np.zeros(8), np.random.default_rng(3).normal(size=8)
    one, two = cpu.CpuEvaluator(threads=1), cpu.CpuEvaluator(threads=2)
    try:
        for ev in (one, two):
            ev.set_network(spec, z0)
            ev.set_latent(z1)
        a, b = one.evaluate((257, 129)), two.evaluate((257, 129))
        assert np.array_equal(a, b)  # each chunk is the same computation on either thread
        one.set_network(spec, z1)  # from scratch with z1: the same as moving the latent
        assert np.array_equal(one.evaluate((257, 129)), a)
        one.set_latent(z0)
        assert np.abs(one.evaluate((257, 129)) - a).max() > 1e-2, "z had no effect"
    finally:
        one.release()
        two.release()


def test_workers_start_at_once_and_stop_on_release():
    def workers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("cppn-cpu")}

    before = workers()  # other evaluators' (the session's cpu renderer)
    ev = cpu.CpuEvaluator(threads=3)
    mine = workers() - before
    assert len(mine) == 3  # every worker now: no thread appears later, mid-show
    spec = to_spec(CPPN(width=8, depth=2, seed=1))
    ev.set_network(spec, None)
    ev.evaluate((640, 480))
    assert workers() - before == mine
    ev.release()
    assert not any(t.is_alive() for t in mine)


def test_software_renderers_are_recognised():
    assert cpu.is_software("llvmpipe (LLVM 15.0.6, 256 bits)")
    assert cpu.is_software("softpipe")
    assert cpu.is_software("Google SwiftShader")
    assert cpu.is_software("D3D12 (Microsoft Basic Render Driver)")
    assert not cpu.is_software("NVIDIA H200/PCIe/SSE2")
    assert not cpu.is_software("AMD Radeon RX 7900 XTX (radeonsi, navi31, LLVM 17.0.6)")
    assert not cpu.is_software("Mesa Intel(R) Xe Graphics (TGL GT2)")


def test_the_renderer_chooses_the_cpu_path_on_software_gl_only(gl_context):
    from realtime_cppn.rendering.renderer import Renderer

    r = Renderer(gl_context)
    try:
        assert (r.path == "cpu") == cpu.is_software(r.gl_renderer)
        if r.path == "cpu":
            assert "cpu path (numpy" in r.path_text(None)
    finally:
        r.release()


def test_cpu_path_keeps_its_gl_objects_bounded(cpu_renderer):
    from realtime_cppn.rendering.renderer import MAX_READ_POOLS

    spec = to_spec(CPPN(width=4, depth=1, seed=5))
    cpu_renderer.set_network(spec)
    for i in range(12):  # a window dragged through many sizes, in either kind of frame
        cpu_renderer.draw((40 + i, 30))  # coloured by the workers
        cpu_renderer.draw((40 + i, 30), View(color="hsv"), display=True)  # by the colour pass
    objs = cpu_renderer.gl_objects()
    assert objs["cpu_outputs"] <= MAX_READ_POOLS + 3  # outputs textures + colour passes
    assert objs["cpu_frames"] == MAX_READ_POOLS  # the frames' arrays, kept per size
    assert objs["programs"] == 0 and objs["weights"] == 0  # nothing per network in GL
    cpu_renderer.release_targets()


@pytest.mark.parametrize("channels, color", [(3, "rgb"), (1, "rgb"), (3, None), (2, None)])
def test_cpu_frames_equal_the_shader_in_float(cpu_renderer, compute_renderer, channels, color):
    # rgba32f frames in raw and rgb mode come from the workers (CpuEvaluator.frame) with no
    # colour pass: the same floats as the shader draws, alpha included.
    spec = to_spec(CPPN(width=6, depth=2, seed=channels, out_channels=channels, z_dim=3,
                        output_activation="identity"))
    z = np.random.default_rng(5).normal(size=3)
    view = View(zoom=0.8, symmetry="x", color=color or "rgb")
    cpu_renderer._frames.pop((48, 36), None)  # an earlier test's
    frames = []
    for r in (cpu_renderer, compute_renderer):
        r.set_network(spec, z)
        frames.append(r.read(r.draw((48, 36), view, display=color is not None), 4))
    assert (48, 36) in cpu_renderer._frames, "drawn by the colour pass, not by frame()"
    assert np.abs(frames[0] - frames[1]).max() <= 1e-5
    assert frames[0][..., :channels].std() > 0.05, "a flat picture tests little"


def test_an_overflowing_network_draws_like_the_shader_without_warnings(cpu_renderer,
                                                                      compute_renderer):
    # Weights near float32's limit: where |x| > 1.13 the first layer overflows to inf in two
    # units and the second subtracts them, inf - inf = NaN. A shader computes that silently
    # and clamp() shows NaN as 0 on llvmpipe; the cpu path must too, with no numpy warning.
    spec = to_spec(CPPN(width=4, depth=2, seed=1, z_dim=0, activation="identity",
                        output_activation="identity"))
    first, second, last = spec.layers
    w0 = np.zeros_like(first.weight)
    w0[:2, 0] = 3e38  # x * 3e38: +-inf for |x| > 1.13
    w1 = np.zeros_like(second.weight)
    w1[:, 0], w1[:, 1] = 1.0, -1.0
    spec = dataclasses.replace(spec, layers=[
        dataclasses.replace(first, weight=w0, bias=np.zeros_like(first.bias)),
        # No bias: 1e38 - 1e38 + b depends on the summation order where it is finite (the
        # shader adds the bias first, BLAS last), and this test is about NaN and infinity.
        dataclasses.replace(second, weight=w1, bias=np.zeros_like(second.bias)),
        last])
    frames = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # global: a warning in a worker raises there
        for r in (cpu_renderer, compute_renderer):
            r.set_network(spec)
            frames.append(r.read(r.draw((64, 8), View(), display=True), 3))
    cpu_frame, shader_frame = frames
    assert np.isfinite(cpu_frame).all()
    assert np.abs(cpu_frame - shader_frame).max() <= 1e-5
    # Raw frames (colour mode 0) map NaN to 0 as well; the evaluator's outputs keep it.
    assert np.isfinite(cpu_renderer.read(cpu_renderer.draw((64, 8)), 3)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = cpu_renderer._cpu.evaluate((64, 8))
    assert np.isnan(raw).any() and np.isfinite(raw).any(), "nothing overflowed, or everything"


@pytest.mark.parametrize("channels, color", [(3, "rgb"), (3, "hsv"), (1, "palette"), (1, "rgb"),
                                             (2, "rgb")])
def test_cpu_colours_like_the_shader(cpu_renderer, compute_renderer, channels, color):
    # The colour pass (outputs.frag) and the network shaders share colorize(): a displayed frame
    # is the same picture on either path, uv networks sampling the texture included.
    spec = to_spec(CPPN(width=6, depth=2, seed=channels, out_channels=channels, z_dim=3))
    z = np.random.default_rng(4).normal(size=3)
    view = View(zoom=0.8, symmetry="x", color=color, palette="fire", wrap="repeat")
    frames = []
    for r in (cpu_renderer, compute_renderer):
        r.set_network(spec, z)
        frames.append(r.read(r.draw((48, 36), view, dtype="f1", display=True), 3).astype(int))
    assert np.abs(frames[0] - frames[1]).max() <= 1
    assert frames[0].std() > 5, "a flat picture tests little"


def test_a_bad_latent_leaves_the_current_network_drawing(cpu_renderer):
    from realtime_cppn.core.errors import CPPNError

    a = to_spec(CPPN(width=6, depth=2, seed=1, z_dim=3))
    b = to_spec(CPPN(width=6, depth=2, seed=2, z_dim=3))
    z = np.zeros(3)
    cpu_renderer.set_network(a, z)
    before = cpu_renderer.read(cpu_renderer.draw((20, 10)))
    with pytest.raises(CPPNError, match="z must have 3 values"):
        cpu_renderer.set_network(b, np.zeros(5))
    with pytest.raises(CPPNError, match="non-finite"):
        cpu_renderer.set_latent(np.array([0.0, np.nan, 0.0]))
    assert cpu_renderer.spec is a
    assert np.array_equal(cpu_renderer.read(cpu_renderer.draw((20, 10))), before)
