"""Constants-baked GLSL: a network's weights written into the shader source as literals.

This is how prior GLSL exporters ship a CPPN (and how Shadertoy / ISF exports must, having no
uniform buffers): each neuron is a chain of multiply-adds by constants. The driver can fold
the constants into immediates, so steady state is fast, but every new weight set is a new
program to compile. The latent term W_z z lives in the first layer's bias: baked too (exports,
a program per z) or left a small uniform, ``u_bias0`` (one program serves a whole morph, at the
same speed on llvmpipe; benchmarks/README.md).

It is glsl.py's one body generator with the weights as literals (``glsl.baked_weights``), in
glsl.py's templates with its input features and colour mapping, so a baked program draws exactly
what the uniform-fed one draws for the same uniforms (u_resolution, u_center, u_scale,
u_symmetry...; ``raw_uniforms`` gives them).
"""

from __future__ import annotations

import numpy as np

from ...core.errors import CPPNError
from ...core.spec import NetworkSpec, View, check_size
from . import glsl

literal = glsl.literal  # a float literal that parses back to the exact float32
LATENT_UNIFORM = glsl.LATENT_UNIFORM  # vec4[]: the first layer's bias with z folded, when not baked


def _blocks(n: int) -> int:
    return (n + 3) // 4


def _padded(matrix: np.ndarray, rows: int, cols: int) -> np.ndarray:
    out = np.zeros((rows, cols), dtype=np.float32)
    out[: matrix.shape[0], : matrix.shape[1]] = matrix
    return out


def _vec4(values: np.ndarray) -> str:
    return f"vec4({', '.join(literal(v) for v in values)})"


def _plugs(spec: NetworkSpec, first_bias: np.ndarray | None) -> tuple[glsl.Weights, glsl.Latent]:
    """The body generator's plug points for baked constants: the packed weights as literals,
    and the first bias baked too (``first_bias`` given) or read from ``u_bias0`` (None)."""
    packed = glsl.pack(spec)
    if first_bias is None:
        return glsl.baked_weights(packed), glsl.uniform_latent(spec)
    first_bias = np.asarray(first_bias, dtype=np.float32).reshape(-1)
    n = spec.layers[0].weight.shape[0]
    if first_bias.shape != (n,):
        raise CPPNError(f"first bias must have {n} values, got {first_bias.size}")
    packed.reshape(-1)[:n] = first_bias  # layer 0's bias sits at offset 0 (glsl's layout)
    return glsl.baked_weights(packed), glsl.FOLDED


def network(spec: NetworkSpec, first_bias: np.ndarray | None, path: str = "fragment") -> str:
    """The GLSL ``evaluate`` function of ``spec`` with every weight a literal.

    ``first_bias`` is the first layer's bias with the latent term folded in
    (``spec.first_bias(z)``); the first layer's constants cover only the coordinate inputs.
    None declares it as ``uniform vec4 u_bias0[]`` instead (``latent_uniform`` gives its value),
    so z can move every frame without a new program. ``glsl.network`` writes it, with the
    multiply-adds of the GLSL version ``path`` compiles as.
    The text needs the ``act_<name>`` functions (``activations.glsl_functions``) defined before
    it.
    """
    if path not in ("fragment", "compute", "compute1"):
        raise CPPNError(f"unknown render path {path!r}; valid: fragment, compute, compute1")
    weights, latent = _plugs(spec, first_bias)
    return glsl.network(spec, weights, latent, fma=glsl.version(path, "baked") >= 400)


def source(spec: NetworkSpec, z: np.ndarray | None = None, path: str = "fragment",
           image_format: str = "rgba32f", latent: str = "baked") -> str:
    """A complete fragment or compute shader for ``spec`` at latent ``z``, weights baked in.
    Compute programs ("compute", or its older name "compute1") evaluate one pixel per
    invocation.

    ``latent="uniform"`` keeps the z-folded first bias in a uniform (``z`` is then unused): one
    program serves a whole morph; ``"baked"`` makes it constants too (exports, fastest).

    It is the runtime program (``glsl.program``) with the other weight and latent plugs:
    coordinates, colour and the body generator are shared, so the two cannot drift apart.
    """
    if latent not in ("baked", "uniform"):
        raise CPPNError(f"unknown latent mode {latent!r}; valid: baked, uniform")
    if path not in ("fragment", "compute", "compute1"):
        raise CPPNError(f"unknown render path {path!r}; valid: fragment, compute, compute1")
    first_bias = spec.first_bias(z) if latent == "baked" else None
    weights, lat = _plugs(spec, first_bias)
    return glsl.program(spec, path, weights, lat, "baked", image_format,
                        note="Weights baked as constants by realtime_cppn.rendering.codegen.bake.")


def latent_uniform(spec: NetworkSpec, z: np.ndarray | None) -> np.ndarray:
    """The value of ``u_bias0`` for latent ``z``: (first-layer blocks, 4) float32."""
    return glsl.first_bias_block(spec, z)


def raw_uniforms(spec: NetworkSpec, size: tuple[int, int],
                 view: View | None = None) -> dict[str, object]:
    """The uniforms a program reads to draw raw outputs (u_color_mode 0), as Renderer.draw sets
    them; unset ones keep GL's default of zero. Skip names the compiler dropped."""
    w, h = check_size(size)
    view = view or View()
    return {
        "u_resolution": (float(w), float(h)),
        "u_center": tuple(float(c) for c in view.center),
        "u_scale": float(spec.scale / view.zoom),
        "u_symmetry": view.symmetry_code,
        "u_kaleido": getattr(view, "kaleido", 0),
        "u_color_mode": 0,
    }
