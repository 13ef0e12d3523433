"""Exports into other VJ software: a scene's network as Shadertoy, ISF 2 or glslViewer shader text.

Every export is one self-contained fragment shader with the weights baked in as literals
(``bake.literal``: each parses back to the exact float32). Unlike ``bake.source``, the latent z is
*not* folded on the host: the shader carries the latent path's Fourier coefficients and evaluates
``z(phase) = sum_k a_k cos(2 pi k phase) + b_k sin(2 pi k phase)`` per pixel, with
``phase = scene.phase + time * speed / loop``, then the first layer's bias ``b0 + W_z z``. So the
host's clock (Shadertoy ``iTime``, ISF ``TIME``, glslViewer ``u_time``) drives the same closed loop
as the app, and time t in the host shows what the app shows t seconds after opening the scene.
ISF integrates the phase in a persistent pass instead, so its Speed input never moves the loop.

The harmonics' sin/cos come from a polynomial in the shader (``cppn_sincos``), not the host's:
hosts' trigonometry may be off by 2e-4, which a deep network amplifies into visible colour.

The GLSL is written for the oldest dialect any target compiles (GLSL 1.10 for ISF hosts and
glslViewer's default contexts, ES 1.00 for GLES/WebGL1, ES 3.00 for Shadertoy's WebGL2): no
``#version`` outside Shadertoy's wrapper, no arrays, no non-square matrices, no built-in ``tanh``
(the activations registry already defines stable ``act_*``), no ``texelFetch``. Coordinates and
colour follow shaders/common.glsl exactly (the export tests draw both and compare); the view's
symmetry, zoom, centre and colour mode are baked as constants, except that ISF exposes speed,
zoom, centre, symmetry and a few latent offsets as INPUTS whose defaults are the scene's.

uv-remap networks (2 output channels) are refused: their colour comes from an image texture and,
with ``uv_normalize``, a per-frame min/max a single pass cannot compute.
"""

from __future__ import annotations

import json
import re
from itertools import groupby

import numpy as np

from ..core import activations
from ..core.animation import HARMONICS, LatentPath
from ..core.errors import CPPNError
from ..core.scene import Scene
from ..core.spec import PALETTES, SYMMETRIES, NetworkSpec
from ..rendering.codegen import glsl
from ..rendering.codegen.bake import _blocks, _padded, _vec4, literal

FORMATS = ("shadertoy", "isf", "glsl")
SUFFIXES = {"shadertoy": ".glsl", "isf": ".fs", "glsl": ".frag"}

# Most baked weights (weights + biases + latent Fourier coefficients) per format, and the host
# each cap protects. Every weight is a float literal in the source and an immediate in the
# compiled code. Shaders up to 16,384 compiled and played in every host tried (Shadertoy's WebGL2
# page and the ISF JavaScript renderer in Chromium, glslViewer 3.5 on llvmpipe); at 61k weights
# Chrome's GPU process crashed and glslViewer on llvmpipe took minutes to its first frame. WebGL
# on Windows goes through ANGLE to Direct3D, whose compiler is slower still, and ISF hosts
# compile on their render thread, so the show stalls for as long as the compile takes.
MAX_WEIGHTS = {"shadertoy": 16384, "isf": 16384, "glsl": 16384}
CAP_HOSTS = {
    "shadertoy": "WebGL in the browser (Chrome's GPU process, ANGLE on Windows)",
    "isf": "ISF hosts, which compile on their render thread (and the ISF web renderer)",
    "glsl": "glslViewer and glslCanvas (minutes to a first frame on software GL, WebGL crashes)",
}

LATENT_SLIDERS = 4  # ISF latent offset inputs (z0..z3) and the dims iMouse moves (z0, z1)
LATENT_RANGE = 2.0  # offsets span +-2: z is N(0, 1)-like along the loop


def weight_count(spec: NetworkSpec) -> int:
    """Constants an export bakes: every weight and bias plus the latent Fourier coefficients."""
    return sum(lay.weight.size + lay.bias.size for lay in spec.layers) + 2 * HARMONICS * spec.z_dim


def check_exportable(spec: NetworkSpec, fmt: str) -> None:
    """Refuse an unknown format, a uv network, or one too big to bake for ``fmt``."""
    if fmt not in FORMATS:
        raise CPPNError(f"unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")
    if spec.out_channels == 2:
        raise CPPNError(
            "uv-remap networks (2 output channels) cannot be exported: their colour comes from "
            "an image texture; export a 1- or 3-channel network"
        )
    check_weight_count(weight_count(spec), fmt, f" ({layer_widths(spec)})")


def layer_widths(spec: NetworkSpec) -> str:
    """Each layer's width, a run of three or more equal ones as one (a depth-64 network's
    refusal would otherwise be 65 numbers long): "16 (x64) x 3"."""
    runs = [(w, len(list(g))) for w, g in groupby(lay.weight.shape[0] for lay in spec.layers)]
    return " x ".join(f"{w} (x{n})" if n > 2 else " x ".join([str(w)] * n) for w, n in runs)


def check_weight_count(n: int, fmt: str, detail: str = "") -> None:
    """Refuse ``n`` baked weights above the format's MAX_WEIGHTS, saying the limit and why."""
    limit = MAX_WEIGHTS[fmt]
    if n > limit:
        raise CPPNError(
            f"the network has {n} weights{detail}; the {fmt} export bakes at most {limit} as "
            f"constants, which protects {CAP_HOSTS[fmt]}: use a smaller width or depth"
        )


# --- the network with the latent loop in GLSL ----------------------------------------------


def network_glsl(spec: NetworkSpec, path: LatentPath) -> str:
    """``vec4 cppn_evaluate(vec2 p, float phase, vec4 dz)``: outputs at network point ``p``.

    ``phase`` is the loop position (any real: only its fraction matters); ``dz`` offsets latent
    dims 0..3 (ISF sliders, Shadertoy's mouse). The body is ``glsl.network``'s, with the weights
    baked as literals (``glsl.baked_weights``) and the first layer's bias computed per pixel
    from the latent loop (the latent plug): ``b0 + W_z z(phase)``. The harmonics come from
    ``cppn_sincos``, never the host's sin/cos (k is a whole number, so ``k * fract(phase)``
    turns is the same angle as ``k * phase``). Multiply-adds are written ``w * x + acc``: the
    oldest dialects have no ``fma``.
    """
    n_coord = len(spec.inputs)
    feats = {"x": "p.x", "y": "p.y", "r": "length(p)", "b": "1.0"}
    first = spec.layers[0]
    b0 = first.bias
    prelude: list[str] = []
    bias = [literal(v) for v in b0]
    if spec.z_dim:
        # z(phase), four dims per vec4, from the loop's harmonics k = 1..K (LatentPath).
        ks, a, b = path.coefficients()  # (K,), (z_dim, K), (z_dim, K)
        zb, n_k = _blocks(spec.z_dim), len(ks)
        a = _padded(path.amplitude * a, 4 * zb, n_k)
        b = _padded(path.amplitude * b, 4 * zb, n_k)
        prelude += [
            "// latent loop: z(phase) = sum_k a_k cos(2 pi k phase) + b_k sin(2 pi k phase)",
            "float ph = fract(phase);",
        ]
        for i, k in enumerate(ks):
            n = i + 1
            prelude.append(f"vec2 sc{n} = cppn_sincos({literal(k)} * ph);  // harmonic {k:g}")
            prelude.append(f"float c{n} = sc{n}.y, s{n} = sc{n}.x;")
        for j in range(zb):
            rows = slice(4 * j, 4 * j + 4)
            terms = [f"{_vec4(a[rows, i])} * c{i + 1}" for i in range(n_k)]
            terms += [f"{_vec4(b[rows, i])} * s{i + 1}" for i in range(n_k)]
            if j == 0:
                terms.append("dz")
            prelude.append(f"vec4 z_{j} = {' + '.join(terms)};")
        wz = first.weight[:, n_coord:]
        prelude.append("// layer 1's bias: b0 + W_z z")
        for r in range(first.weight.shape[0]):
            terms = [(literal(w), f"z_{j >> 2}.{'xyzw'[j & 3]}")
                     for j, w in enumerate(wz[r]) if w != 0]
            prelude.append(f"float b0_{r} = {glsl.chain(bias[r], terms, fma=False)};")
        bias = [f"b0_{r}" for r in range(first.weight.shape[0])]
    latent = glsl.Latent(bias=lambda r: bias[r], prelude=tuple(prelude))
    signature = glsl.Signature(head="vec4 cppn_evaluate(vec2 p, float phase, vec4 dz)",
                               features=tuple(feats[i] for i in spec.inputs), mask=False)
    return glsl.network(spec, glsl.baked_weights(glsl.pack(spec)), latent, fma=False,
                        signature=signature)


# --- coordinates and colour: shaders/common.glsl with the view's uniforms as arguments ------

_COMMON = """\
#define CPPN_TAU 6.28318530718

// (sin, cos) of x turns (2 pi x radians) from a polynomial of our own, to ~1e-7: a host's
// built-in sin/cos may be off by 2e-4 (Chrome's software WebGL), and a deep network amplifies
// an error in its latent input into visible colour. Reduced to the nearest quarter turn, then
// Taylor series on [-pi/4, pi/4] (remainders below 3e-8).
vec2 cppn_sincos(float x) {
    float u = 4.0 * fract(x);
    float q = floor(u + 0.5);
    float a = 1.5707963267948966 * (u - q);
    float a2 = a * a;
    float s = a * (1.0 + a2 * (-1.0 / 6.0 + a2 * (1.0 / 120.0 + a2 * (-1.0 / 5040.0
        + a2 * (1.0 / 362880.0)))));
    float c = 1.0 + a2 * (-0.5 + a2 * (1.0 / 24.0 + a2 * (-1.0 / 720.0 + a2 * (1.0 / 40320.0
        - a2 * (1.0 / 3628800.0)))));
    q = mod(q, 4.0);
    if (q == 1.0) return vec2(c, -s);
    if (q == 2.0) return vec2(-s, -c);
    if (q == 3.0) return vec2(-c, s);
    return vec2(s, c);
}

// Pixel centre (y up, origin bottom-left) -> network coordinates, as realtime_cppn.core.spec.coords:
// the shorter side spans [-1, 1]; then symmetry (0 none, 1 mirror x, 2 mirror y, 3 both,
// 4 + n - 2 an n-fold kaleidoscope), then centre + scale * point.
vec2 cppn_point(vec2 frag, vec2 res, vec2 c, float scale, int sym) {
    vec2 p = (2.0 * frag - res) / min(res.x, res.y);
    int mirror = sym < 4 ? sym : 0;
    int folds = sym >= 4 ? sym - 2 : 0;
    if (mirror == 1 || mirror == 3) p.x = abs(p.x);
    if (mirror >= 2) p.y = abs(p.y);
    if (folds > 0) {
        float sector = CPPN_TAU / float(folds);
        float a = atan(p.y, p.x);
        a = a - sector * floor(a / sector);
        if (a > sector * 0.5) a = sector - a;
        p = length(p) * cppn_sincos(a / CPPN_TAU).yx;
    }
    return c + scale * p;
}

vec3 cppn_hsv2rgb(vec3 c) {
    vec3 p = abs(fract(c.xxx + vec3(1.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0);
    return c.z * mix(vec3(1.0), clamp(p - 1.0, 0.0, 1.0), c.y);
}
"""


def _colorize(spec: NetworkSpec, color: str, palette: str) -> str:
    """``vec3 cppn_color(vec4 o)``: common.glsl's colorize for one baked colour mode."""
    mono = spec.out_channels == 1
    if color == "hsv":
        hsv = "vec3(o.x, 1.0, 1.0)" if mono else "clamp(o.xyz, 0.0, 1.0)"
        body = f"cppn_hsv2rgb({hsv})"
    elif color == "palette":
        pa, pb, pc, pd = (f"vec3({', '.join(literal(v) for v in row)})" for row in PALETTES[palette])
        body = f"{pa} + {pb} * cos(CPPN_TAU * ({pc} * o.x + {pd}))"
    else:
        body = "vec3(o.x)" if mono else "o.xyz"
    return f"vec3 cppn_color(vec4 o) {{\n    return clamp({body}, 0.0, 1.0);\n}}"


def _body(scene: Scene, spec: NetworkSpec) -> str:
    """Everything but the entry point: constants, helpers, activations, network, colour."""
    acts = activations.glsl_functions([lay.activation for lay in spec.layers])
    path = LatentPath(scene.path_seed, spec.z_dim)
    return "\n".join([
        _COMMON,
        acts,
        "",
        network_glsl(spec, path),
        "",
        _colorize(spec, scene.view.color, scene.view.palette),
        "",
    ])


def _consts(scene: Scene, spec: NetworkSpec, speed: float) -> str:
    v = scene.view
    return "\n".join([
        f"const float CPPN_PHASE0 = {literal(scene.phase % 1.0)};  // loop position at time 0",
        f"const float CPPN_LOOPS_PER_SECOND = {literal(speed / scene.loop)};  "
        f"// speed {speed:g} / loop {scene.loop:g} s",
        f"const float CPPN_SCALE = {literal(spec.scale / v.zoom)};  "
        f"// network scale {spec.scale:g} / zoom {v.zoom:g}",
        f"const vec2 CPPN_CENTER = vec2({literal(v.center[0])}, {literal(v.center[1])});",
        f"const int CPPN_SYMMETRY = {SYMMETRIES.index(v.symmetry)};  // {v.symmetry}",
    ])


def _header(scene: Scene, spec: NetworkSpec, fmt: str) -> str:
    arch = " -> ".join([str(len(spec.inputs) + spec.z_dim)]
                       + [f"{lay.weight.shape[0]} {lay.activation}" for lay in spec.layers])
    v = scene.view
    return "\n".join([
        f"// Generated by realtime-cppn export --format {fmt}: do not edit.",
        f"// CPPN {arch}; inputs {','.join(spec.inputs)} + z[{spec.z_dim}]; "
        f"{weight_count(spec)} weights baked as constants.",
        f"// Latent loop: path seed {scene.path_seed}, {scene.loop:g} s per loop; view: zoom "
        f"{v.zoom:g}, centre ({v.center[0]:g}, {v.center[1]:g}), symmetry {v.symmetry}, "
        f"colour {v.color}" + (f" ({v.palette})" if v.color == "palette" else "") + ".",
    ])


def _phase_expr(time: str, rate: str = "CPPN_LOOPS_PER_SECOND") -> str:
    # fract before adding: keeps float32 precision over hours of host time.
    return f"CPPN_PHASE0 + fract({time} * {rate})"


def shadertoy(scene: Scene, spec: NetworkSpec, speed: float = 1.0) -> str:
    """A Shadertoy ``mainImage``: iTime drives the loop; holding the mouse moves z0, z1."""
    check_exportable(spec, "shadertoy")
    return "\n".join([
        _header(scene, spec, "shadertoy"),
        "// Hold the mouse button: x and y offset latent dims 0 and 1.",
        _consts(scene, spec, speed),
        "",
        _body(scene, spec),
        "void mainImage(out vec4 fragColor, in vec2 fragCoord) {",
        "    vec4 dz = vec4(0.0);",
        f"    if (iMouse.z > 0.0) dz.xy = {literal(LATENT_RANGE)} * "
        "(2.0 * iMouse.xy / iResolution.xy - 1.0);",
        "    vec2 p = cppn_point(fragCoord, iResolution.xy, CPPN_CENTER, CPPN_SCALE, CPPN_SYMMETRY);",
        f"    fragColor = vec4(cppn_color(cppn_evaluate(p, {_phase_expr('iTime')}, dz)), 1.0);",
        "}",
        "",
    ])


def glsl_viewer(scene: Scene, spec: NetworkSpec, speed: float = 1.0) -> str:
    """A version-less fragment shader as glslViewer's examples: ``u_time``, ``u_resolution``.

    No ``#version`` line, ``gl_FragColor`` and a ``GL_ES`` precision block: glslViewer keeps its
    default context whatever the file says (GL 2.1 on macOS, GLES on a Pi, WebGL in glslCanvas),
    and GLSL 1.10 / ES 1.00 is what every one of them compiles.
    """
    check_exportable(spec, "glsl")
    return "\n".join([
        _header(scene, spec, "glsl"),
        "// glslViewer conventions: u_time in seconds, u_resolution in pixels.",
        "#ifdef GL_ES",
        "precision highp float;",
        "precision highp int;",
        "#endif",
        "",
        "uniform float u_time;",
        "uniform vec2 u_resolution;",
        "",
        _consts(scene, spec, speed),
        "",
        _body(scene, spec),
        "void main() {",
        "    vec2 p = cppn_point(gl_FragCoord.xy, u_resolution, CPPN_CENTER, CPPN_SCALE, "
        "CPPN_SYMMETRY);",
        "    gl_FragColor = vec4(cppn_color(cppn_evaluate(p, "
        f"{_phase_expr('u_time')}, vec4(0.0))), 1.0);",
        "}",
        "",
    ])


# --- ISF 2 ------------------------------------------------------------------------------------


def isf_inputs(scene: Scene, spec: NetworkSpec, speed: float = 1.0) -> list[dict]:
    """The ISF INPUTS: defaults are the scene's, so an untouched ISF shows what the app shows."""
    v = scene.view
    reach = max(4.0, *(abs(c) + 1.0 for c in v.center))
    inputs: list[dict] = [
        {"NAME": "speed", "LABEL": "Speed", "TYPE": "float", "DEFAULT": float(speed),
         "MIN": 0.0, "MAX": max(4.0, float(speed))},
        {"NAME": "zoom", "LABEL": "Zoom", "TYPE": "float", "DEFAULT": float(v.zoom),
         "MIN": min(0.1, float(v.zoom)), "MAX": max(10.0, float(v.zoom))},
        {"NAME": "center", "LABEL": "Centre", "TYPE": "point2D",
         "DEFAULT": [float(v.center[0]), float(v.center[1])],
         "MIN": [-reach, -reach], "MAX": [reach, reach]},
        {"NAME": "symmetry", "LABEL": "Symmetry", "TYPE": "long",
         "DEFAULT": SYMMETRIES.index(v.symmetry),
         "VALUES": list(range(len(SYMMETRIES))), "LABELS": list(SYMMETRIES)},
    ]
    for i in range(min(LATENT_SLIDERS, spec.z_dim)):
        inputs.append({"NAME": f"z{i}", "LABEL": f"Latent {i + 1}", "TYPE": "float",
                       "DEFAULT": 0.0, "MIN": -LATENT_RANGE, "MAX": LATENT_RANGE})
    return inputs


PHASE_BUFFER = "cppn_phase"  # the ISF persistent one-pixel pass holding the loop position

# The loop position as 24-bit fixed point in three channels, each a whole number of 255ths (+ a
# quarter, so a float buffer decodes to the same integer as an 8-bit one rounds it to). FLOAT is
# not asked for: 8 bits per channel hold it exactly, and the ISF JavaScript renderer's float
# buffers are not renderable in WebGL 1 (every write to them is lost).
# Every product is by a power of two, so packing and unpacking are exact in float32. Alpha tags
# the frame that wrote it (1..250, 0 = never written): hosts differ in what a later pass sees,
# this frame's write (VVISF) or the buffer as it was when the frame began (the JavaScript
# renderer binds every buffer once per frame), and the image pass must know which it got.
_ISF_PHASE = """\
float cppn_frame_tag() {
    return mod(float(FRAMEINDEX), 250.0) + 1.0;
}

vec4 cppn_pack_phase(float ph) {
    float q = floor(fract(ph) * 16777216.0 + 0.5);
    if (q >= 16777216.0) q = 0.0;
    float r = floor(q * (1.0 / 65536.0));
    float g = floor((q - r * 65536.0) * (1.0 / 256.0));
    float b = q - r * 65536.0 - g * 256.0;
    return (vec4(r, g, b, cppn_frame_tag()) + 0.25) * (1.0 / 255.0);
}

float cppn_unpack_phase(vec4 c) {
    vec3 k = floor(c.rgb * 255.0 + 0.5);
    return dot(k, vec3(1.0 / 256.0, 1.0 / 65536.0, 1.0 / 16777216.0));
}

bool cppn_written_this_frame(vec4 c) {
    return floor(c.a * 255.0 + 0.5) == cppn_frame_tag();
}
"""


def isf(scene: Scene, spec: NetworkSpec, speed: float = 1.0) -> str:
    """An ISF 2 generator (``.fs``): TIME, RENDERSIZE, isf_FragNormCoord, gl_FragColor.

    Two passes: a persistent one-pixel pass integrates the loop position, ``phase += TIMEDELTA *
    speed / loop`` (so the Speed input changes the rate, never the position, as the app's speed
    does), then the image pass draws the network at that phase.
    """
    check_exportable(spec, "isf")
    doc = {
        "DESCRIPTION": f"CPPN from realtime-cppn: a {len(spec.layers)}-layer network on a "
                       f"{scene.loop:g} s latent loop",
        "CREDIT": "realtime-cppn",
        "ISFVSN": "2",
        "CATEGORIES": ["Generator"],
        "INPUTS": isf_inputs(scene, spec, speed),
        "PASSES": [{"TARGET": PHASE_BUFFER, "PERSISTENT": True, "WIDTH": "1", "HEIGHT": "1"},
                   {}],
    }
    sliders = [f"z{i}" for i in range(min(LATENT_SLIDERS, spec.z_dim))]
    dz = f"vec4({', '.join(sliders + ['0.0'] * (4 - len(sliders)))})"
    consts = _consts(scene, spec, speed).splitlines()
    state = f"IMG_NORM_PIXEL({PHASE_BUFFER}, vec2(0.5))"
    return "\n".join([
        "/*" + _isf_json(doc) + "*/",
        "",
        _header(scene, spec, "isf"),
        "// Inputs speed, zoom, center, symmetry and z0.. start at the scene's values.",
        consts[0],
        f"const float CPPN_LOOP = {literal(scene.loop)};  // seconds per loop at speed 1",
        f"const float CPPN_NET_SCALE = {literal(spec.scale)};",
        "",
        _body(scene, spec),
        _ISF_PHASE,
        "void main() {",
        f"    vec4 state = {state};",
        "    float advance = TIMEDELTA * speed / CPPN_LOOP;",
        "    if (PASSINDEX == 0) {",
        "        // Loops played since the first frame: speed scales each step, never the total.",
        "        float played = cppn_unpack_phase(state);  // a clear buffer is 0: the start",
        "        gl_FragColor = cppn_pack_phase(played + advance);",
        "        return;",
        "    }",
        "    float played = cppn_unpack_phase(state);",
        "    if (!cppn_written_this_frame(state)) played += advance;  // the buffer as the frame began",
        "    vec2 frag = isf_FragNormCoord * RENDERSIZE;",
        "    vec2 p = cppn_point(frag, RENDERSIZE, center, CPPN_NET_SCALE / zoom, int(symmetry));",
        "    float phase = CPPN_PHASE0 + played;",
        f"    gl_FragColor = vec4(cppn_color(cppn_evaluate(p, phase, {dz})), 1.0);",
        "}",
        "",
    ])


def _isf_json(doc: dict) -> str:
    """The header as JSON with one line per input (readable in any host's editor)."""
    fields = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in doc.items() if k != "INPUTS"]
    inputs = ",\n".join(f"    {json.dumps(i)}" for i in doc["INPUTS"])
    return "{\n" + ",\n".join([*fields, f'  "INPUTS": [\n{inputs}\n  ]']) + "\n}"


_ISF_HEADER = re.compile(r"\A\s*/\*(.*?)\*/", re.S)


def isf_header(text: str) -> dict:
    """The JSON header of an ISF file (the first comment)."""
    m = _ISF_HEADER.match(text)
    if m is None:
        raise CPPNError("no ISF JSON header comment at the start of the file")
    try:
        return json.loads(m.group(1))
    except json.JSONDecodeError as exc:
        raise CPPNError(f"the ISF header is not valid JSON: {exc}") from None


_WRITERS = {"shadertoy": shadertoy, "isf": isf, "glsl": glsl_viewer}


def export(scene: Scene, spec: NetworkSpec, fmt: str, speed: float = 1.0) -> str:
    """``scene`` with network ``spec`` as shader text in format ``fmt`` (see FORMATS)."""
    if fmt not in FORMATS:
        raise CPPNError(f"unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")
    if not (np.isfinite(speed) and speed >= 0):
        raise CPPNError(f"speed must be a non-negative number, got {speed}")
    return _WRITERS[fmt](scene, spec, speed)
