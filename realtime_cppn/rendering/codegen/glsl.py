"""GLSL generation and weight packing: NetworkSpec -> shader source + a (N, 4) float32 array.

Shader text lives in ``shaders/`` (shipped in the wheel as ``realtime_cppn/shaders``); this
module fills its ``${...}`` placeholders strictly (a missing one is an error) and writes only the
repetitive network body. The source depends on the architecture alone, never on weight values, so a
reseed is a data upload and compiles nothing.

Weight layout (one vec4 per texel or std140 array element), shared by both shader paths:
for each layer, ``ceil(out/4)`` vec4s of bias, then for each output neuron ``ceil(in/4)`` vec4s of
its input weights (zero padded). Layer 0's bias sits at offset 0 so the per-frame latent fold
(``NetworkSpec.first_bias``) rewrites only the first texels; its weights cover only the
coordinate inputs, because z is folded into that bias on the host.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ...core import activations
from ...core.errors import CPPNError
from ...core.spec import NetworkSpec

TEXTURE_WIDTH = 1024  # texels per row of the weight texture; every GL allows 1024


def _ceil4(n: int) -> int:
    return (n + 3) // 4


@dataclass(frozen=True)
class LayerLayout:
    fan_in: int  # inputs the shader multiplies (layer 0: coordinate features only)
    fan_out: int
    activation: str
    bias_offset: int  # in vec4 units
    weight_offset: int

    @property
    def in_blocks(self) -> int:
        return _ceil4(self.fan_in)

    @property
    def out_blocks(self) -> int:
        return _ceil4(self.fan_out)


@dataclass(frozen=True)
class Layout:
    layers: tuple[LayerLayout, ...]
    size: int  # vec4s in all

    @property
    def first_bias_blocks(self) -> int:
        return self.layers[0].out_blocks


@functools.lru_cache(maxsize=64)
def _layout(architecture: tuple) -> Layout:
    inputs, _z_dim, shapes = architecture
    layers = []
    offset = 0
    fan_in = len(inputs)
    for fan_out, _, act in shapes:
        bias_offset = offset
        offset += _ceil4(fan_out)
        weight_offset = offset
        offset += 4 * _ceil4(fan_out) * _ceil4(fan_in)
        layers.append(LayerLayout(fan_in, fan_out, act, bias_offset, weight_offset))
        fan_in = fan_out
    return Layout(tuple(layers), offset)


def layout(spec: NetworkSpec) -> Layout:
    return _layout(spec.architecture)


def pack(spec: NetworkSpec, z: np.ndarray | None = None) -> np.ndarray:
    """All weights and biases as (N, 4) float32, with z folded into the first bias."""
    lay = layout(spec)
    data = np.zeros((lay.size, 4), dtype=np.float32)
    flat = data.reshape(-1)
    n_coord = len(spec.inputs)
    for i, (lo, layer) in enumerate(zip(lay.layers, spec.layers)):
        bias = spec.first_bias(z) if i == 0 else layer.bias
        flat[4 * lo.bias_offset : 4 * lo.bias_offset + lo.fan_out] = bias
        w = layer.weight[:, :n_coord] if i == 0 else layer.weight
        rows = np.zeros((4 * lo.out_blocks, 4 * lo.in_blocks), dtype=np.float32)
        rows[: lo.fan_out, : lo.fan_in] = w
        start = 4 * lo.weight_offset
        flat[start : start + rows.size] = rows.reshape(-1)
    return data


def first_bias_block(spec: NetworkSpec, z: np.ndarray | None) -> np.ndarray:
    """The vec4s at offset 0 that change when z moves: (first_bias_blocks, 4) float32."""
    lay = layout(spec)
    out = np.zeros((lay.first_bias_blocks, 4), dtype=np.float32)
    out.reshape(-1)[: lay.layers[0].fan_out] = spec.first_bias(z)
    return out


# --- templates --------------------------------------------------------------------------------


def _shader_dir():
    packaged = resources.files("realtime_cppn") / "shaders"
    if packaged.joinpath("common.glsl").is_file():
        return packaged
    # A source checkout (editable install): shaders/ sits beside the package.
    return Path(__file__).resolve().parents[3] / "shaders"


@functools.cache
def load(name: str) -> str:
    """The text of shaders/<name>; its first line must be #version (or a comment for includes)."""
    try:
        return _shader_dir().joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CPPNError(f"shader template {name!r} is missing from the installation") from None


def fill(template: str, **parts: str) -> str:
    """Substitute ${name} placeholders strictly, adding #line so errors point at template lines."""
    out = []
    for lineno, line in enumerate(template.splitlines(), start=1):
        text = string.Template(line).substitute(parts)  # KeyError on a missing placeholder
        out.append(text)
        if text.count("\n") and lineno > 1:
            out.append(f"#line {lineno + 1}")
    return "\n".join(out) + "\n"


def _weights_decl(storage: str, size: int) -> str:
    if storage == "texture":
        return (
            "uniform sampler2D u_weights;\n"
            f"vec4 W(int k) {{ return texelFetch(u_weights, ivec2(k % {TEXTURE_WIDTH}, "
            f"k / {TEXTURE_WIDTH}), 0); }}"
        )
    if storage == "ubo":
        return f"layout(std140) uniform Weights {{ vec4 u_w[{size}]; }};\nvec4 W(int k) {{ return u_w[k]; }}"
    raise CPPNError(f"unknown weight storage {storage!r}; valid: texture, ubo")


def _input_exprs(inputs: tuple[str, ...], px: str, py: str, one: str) -> list[str]:
    exprs = {"x": px, "y": py, "r": f"sqrt({px} * {px} + {py} * {py})", "b": one}
    return [exprs[i] for i in inputs]


def _fragment_body(spec: NetworkSpec) -> str:
    """vec4 evaluate(vec2 p): one pixel, hidden state in vec4 blocks, dot products per neuron."""
    lay = layout(spec)
    feats = _input_exprs(spec.inputs, "p.x", "p.y", "1.0")
    feats += ["0.0"] * (4 * lay.layers[0].in_blocks - len(feats))
    lines = ["vec4 evaluate(vec2 p) {"]
    blocks = [f"vec4({', '.join(feats[i:i + 4])})" for i in range(0, len(feats), 4)]
    lines.append(f"    vec4 h0[{len(blocks)}] = vec4[{len(blocks)}]({', '.join(blocks)});")
    for n, lo in enumerate(lay.layers, start=1):
        ib = lo.in_blocks
        lines += [
            f"    // layer {n}: {lo.fan_in} -> {lo.fan_out}, {lo.activation}",
            f"    vec4 h{n}[{lo.out_blocks}];",
            f"    for (int q = 0; q < {lo.out_blocks}; q++) {{",
            f"        vec4 a = W({lo.bias_offset} + q);",
            f"        for (int j = 0; j < {ib}; j++) {{",
            f"            int k = {lo.weight_offset} + 4 * q * {ib} + j;",
            f"            a += vec4(dot(W(k), h{n - 1}[j]), dot(W(k + {ib}), h{n - 1}[j]),",
            f"                      dot(W(k + {2 * ib}), h{n - 1}[j]), dot(W(k + {3 * ib}), h{n - 1}[j]));",
            "        }",
            f"        h{n}[q] = act_{lo.activation}(a);",
            "    }",
        ]
    mask = ", ".join("1.0" if c < spec.out_channels else "0.0" for c in range(4))
    lines += [f"    return h{len(lay.layers)}[0] * vec4({mask});", "}"]
    return "\n".join(lines)


def _compute_body(spec: NetworkSpec) -> str:
    """void evaluate(vec4 px, vec4 py, out vec4 o[4]): four pixels in the lanes of each vec4."""
    lay = layout(spec)
    feats = _input_exprs(spec.inputs, "px", "py", "vec4(1.0)")
    n0 = 4 * lay.layers[0].in_blocks
    lines = ["void evaluate(vec4 px, vec4 py, out vec4 o[4]) {", f"    vec4 h0[{n0}];"]
    lines += [f"    h0[{i}] = {f};" for i, f in enumerate(feats)]
    lines += [f"    h0[{i}] = vec4(0.0);" for i in range(len(feats), n0)]
    for n, lo in enumerate(lay.layers, start=1):
        ib, rows = lo.in_blocks, 4 * lo.out_blocks
        p = f"h{n - 1}"
        lines += [
            f"    // layer {n}: {lo.fan_in} -> {lo.fan_out}, {lo.activation}",
            f"    vec4 h{n}[{rows}];",
            f"    for (int r = 0; r < {rows}; r++) {{",
            f"        vec4 a = vec4(W({lo.bias_offset} + (r >> 2))[r & 3]);",
            f"        for (int j = 0; j < {ib}; j++) {{",
            f"            vec4 w = W({lo.weight_offset} + r * {ib} + j);",
            f"            a += w.x * {p}[4 * j] + w.y * {p}[4 * j + 1] + w.z * {p}[4 * j + 2]"
            f" + w.w * {p}[4 * j + 3];",
            "        }",
            f"        h{n}[r] = act_{lo.activation}(a);",
            "    }",
        ]
    last = f"h{len(lay.layers)}"
    for c in range(4):
        lines.append(f"    o[{c}] = {last}[{c}];" if c < spec.out_channels else f"    o[{c}] = vec4(0.0);")
    lines.append("}")
    return "\n".join(lines)


PATHS = ("fragment", "compute")  # what a Renderer draws runtime weights with
# Compute programs' pixels per work group side (8 x 8 invocations): network.comp evaluates a 2x2
# block per invocation; "compute1" (shaders/pixel.comp, one pixel each) serves baked programs.
GROUP_PIXELS = {"compute": 16, "compute1": 8}


def source(spec: NetworkSpec, path: str = "fragment", storage: str = "texture",
           image_format: str = "rgba32f") -> str:
    """The complete shader for ``spec``'s architecture (the weights are not in it)."""
    if path not in (*PATHS, "compute1"):
        raise CPPNError(f"unknown render path {path!r}; valid: {', '.join(PATHS)}")
    acts = [lo.activation for lo in layout(spec).layers]
    arch = ", ".join(f"{lo.fan_in}->{lo.fan_out} {lo.activation}" for lo in layout(spec).layers)
    common = fill(
        load("common.glsl"),
        weights_decl=_weights_decl(storage, layout(spec).size),
        channels=str(spec.out_channels),
        activations=activations.glsl_functions(acts),
    )
    header = f"// Generated by realtime-cppn from shaders/network.{path[:4]}: do not edit.\n// {arch}"
    if path == "fragment":
        return fill(load("network.frag"), header=header, common=common,
                    network=_fragment_body(spec))
    if path == "compute1":
        return fill(load("pixel.comp"), header=header, common=common,
                    network=_fragment_body(spec), image_format=image_format)
    return fill(load("network.comp"), header=header, common=common,
                network=_compute_body(spec), image_format=image_format)


def outputs_source(channels: int) -> str:
    """The CPU path's colour pass for networks with ``channels`` outputs (shaders/outputs.frag)."""
    common = fill(load("common.glsl"), weights_decl="", channels=str(channels), activations="")
    header = "// Generated by realtime-cppn from shaders/outputs.frag: do not edit."
    return fill(load("outputs.frag"), header=header, common=common)
