"""GLSL generation and weight packing: NetworkSpec -> shader source + a (N, 4) float32 array.

Shader text lives in ``shaders/`` (shipped in the wheel as ``realtime_cppn/shaders``); this
module fills its ``${...}`` placeholders strictly (a missing one is an error) and writes only the
repetitive network body. ``network`` is the one body generator: the runtime programs, the
constants-baked ones (bake.py) and the exports (exports.py) differ only in its two plug points,
where a weight's value comes from (``Weights``: a literal index into the uniform block, storage
buffer or texture, or a baked literal) and where the first layer's bias comes from (``Latent``:
folded into the weights on the host, a uniform, or the exports' latent loop).

The body is straight-line code, one pixel per invocation: every multiply-add is written out as
its own ``fma`` (GPU compilers map each to one instruction whose weight operand comes from the
constant cache), and every weight is read with a literal index, so no compiler keeps a loop or
an indexed register array. The source depends on the architecture (and the uniform block size
of the context) alone, never on weight values, so a reseed is one data upload.

Weight layout (one vec4 per texel or std140 array element), shared by every storage:
for each layer, ``ceil(out/4)`` vec4s of bias, then for each output neuron ``ceil(in/4)`` vec4s of
its input weights (zero padded). Layer 0's bias sits at offset 0 so the per-frame latent fold
(``NetworkSpec.first_bias``) rewrites only the first texels; its weights cover only the
coordinate inputs, because z is folded into that bias on the host. Networks larger than one
uniform block are split into consecutive blocks of ``block`` vec4s, bound as ranges of the same
buffer: the packed array and its single upload do not change.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ...core import activations
from ...core.errors import CPPNError
from ...core.spec import NetworkSpec

TEXTURE_WIDTH = 1024  # texels per row of the weight texture; every GL allows 1024
STORAGES = ("ubo", "ssbo", "texture")
_LANES = "xyzw"


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


def literal(value: float) -> str:
    """A GLSL float literal that parses back to exactly ``np.float32(value)``.

    repr() of the float32 widened to a double is the shortest text naming that double exactly,
    so a compiler parsing straight to float, or to double and then to float, gets the same bits.
    """
    text = repr(float(np.float32(value)))
    return text if ("." in text or "e" in text) else text + ".0"


# --- the two plug points ----------------------------------------------------------------------


@dataclass(frozen=True)
class Weights:
    """Where the body reads weight ``i`` (a float index into ``pack``'s flat layout).

    ``expr(i)`` is GLSL text, or None for a weight known to be zero (the term is left out).
    ``declaration`` is what the shader must declare for those expressions.
    """

    expr: Callable[[int], str | None]
    declaration: str = ""
    # Weight i at a vec4 offset held in a GLSL int variable (layer loops); None: no such form.
    dynamic: Callable[[int, str], str] | None = None


def block_names(blocks: int) -> list[str]:
    """The std140 block names of a network split over ``blocks`` uniform blocks."""
    return ["Weights"] if blocks == 1 else [f"Weights{b}" for b in range(blocks)]


def blocks_for(size: int, block: int | None) -> int:
    """Uniform blocks a layout of ``size`` vec4s needs, ``block`` vec4s each (None: one)."""
    return 1 if block is None or size <= block else -(-size // block)


def _dynamic_u_w(i: int, offset: str) -> str:
    return f"u_w[{offset} + {i >> 2}].{_LANES[i & 3]}"


def runtime_weights(storage: str, size: int, block: int | None = None) -> Weights:
    """Weights read from GL storage with a literal index each (the runtime programs).

    ``block`` is the vec4s per uniform block (ubo only; None: one block holds the network).
    """
    if storage == "texture":
        decl = ("uniform sampler2D u_weights;\n"
                f"vec4 W(int k) {{ return texelFetch(u_weights, ivec2(k % {TEXTURE_WIDTH}, "
                f"k / {TEXTURE_WIDTH}), 0); }}")
        return Weights(lambda i: f"W({i >> 2}).{_LANES[i & 3]}", decl,
                       lambda i, o: f"W({o} + {i >> 2}).{_LANES[i & 3]}")
    if storage == "ssbo":
        decl = "layout(std430, binding = 0) readonly buffer Weights { vec4 u_w[]; };"
        return Weights(lambda i: f"u_w[{i >> 2}].{_LANES[i & 3]}", decl, _dynamic_u_w)
    if storage != "ubo":
        raise CPPNError(f"unknown weight storage {storage!r}; valid: {', '.join(STORAGES)}")
    n = blocks_for(size, block)
    if n == 1:
        decl = f"layout(std140) uniform Weights {{ vec4 u_w[{size}]; }};"
        return Weights(lambda i: f"u_w[{i >> 2}].{_LANES[i & 3]}", decl, _dynamic_u_w)
    assert block is not None
    decl = "\n".join(
        f"layout(std140) uniform {name} {{ vec4 u_w{b}[{min(block, size - b * block)}]; }};"
        for b, name in enumerate(block_names(n)))
    return Weights(lambda i: f"u_w{(i >> 2) // block}[{(i >> 2) % block}].{_LANES[i & 3]}", decl)


def baked_weights(packed: np.ndarray) -> Weights:
    """Weights as float literals (``literal``) from ``pack``'s array; zeros are left out."""
    flat = np.asarray(packed, np.float32).reshape(-1)
    return Weights(lambda i: None if flat[i] == 0 else literal(flat[i]))


@dataclass(frozen=True)
class Latent:
    """Where layer 0's bias (``b0 + W_z z``) comes from.

    ``bias`` None reads it through the weights (z folded on the host into the packed bias);
    otherwise ``bias(r)`` is neuron r's GLSL expression, computed by ``prelude`` lines at the
    top of the function (the exports' latent loop) or declared by ``declaration`` (a uniform).
    """

    bias: Callable[[int], str] | None = None
    prelude: tuple[str, ...] = ()
    declaration: str = ""


FOLDED = Latent()
LATENT_UNIFORM = "u_bias0"  # vec4[]: the first layer's bias with z folded, set per frame


def uniform_latent(spec: NetworkSpec) -> Latent:
    """Layer 0's bias from ``uniform vec4 u_bias0[]`` (one baked program serves a morph)."""
    n = layout(spec).first_bias_blocks
    return Latent(lambda r: f"{LATENT_UNIFORM}[{r >> 2}].{_LANES[r & 3]}",
                  declaration=f"uniform vec4 {LATENT_UNIFORM}[{n}];  // first bias + W_z z")


# --- the body generator -----------------------------------------------------------------------


def chain(acc: str, terms: Sequence[tuple[str, str]], fma: bool) -> str:
    """``acc + sum w * x`` as a chain of multiply-adds, one per term, in order.

    Written as nested ``fma`` where the dialect has it (GLSL 4.00+), else as ``w * x + (...)``,
    which compilers contract to the same instructions; never as dot products or a sum of
    products, which compile to a multiply and an add per group.
    """
    for w, x in terms:
        acc = _mad(w, x, acc, fma)
    return acc


def _mad(w: str, x: str, acc: str, fma: bool) -> str:
    if fma:
        return f"fma({w}, {x}, {acc})"
    return f"{w} * {x} + {acc}" if _atom(acc) else f"{w} * {x} + ({acc})"


def _atom(text: str) -> bool:
    """No operator outside brackets and parentheses: safe as the right side of ``+``."""
    depth = 0
    for ch in text:
        depth += ch in "[(" and 1 or -(ch in "])")
        if depth == 0 and ch in "+-*/ ":
            return False
    return True


def _input_exprs(inputs: tuple[str, ...], px: str, py: str, one: str) -> list[str]:
    exprs = {"x": px, "y": py, "r": f"sqrt({px} * {px} + {py} * {py})", "b": one}
    return [exprs[i] for i in inputs]


@dataclass(frozen=True)
class Signature:
    """The emitted function's head and how its inputs and outputs are spelled."""

    head: str = "vec4 evaluate(vec2 p)"
    features: tuple[str, ...] | None = None  # coordinate feature expressions; None: from inputs
    pixels: int = 1  # 1: one pixel, scalars; 4: four pixels in the lanes of each vec4
    mask: bool = True  # zero the channels past out_channels in the result


def _runs(lay: Layout, loop: bool) -> list[tuple[int, int]]:
    """(first layer index, count) covering the layers in order: identical square hidden layers
    in a row (same width and activation, never the first or the last) form one run when
    ``loop``; every other layer is a run of one."""
    layers, runs, i = lay.layers, [], 0
    while i < len(layers):
        j = i + 1
        if loop and 0 < i:
            while (j < len(layers) - 1 and layers[j].fan_in == layers[j].fan_out == layers[i].fan_out
                   and layers[i].fan_in == layers[i].fan_out
                   and layers[j].activation == layers[i].activation):
                j += 1
        runs.append((i, j - i))
        i = j
    return runs


def network(spec: NetworkSpec, weights: Weights, latent: Latent = FOLDED, fma: bool = True,
            signature: Signature | None = None, loop: bool = False) -> str:
    """The GLSL function evaluating ``spec`` at one point (or four, ``signature.pixels``).

    Straight-line: each neuron is a chain of multiply-adds over its real inputs only (padding
    is never multiplied), then each group of four goes through ``act_<name>`` (the registry's
    GLSL, defined before this text). ``weights`` and ``latent`` are the plug points. ``loop``
    (weights with a ``dynamic`` form) runs identical hidden layers in a row as one
    loop whose body is one layer, unrolled: big networks compile in a fraction of the time.
    """
    sig = signature or Signature()
    if sig.pixels not in (1, 4):
        raise CPPNError(f"pixels per invocation must be 1 or 4, got {sig.pixels}")
    body = _Body(latent, fma, sig.pixels == 4)
    lay = layout(spec)
    lines = [d for d in (weights.declaration, latent.declaration) if d]
    lines.append(sig.head + " {")
    lines += [f"    {line}" for line in latent.prelude]
    lines += body.inputs(_features(spec, sig))
    dynamic = weights.dynamic if loop else None
    for i, count in _runs(lay, dynamic is not None):
        if count == 1:
            lines += body.single(lay, i, weights.expr)
        else:
            assert dynamic is not None
            lines += body.looped(lay, i, count, dynamic)
    lines += body.outputs(spec, len(lay.layers), sig.mask)
    lines.append("}")
    return "\n".join(lines)


def _features(spec: NetworkSpec, sig: Signature) -> list[str]:
    """The coordinate features' expressions: the signature's own, or from the spec's inputs."""
    if sig.features is not None:
        return list(sig.features)
    if sig.pixels == 4:
        return _input_exprs(spec.inputs, "px", "py", "vec4(1.0)")
    return _input_exprs(spec.inputs, "p.x", "p.y", "1.0")


@dataclass(frozen=True)
class _Body:
    """Emits the lines of ``network``'s body: one pixel in the lanes of ``h<layer>_<block>``
    vec4s, or (``px4``) four pixels, one ``h<layer>_<neuron>`` vec4 per neuron."""

    latent: Latent
    fma: bool
    px4: bool

    def inputs(self, feats: list[str]) -> list[str]:
        """Layer 0's values ``h0``: the features, padded with zeros to whole vec4s."""
        if self.px4:
            return [f"    vec4 h0_{i} = {f};" for i, f in enumerate(feats)]
        pad = feats + ["0.0"] * (4 * _ceil4(len(feats)) - len(feats))
        return [f"    vec4 h0_{j} = vec4({', '.join(pad[4 * j:4 * j + 4])});"
                for j in range(len(pad) // 4)]

    def ref(self, h: str, i: int) -> str:
        return f"{h}_{i}" if self.px4 else f"{h}_{i >> 2}.{_LANES[i & 3]}"

    def single(self, lay: Layout, i: int, expr: Callable[[int], str | None]) -> list[str]:
        """Layer ``i`` written out, from ``h<i>`` into new ``h<i + 1>`` values."""
        lo, n = lay.layers[i], i + 1
        return [f"    // layer {n}: {lo.fan_in} -> {lo.fan_out}, {lo.activation}",
                *self.layer(lo, i == 0, f"h{i}", f"h{n}", expr, "    ", True)]

    def looped(self, lay: Layout, i: int, count: int,
               dynamic: Callable[[int, str], str]) -> list[str]:
        """Layers ``i .. i + count - 1`` (identical, square) as one loop over the unrolled
        layer, whose weights are read at a vec4 offset that steps a layer each turn (``o``;
        ``k`` in the four-pixel program, whose output array is ``o``)."""
        lo, n = lay.layers[i], i + 1
        offset = "k" if self.px4 else "o"
        last = n + count - 1
        stride = lay.layers[i + 1].bias_offset - lo.bias_offset  # vec4s per layer
        blocks = lo.out_blocks if not self.px4 else lo.fan_out
        return [
            f"    // layers {n}-{last}: {lo.fan_in} -> {lo.fan_out}, {lo.activation}, "
            "one loop of the unrolled layer",
            *[f"    vec4 hl_{q} = h{i}_{q};" for q in range(blocks)],
            f"    for (int l = 0; l < {count}; l++) {{",
            f"        int {offset} = l * {stride};  // vec4 offset of layer {n} + l",
            *self.layer(lo, False, "hl", "hl", lambda k: dynamic(k, offset), "        ", False),
            "    }",
            *[f"    vec4 h{last}_{q} = hl_{q};" for q in range(blocks)],
        ]

    def layer(self, lo: LayerLayout, first: bool, src: str, dst: str,
              expr: Callable[[int], str | None], indent: str, declare: bool) -> list[str]:
        """One layer's neurons (``a<layer>_<r>``, or ``a_<r>`` reused in a loop) then its
        activations into ``dst``; ``declare`` says whether those are new variables."""
        stem = f"a{dst[1:]}" if declare else "a"
        out = []
        for r in range(lo.fan_out):
            out += self.neuron(lo, r, first, src, f"{stem}_{r}", expr, indent)
        return out + self.activations(lo, stem, dst, indent, "vec4 " if declare else "")

    def neuron(self, lo: LayerLayout, r: int, first: bool, src: str, name: str,
               expr: Callable[[int], str | None], indent: str) -> list[str]:
        """Neuron ``r``'s pre-activation: its bias, then a multiply-add per nonzero weight."""
        px4 = self.px4
        bias = self.latent.bias(r) if first and self.latent.bias is not None else \
            expr(4 * lo.bias_offset + r) or "0.0"
        if px4:
            bias = f"vec4({bias})"
        base = 4 * (lo.weight_offset + r * lo.in_blocks)
        terms = []
        for i in range(lo.fan_in):
            w = expr(base + i)
            if w is not None:
                terms.append((f"vec4({w})" if px4 and self.fma else w, self.ref(src, i)))
        # One statement per four inputs: short lines, the same chain of multiply-adds.
        out, acc = [], bias
        for k in range(0, max(len(terms), 1), 4):
            for w, x in terms[k:k + 4]:
                acc = _mad(w, x, acc, self.fma)
            typed = ("vec4 " if px4 else "float ") if k == 0 else ""
            out.append(f"{indent}{typed}{name} = {acc};")
            acc = name
        return out

    def activations(self, lo: LayerLayout, stem: str, dst: str, indent: str,
                    kind: str) -> list[str]:
        if self.px4:
            return [f"{indent}{kind}{dst}_{r} = act_{lo.activation}({stem}_{r});"
                    for r in range(lo.fan_out)]
        out = []
        for q in range(lo.out_blocks):
            args = [f"{stem}_{r}" if r < lo.fan_out else "0.0" for r in range(4 * q, 4 * q + 4)]
            out.append(f"{indent}{kind}{dst}_{q} = act_{lo.activation}(vec4({', '.join(args)}));")
        return out

    def outputs(self, spec: NetworkSpec, last: int, mask: bool) -> list[str]:
        """The result: ``o[]`` for four pixels, else the last layer's vec4 (masked to
        ``out_channels`` when ``mask``)."""
        if self.px4:
            return [f"    o[{c}] = h{last}_{c};" if c < spec.out_channels else
                    f"    o[{c}] = vec4(0.0);" for c in range(4)]
        if mask:
            ones = ", ".join("1.0" if c < spec.out_channels else "0.0" for c in range(4))
            return [f"    return h{last}_0 * vec4({ones});"]
        return [f"    return h{last}_0;"]


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


PATHS = ("fragment", "compute")  # what a Renderer draws runtime weights with
# Compute programs' pixels per work group side: 16x16 invocations of one pixel each
# (shaders/pixel.comp); the four-pixel program (shaders/network.comp, kept for comparison in the
# benchmarks) covers 16x16 pixels with 8x8 invocations. "compute1" names the one-pixel program.
GROUP_PIXELS = {"compute": 16, "compute1": 16, "compute4": 16}
_TEMPLATES = {"fragment": "network.frag", "compute": "pixel.comp", "compute4": "network.comp"}


def version(path: str, storage: str) -> int:
    """The GLSL version a program is written for: 330 for fragment shaders (GL 3.3, macOS 4.1)
    unless the weights are a storage buffer; 430 for compute shaders."""
    return 330 if path == "fragment" and storage != "ssbo" else 430


# Multiply-adds per pixel above which the runtime program loops over identical hidden layers
# (glsl.network's ``loop``). On llvmpipe straight-line W64 D4 (12.7k) compiles ~6x slower than
# the loop (70 s against 12 s of one core), W32 D4 (3.3k) faster than the old looped program;
# GPU compilers take straight-line W64 D8 (29k) in seconds and turn every weight into a
# constant-bank operand, so they loop only beyond it (DriverProfile.loop_above). The four-pixel
# compute program (software rasterizers) loops too: straight-line, its W64 D4 took llvmpipe
# 30 s of CPU against 8 s looped (benchmarks/README.md).
LOOP_MACS_SOFTWARE = 8192
LOOP_MACS_GPU = 32768


def program(spec: NetworkSpec, path: str, weights: Weights, latent: Latent, storage: str,
            image_format: str = "rgba32f", pixels: int = 1, note: str = "",
            loop: bool = False) -> str:
    """A complete shader around ``network(spec, weights, latent)``: the one assembly of
    template, common code, activations and body, for runtime and baked programs alike."""
    if path == "compute1":
        path = "compute"
    if path not in PATHS:
        raise CPPNError(f"unknown render path {path!r}; valid: {', '.join(PATHS)}")
    if pixels not in (1, 4) or (pixels == 4 and path != "compute"):
        raise CPPNError("four pixels per invocation exist only as a compute shader")
    lay = layout(spec)
    ver = version(path, storage)
    acts = [lo.activation for lo in lay.layers]
    arch = ", ".join(f"{lo.fan_in}->{lo.fan_out} {lo.activation}" for lo in lay.layers)
    common = fill(
        load("common.glsl"),
        channels=str(spec.out_channels),
        activations=activations.glsl_functions(acts),
    )
    template = _TEMPLATES["compute4" if pixels == 4 else path]
    header = (f"// Generated by realtime-cppn from shaders/{template}: do not edit.\n// {arch}"
              + (f"\n// {note}" if note else ""))
    sig = Signature(head="void evaluate(vec4 px, vec4 py, out vec4 o[4])", pixels=4) \
        if pixels == 4 else Signature()
    body = network(spec, weights, latent, fma=ver >= 400, signature=sig, loop=loop)
    parts = {"header": header, "common": common, "network": body, "version": str(ver)}
    if path == "compute":
        parts["image_format"] = image_format
    return fill(load(template), **parts)


def source(spec: NetworkSpec, path: str = "fragment", storage: str = "texture",
           image_format: str = "rgba32f", pixels: int = 1, block: int | None = None,
           loop_above: int = LOOP_MACS_GPU) -> str:
    """The complete shader for ``spec``'s architecture (the weights are not in it).

    ``storage`` is where the weights live (STORAGES); ``block`` the vec4s per uniform block
    where the network needs several (None: one block). ``pixels`` 4 is the older four-pixel
    compute program, kept for the benchmarks' comparison. Networks of more than
    ``loop_above`` multiply-adds per pixel loop over their identical hidden layers.
    """
    if storage not in STORAGES:
        raise CPPNError(f"unknown weight storage {storage!r}; valid: {', '.join(STORAGES)}")
    weights = runtime_weights(storage, layout(spec).size, block)
    loop = spec.macs_per_pixel > loop_above and weights.dynamic is not None
    return program(spec, path, weights, FOLDED, storage, image_format, pixels, loop=loop)


def outputs_source(channels: int) -> str:
    """The CPU path's colour pass for networks with ``channels`` outputs (shaders/outputs.frag)."""
    common = fill(load("common.glsl"), channels=str(channels), activations="")
    header = "// Generated by realtime-cppn from shaders/outputs.frag: do not edit."
    return fill(load("outputs.frag"), header=header, common=common)
