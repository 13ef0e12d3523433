"""Constants-baked GLSL: a network's weights written into the shader source as literals.

This is how prior GLSL exporters ship a CPPN (and how Shadertoy / ISF exports must, having no
uniform buffers): each layer is a sum of ``mat4(16 constants) * vec4`` terms. The driver can fold
the constants into immediates, so steady state is fast, but every new weight set is a new
program to compile. The latent term W_z z lives in the first layer's bias: baked too (exports,
a program per z) or left a small uniform, ``u_bias0`` (one program serves a whole morph, at the
same speed on llvmpipe; benchmarks/README.md).

It reuses glsl.py's templates, input features, colour mapping and vec4 blocking, so a baked
program draws exactly what the uniform-fed one draws for the same uniforms (u_resolution,
u_center, u_scale, u_symmetry...; ``raw_uniforms`` gives them).
"""

from __future__ import annotations

import numpy as np

from ...core.errors import CPPNError
from ...core.spec import NetworkSpec, View, check_size
from . import glsl


def literal(value: float) -> str:
    """A GLSL float literal that parses back to exactly ``np.float32(value)``.

    repr() of the float32 widened to a double is the shortest text naming that double exactly,
    so a compiler parsing straight to float, or to double and then to float, gets the same bits.
    """
    text = repr(float(np.float32(value)))
    return text if ("." in text or "e" in text) else text + ".0"


def _blocks(n: int) -> int:
    return (n + 3) // 4


def _padded(matrix: np.ndarray, rows: int, cols: int) -> np.ndarray:
    out = np.zeros((rows, cols), dtype=np.float32)
    out[: matrix.shape[0], : matrix.shape[1]] = matrix
    return out


def _vec4(values: np.ndarray) -> str:
    return f"vec4({', '.join(literal(v) for v in values)})"


def _mat4(block: np.ndarray) -> str:
    """(4 out, 4 in) weights as a GLSL mat4 M with M * v = block @ v (GLSL is column-major)."""
    return f"mat4({', '.join(literal(v) for v in block.T.reshape(-1))})"


LATENT_UNIFORM = "u_bias0"  # vec4[]: the first layer's bias with z folded, when not baked


def _layers(spec: NetworkSpec, first_bias: np.ndarray | None):
    """Per layer: (zero-padded weights (4*out_blocks, 4*in_blocks), padded bias, activation)."""
    if first_bias is None:  # read from LATENT_UNIFORM: these zeros are never written out
        first_bias = np.zeros(spec.layers[0].weight.shape[0], np.float32)
    first_bias = np.asarray(first_bias, dtype=np.float32).reshape(-1)
    if first_bias.shape != (spec.layers[0].weight.shape[0],):
        raise CPPNError(
            f"first bias must have {spec.layers[0].weight.shape[0]} values, got {first_bias.size}"
        )
    n_coord = len(spec.inputs)
    out = []
    for i, layer in enumerate(spec.layers):
        w = layer.weight[:, :n_coord] if i == 0 else layer.weight  # z lives in the first bias
        b = first_bias if i == 0 else layer.bias
        ob, ib = _blocks(w.shape[0]), _blocks(w.shape[1])
        out.append((_padded(w, 4 * ob, 4 * ib), _padded(b[None, :], 1, 4 * ob)[0],
                    layer.activation))
    return out


def _mask(spec: NetworkSpec) -> str:
    return ", ".join("1.0" if c < spec.out_channels else "0.0" for c in range(4))


def _bias(b: np.ndarray, n: int, q: int, latent_uniform: bool) -> str:
    if n == 1 and latent_uniform:
        return f"{LATENT_UNIFORM}[{q}]"
    return _vec4(b[4 * q:4 * q + 4])


def _declarations(spec: NetworkSpec, latent_uniform: bool) -> list[str]:
    if not latent_uniform:
        return []
    return [f"uniform vec4 {LATENT_UNIFORM}[{_blocks(spec.layers[0].weight.shape[0])}];"
            "  // first bias + W_z z, set per frame"]


def _fragment_network(spec: NetworkSpec, first_bias: np.ndarray | None) -> str:
    """vec4 evaluate(vec2 p): one pixel; hidden state as named vec4s h<layer>_<block>."""
    feats = glsl._input_exprs(spec.inputs, "p.x", "p.y", "1.0")
    feats += ["0.0"] * (4 * _blocks(len(feats)) - len(feats))
    lines = [*_declarations(spec, first_bias is None), "vec4 evaluate(vec2 p) {"]
    lines += [f"    vec4 h0_{j} = vec4({', '.join(feats[4 * j:4 * j + 4])});"
              for j in range(len(feats) // 4)]
    layers = _layers(spec, first_bias)
    for n, (w, b, act) in enumerate(layers, start=1):
        ob, ib = w.shape[0] // 4, w.shape[1] // 4
        lines.append(f"    // layer {n}: {spec.layers[n - 1].weight.shape[0]} outputs, {act}")
        for q in range(ob):
            terms = [_bias(b, n, q, first_bias is None)]
            terms += [f"{_mat4(w[4 * q:4 * q + 4, 4 * j:4 * j + 4])} * h{n - 1}_{j}"
                      for j in range(ib)]
            lines.append(f"    vec4 h{n}_{q} = act_{act}({' + '.join(terms)});")
    lines += [f"    return h{len(layers)}_0 * vec4({_mask(spec)});", "}"]
    return "\n".join(lines)


def _compute_network(spec: NetworkSpec, first_bias: np.ndarray | None) -> str:
    """void evaluate(vec4 px, vec4 py, out vec4 o[4]): four pixels, as in shaders/network.comp.

    Hidden block j of the four pixels is a mat4 whose column k is pixel k's four neurons, so a
    layer term is one constant mat4 times that mat4 (four matrix-vector products).
    """
    feats = glsl._input_exprs(spec.inputs, "px", "py", "vec4(1.0)")
    feats += ["vec4(0.0)"] * (4 * _blocks(len(feats)) - len(feats))
    lines = [*_declarations(spec, first_bias is None),
             "void evaluate(vec4 px, vec4 py, out vec4 o[4]) {"]
    # transpose(mat4(feature rows)): column k becomes pixel k's features.
    lines += [f"    mat4 h0_{j} = transpose(mat4({', '.join(feats[4 * j:4 * j + 4])}));"
              for j in range(len(feats) // 4)]
    layers = _layers(spec, first_bias)
    for n, (w, b, act) in enumerate(layers, start=1):
        ob, ib = w.shape[0] // 4, w.shape[1] // 4
        lines.append(f"    // layer {n}: {spec.layers[n - 1].weight.shape[0]} outputs, {act}")
        for q in range(ob):
            bias = _bias(b, n, q, first_bias is None)
            terms = [f"mat4({bias}, {bias}, {bias}, {bias})"]
            terms += [f"{_mat4(w[4 * q:4 * q + 4, 4 * j:4 * j + 4])} * h{n - 1}_{j}"
                      for j in range(ib)]
            lines.append(f"    mat4 a{n}_{q} = {' + '.join(terms)};")
            cols = ", ".join(f"act_{act}(a{n}_{q}[{k}])" for k in range(4))
            lines.append(f"    mat4 h{n}_{q} = mat4({cols});")
    last = f"h{len(layers)}_0"
    lines.append(f"    mat4 t = transpose({last});  // column c: channel c of the four pixels")
    for c in range(4):
        lines.append(f"    o[{c}] = " + (f"t[{c}];" if c < spec.out_channels else "vec4(0.0);"))
    lines.append("}")
    return "\n".join(lines)


def network(spec: NetworkSpec, first_bias: np.ndarray | None, path: str = "fragment") -> str:
    """The GLSL ``evaluate`` function of ``spec`` with every weight a literal.

    ``first_bias`` is the first layer's bias with the latent term folded in
    (``spec.first_bias(z)``); the first layer's constants cover only the coordinate inputs.
    None declares it as ``uniform vec4 u_bias0[]`` instead (``latent_uniform`` gives its value),
    so z can move every frame without a new program.
    The text needs the ``act_<name>`` functions (``activations.glsl_functions``) defined before
    it; exporters (Shadertoy, ISF) wrap it in their own main.
    """
    if path in ("fragment", "compute1"):  # compute1: one pixel per invocation, same body
        return _fragment_network(spec, first_bias)
    if path == "compute":
        return _compute_network(spec, first_bias)
    raise CPPNError(f"unknown render path {path!r}; valid: fragment, compute, compute1")


def source(spec: NetworkSpec, z: np.ndarray | None = None, path: str = "fragment",
           image_format: str = "rgba32f", latent: str = "baked") -> str:
    """A complete fragment or compute shader for ``spec`` at latent ``z``, weights baked in.
    ``path`` "compute1" is a compute shader evaluating one pixel per invocation.

    ``latent="uniform"`` keeps the z-folded first bias in a uniform (``z`` is then unused): one
    program serves a whole morph; ``"baked"`` makes it constants too (exports, fastest).

    It is glsl.source's uniform-fed shader with two pieces swapped: the weight declaration
    (gone) and evaluate() (constants). Everything else, coordinates and colour, is shared text,
    so the two programs cannot drift apart.
    """
    uniform_src = glsl.source(spec, path, "texture", image_format)
    decl = glsl._weights_decl("texture", glsl.layout(spec).size)
    body = glsl._compute_body(spec) if path == "compute" else glsl._fragment_body(spec)
    for piece in (decl, body):
        if uniform_src.count(piece) != 1:  # glsl.py changed shape: fail loudly, never silently
            raise CPPNError("bake.source is out of step with glsl.source; update bake.py")
    text = uniform_src.replace(decl, "// Weights are baked into evaluate() as constants.")
    if latent not in ("baked", "uniform"):
        raise CPPNError(f"unknown latent mode {latent!r}; valid: baked, uniform")
    first_bias = spec.first_bias(z) if latent == "baked" else None
    text = text.replace(body, network(spec, first_bias, path))
    version, rest = text.split("\n", 1)
    return f"{version}\n// Weights baked as constants by realtime_cppn.rendering.codegen.bake.\n{rest}"


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
