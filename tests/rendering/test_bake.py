"""Constants-baked shaders (bake.py) draw what the uniform-fed renderer and torch compute.

Real GL on Mesa llvmpipe (conftest's session context): each baked program is compiled, drawn
into a float32 target and read back; the references are the renderer's uniform path on the same
context and the torch module in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from realtime_cppn import CPPN, CPPNError, coords, to_spec
from realtime_cppn.core.spec import Layer, NetworkSpec, View
from realtime_cppn.rendering.codegen import bake, glsl

pytestmark = pytest.mark.gl


@pytest.fixture
def ctx(gl_context):
    """conftest's session context, GL error flag checked before and after."""
    return gl_context


def compile_baked(ctx, src: str, path: str = "fragment"):
    if path == "fragment":
        return ctx.program(vertex_shader=glsl.load("fullscreen.vert"), fragment_shader=src)
    return ctx.compute_shader(src)


def draw(ctx, prog, spec: NetworkSpec, size, path="fragment", view=None) -> np.ndarray:
    """One frame of raw outputs from a compiled program, read back (H, W, C) top row first."""
    w, h = size
    tex = ctx.texture((w, h), 4, dtype="f4")
    for name, value in bake.raw_uniforms(spec, size, view).items():
        if name in prog:
            prog[name].value = value
    if path == "fragment":
        fbo = ctx.framebuffer(color_attachments=[tex])
        fbo.use()
        fbo.viewport = (0, 0, w, h)
        vao = ctx.vertex_array(prog, [])
        vao.vertices = 3
        vao.render()
        vao.release()
        # The framebuffer stays alive: moderngl rebinds the current one when it creates the next,
        # and a released one there is GL_INVALID_OPERATION. The context frees it at the end.
    else:
        tex.bind_to_image(0, read=False, write=True)
        n = glsl.GROUP_PIXELS[path]  # pixels per work group side
        prog.run(-(-w // n), -(-h // n))
        ctx.memory_barrier()
    data = np.frombuffer(tex.read(), dtype=np.float32).reshape(h, w, 4)[::-1]
    return np.ascontiguousarray(data[:, :, : spec.out_channels])


def draw_baked(ctx, spec: NetworkSpec, z, size, path="fragment", view=None) -> np.ndarray:
    """Compile the fully baked program (z folded into constants) and draw one frame."""
    prog = compile_baked(ctx, bake.source(spec, z, path), path)
    out = draw(ctx, prog, spec, size, path, view)
    prog.release()
    return out


def torch_outputs(net: CPPN, z, size, view=None) -> np.ndarray:
    spec = to_spec(net)
    grid = torch.tensor(coords(size, spec.inputs, spec.scale, view))  # (H, W, n) float64
    with torch.no_grad():
        out = net.double()(grid, None if z is None else torch.tensor(z))
    net.float()
    return out.numpy()


CASES = [
    # (activation, z_dim, out_channels, inputs, width, depth)
    ("tanh", 8, 3, ("x", "y", "r"), 8, 2),
    ("sin", 0, 1, ("x", "y"), 6, 2),
    ("gaussian", 8, 2, ("x", "y", "r", "b"), 5, 3),
    (("relu", "softplus"), 3, 3, ("r",), 9, 2),
]


@pytest.mark.parametrize("activation, z_dim, channels, inputs, width, depth", CASES)
def test_baked_fragment_matches_uniform_path_and_torch(ctx, fragment_renderer, activation, z_dim,
                                                       channels, inputs, width, depth):
    net = CPPN(width=width, depth=depth, activation=activation, z_dim=z_dim,
               out_channels=channels, inputs=inputs, seed=11)
    spec = to_spec(net)
    z = np.random.default_rng(3).normal(size=z_dim) if z_dim else None
    size = (37, 23)  # non-square, odd: exercises the coordinate convention and edge pixels
    view = View(zoom=1.3, center=(0.2, -0.1), symmetry="x")

    baked = draw_baked(ctx, spec, z, size, view=view)
    fragment_renderer.set_network(spec, z)
    uniform = fragment_renderer.read(fragment_renderer.draw(size, view), channels)
    ref = torch_outputs(net, z, size, view)

    assert baked.shape == ref.shape == (23, 37, channels)
    np.testing.assert_allclose(baked, uniform, rtol=0, atol=1e-4)
    np.testing.assert_allclose(baked, ref, rtol=0, atol=1e-4)


@pytest.mark.parametrize("path", ["compute", "compute1"])
def test_baked_compute_matches_torch(ctx, path):
    if ctx.version_code < 430:
        pytest.skip("compute shaders need OpenGL 4.3")
    net = CPPN(width=7, depth=2, activation="tanh", z_dim=8, out_channels=3, seed=5)
    z = np.linspace(-1, 1, 8)
    size = (19, 13)  # not a multiple of the 16 (or 8) pixels one work group covers
    out = draw_baked(ctx, to_spec(net), z, size, path=path)
    np.testing.assert_allclose(out, torch_outputs(net, z, size), rtol=0, atol=1e-4)


def test_latent_is_folded_into_the_constants(ctx):
    """Two z values give two different baked programs, each matching torch at its own z."""
    net = CPPN(width=6, depth=1, z_dim=8, seed=2)
    spec = to_spec(net)
    size = (16, 16)
    rng = np.random.default_rng(9)
    za, zb = rng.normal(size=8), rng.normal(size=8)
    assert bake.source(spec, za) != bake.source(spec, zb)
    a, b = draw_baked(ctx, spec, za, size), draw_baked(ctx, spec, zb, size)
    assert np.abs(a - b).max() > 1e-2
    np.testing.assert_allclose(a, torch_outputs(net, za, size), rtol=0, atol=1e-4)
    np.testing.assert_allclose(b, torch_outputs(net, zb, size), rtol=0, atol=1e-4)


@pytest.mark.parametrize("path", ["fragment", "compute", "compute1"])
def test_latent_uniform_program_serves_a_morph(ctx, path):
    """latent='uniform': one program, z changes by a uniform write, each frame matches torch."""
    if path != "fragment" and ctx.version_code < 430:
        pytest.skip("compute shaders need OpenGL 4.3")
    net = CPPN(width=6, depth=2, z_dim=8, seed=4)
    spec = to_spec(net)
    size = (21, 17)
    src = bake.source(spec, path=path, latent="uniform")
    assert src == bake.source(spec, np.ones(8), path=path, latent="uniform")  # z-free text
    prog = compile_baked(ctx, src, path)
    for t in (0.0, 0.5, 1.0):
        z = np.cos(np.arange(8) + 3.0 * t)
        prog[bake.LATENT_UNIFORM].write(bake.latent_uniform(spec, z).tobytes())
        out = draw(ctx, prog, spec, size, path)
        np.testing.assert_allclose(out, torch_outputs(net, z, size), rtol=0, atol=1e-4)
    prog.release()


# Values whose shortest decimal forms are awkward: tiny, huge, many digits, exact powers of two.
AWKWARD = np.array([0.1, -1 / 3, 1e-30, -3.4e38, 16777217.0, 2.0 ** -20, 0.7, 123456.789,
                    1.0, 5e-8, 2.5, -7.25e-3], dtype=np.float32)


def test_literals_round_trip_in_python():
    rng = np.random.default_rng(0)
    values = np.concatenate([AWKWARD, [np.float32(-0.0)], rng.normal(size=2000).astype(np.float32),
                             (rng.normal(size=500) * 10.0 ** rng.integers(-30, 30, 500))
                             .astype(np.float32)])
    for v in values:
        text = bake.literal(v)
        assert "." in text or "e" in text, text  # a GLSL float literal, never an int
        assert np.float32(float(text)).tobytes() == v.tobytes(), (v, text)


def test_literals_round_trip_through_the_glsl_compiler(ctx):
    """A layer with zero weights outputs its bias: read back bit-exactly from the baked source."""
    n = 3
    rows = [AWKWARD[i:i + n] for i in range(0, len(AWKWARD), n)]
    for bias in rows:
        layer = Layer(np.zeros((n, 2), np.float32), bias.astype(np.float32), "identity")
        spec = NetworkSpec(inputs=("x", "y"), z_dim=0, layers=(layer,))
        out = draw_baked(ctx, spec, None, (4, 4))
        assert out.reshape(-1, n).view(np.uint32).tolist() == \
            [bias.view(np.uint32).tolist()] * 16, (bias, out[0, 0])


def test_network_body_is_self_contained_glsl():
    """The exports reuse network(): it defines evaluate() and names only act_* helpers."""
    spec = to_spec(CPPN(width=5, depth=2, z_dim=2, seed=1))
    body = bake.network(spec, spec.first_bias([0.5, -0.5]))
    assert body.startswith("vec4 evaluate(vec2 p) {")
    assert "uniform" not in body and "W(" not in body
    with pytest.raises(CPPNError, match="first bias"):
        bake.network(spec, np.zeros(3))
    with pytest.raises(CPPNError, match="latent"):
        bake.source(spec, latent="sometimes")
