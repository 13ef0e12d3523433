"""Shadertoy, ISF and glslViewer exports: compiled by the Khronos reference compiler as each host
compiles them, rendered with moderngl and compared with the app's renderer at the same time.

Wrappers reproduce what each host puts around the text: Shadertoy (WebGL2) prepends GLSL ES 3.00
with its uniforms and appends a main() calling mainImage; ISF hosts prepend TIME, RENDERSIZE,
isf_FragNormCoord, one uniform per INPUT and a sampler per pass TARGET (GLSL 1.10/1.20 on legacy
contexts, ES 1.00 on GLES 2; on core contexts ``varying``/``gl_FragColor`` become ``in``/an
``out``) and runs the passes in order, persistent buffers ping-ponged across frames; glslViewer
compiles the file as is (version-less GLSL 1.10, which Mesa also renders as is). For rendering on
llvmpipe's core context the Shadertoy and ISF wrappers use ``#version 330``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from realtime_cppn import api
from realtime_cppn.cli import main as cli
from realtime_cppn.core.animation import LatentPath
from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.scene import Scene
from realtime_cppn.core.spec import SYMMETRIES, Layer, NetworkSpec, View
from realtime_cppn.exports import formats as exports
from realtime_cppn.media import scenefile
from realtime_cppn.rendering.codegen import bake, glsl

SIZE = (64, 48)
TIMES = (0.0, 1.7, 5.3)
COLOR_TOL = 1e-3

# (network config, view, loop, path seed, phase, speed): tiny nets, every colour mode and fold.
CASES = {
    "rgb-tanh": (dict(width=8, depth=2, seed=3), View(), 4.0, 7, 0.25, 1.0),
    "mono-palette-k5": (dict(width=8, depth=2, seed=4, out_channels=1, inputs=["x", "y", "r", "b"],
                             activation="sin"),
                        View(zoom=1.3, center=(0.2, -0.1), symmetry="k5", color="palette",
                             palette="fire"), 3.0, 1, 0.6, 1.5),
    "hsv-xy-z3": (dict(width=8, depth=2, seed=5, z_dim=3, activation=["gaussian", "tanh"]),
                  View(symmetry="xy", color="hsv"), 8.0, 2, 0.0, 0.5),
    "no-latent-y": (dict(width=8, depth=2, seed=6, z_dim=0), View(symmetry="y", zoom=0.7),
                    2.0, 0, 0.0, 1.0),
}


def scene_of(case: str) -> tuple[Scene, NetworkSpec, float]:
    from realtime_cppn.nn.build import scene_network

    network, view, loop, path_seed, phase, speed = CASES[case]
    scene = Scene(network=network, view=view, loop=loop, path_seed=path_seed, phase=phase)
    return scene, scene_network(scene), speed


# --- host wrappers ------------------------------------------------------------------------------

SHADERTOY_UNIFORMS = """\
uniform vec3 iResolution;
uniform float iTime;
uniform float iTimeDelta;
uniform float iFrameRate;
uniform int iFrame;
uniform float iChannelTime[4];
uniform vec3 iChannelResolution[4];
uniform vec4 iMouse;
uniform vec4 iDate;
uniform float iSampleRate;
uniform sampler2D iChannel0;
uniform sampler2D iChannel1;
uniform sampler2D iChannel2;
uniform sampler2D iChannel3;
"""


def wrap_shadertoy(text: str, version: str = "300 es") -> str:
    """As Shadertoy's WebGL2 page compiles a mainImage shader."""
    return "\n".join([
        f"#version {version}",
        "#ifdef GL_ES\nprecision highp float;\nprecision highp int;\nprecision mediump sampler3D;\n#endif",
        SHADERTOY_UNIFORMS,
        "out vec4 shadertoy_out_color;",
        text,
        "void main() {",
        "    vec4 color = vec4(1e20);",
        "    mainImage(color, gl_FragCoord.xy);",
        "    shadertoy_out_color = vec4(color.xyz, 1.0);",
        "}",
    ])


_ISF_GLSL_TYPES = {"float": "float", "point2D": "vec2", "long": "int", "bool": "bool",
                   "color": "vec4"}


def wrap_isf(text: str, version: str = "120") -> str:
    """As an ISF host compiles a generator: built-in uniforms, one uniform per INPUT, one sampler
    per pass TARGET with ISF's IMG_NORM_PIXEL."""
    header = exports.isf_header(text)
    legacy = int(version) < 130
    lines = [
        f"#version {version}",
        *(["precision highp float;", "precision highp int;"] if version == "100" else []),
        "uniform int PASSINDEX;",
        "uniform vec2 RENDERSIZE;",
        "uniform float TIME;",
        "uniform float TIMEDELTA;",
        "uniform vec4 DATE;",
        "uniform int FRAMEINDEX;",
        ("varying" if legacy else "in") + " vec2 isf_FragNormCoord;",
        f"#define IMG_NORM_PIXEL(image, coord) {'texture2D' if legacy else 'texture'}(image, coord)",
    ]
    lines += [f"uniform {_ISF_GLSL_TYPES[i['TYPE']]} {i['NAME']};" for i in header["INPUTS"]]
    lines += [f"uniform sampler2D {p['TARGET']};" for p in header.get("PASSES", []) if "TARGET" in p]
    if not legacy:
        lines.append("out vec4 isf_FragColor;")
        text = re.sub(r"\bgl_FragColor\b", "isf_FragColor", text)
    return "\n".join(lines) + "\n" + text


def wrap(fmt: str, text: str, desktop: bool = False) -> str:
    if fmt == "shadertoy":
        return wrap_shadertoy(text, "330" if desktop else "300 es")
    if fmt == "isf":
        return wrap_isf(text, "330" if desktop else "120")
    return text


# --- glslangValidator ---------------------------------------------------------------------------

VALIDATOR = shutil.which("glslangValidator")


def validate(source: str, tmp_path: Path, name: str) -> None:
    """``glslangValidator -S frag FILE``: the #version line picks the dialect."""
    if VALIDATOR is None:
        pytest.fail("glslangValidator is missing: apt-get install glslang-tools", pytrace=False)
    path = tmp_path / f"{name}.frag"
    path.write_text(source)
    res = subprocess.run([VALIDATOR, "-S", "frag", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, f"{name}:\n{res.stdout}{res.stderr}"


@pytest.mark.parametrize("case", list(CASES))
def test_every_export_compiles_as_its_host_compiles_it(case, tmp_path):
    scene, spec, speed = scene_of(case)
    validate(wrap_shadertoy(exports.shadertoy(scene, spec, speed)), tmp_path, "shadertoy-es300")
    isf = exports.isf(scene, spec, speed)
    # Legacy ISF hosts (GL 2.1: 1.10/1.20), GLES 2 ones (ES 1.00) and core-profile ones.
    for version in ("100", "110", "120", "150", "330"):
        validate(wrap_isf(isf, version), tmp_path, f"isf-{version}")
    glsl_text = exports.glsl_viewer(scene, spec, speed)
    validate(glsl_text, tmp_path, "glsl")  # no #version: GLSL 1.10
    # glslViewer's contexts: desktop 2.1 (1.10/1.20) and GLES 2 / WebGL 1 (ES 1.00).
    for version in ("100", "110", "120"):
        validate(f"#version {version}\n{glsl_text}", tmp_path, f"glsl-{version}")


def test_exports_avoid_functions_their_hosts_lack():
    scene, spec, speed = scene_of("rgb-tanh")
    for fmt in exports.FORMATS:
        text = exports.export(scene, spec, fmt, speed)
        for name in ("tanh(", "texelFetch", "texture(", "uniform sampler", "vec4["):
            assert name not in text.replace("act_tanh(", ""), (fmt, name)
        assert "#version" not in text
    glsl_text = exports.glsl_viewer(scene, spec, speed)
    assert "gl_FragColor" in glsl_text and "out vec4" not in glsl_text
    assert "#ifdef GL_ES\nprecision highp float;" in glsl_text
    assert "uniform float u_time;" in glsl_text and "uniform vec2 u_resolution;" in glsl_text


# --- rendering parity with the app -------------------------------------------------------------


@pytest.fixture(scope="module")
def targets():
    return {}


ISF_VERT = ("#version 330\nout vec2 isf_FragNormCoord;\nvoid main() {\n"
            "    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);\n"
            "    isf_FragNormCoord = p;\n    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);\n}\n")


def target(ctx, targets, size, dtype: str = "f4", key: str = "out"):
    """A (texture, framebuffer) kept for the module: moderngl rebinds the current framebuffer
    when it creates the next, and a released one there is GL_INVALID_OPERATION."""
    if (key, size, dtype) not in targets:
        tex = ctx.texture(size, 4, dtype=dtype)
        targets[key, size, dtype] = (tex, ctx.framebuffer(color_attachments=[tex]))
    return targets[key, size, dtype]


def program(ctx, targets, vert: str, frag: str):
    """A linked program, compiled once per module: llvmpipe takes seconds on a deep network."""
    if ("program", vert, frag) not in targets:
        targets["program", vert, frag] = ctx.program(vertex_shader=vert, fragment_shader=frag)
    return targets["program", vert, frag]


def render(ctx, prog, fbo, size, uniforms: dict, samplers: dict | None = None) -> None:
    """One full-screen triangle into ``fbo`` with ``uniforms`` and textures bound to samplers."""
    for name, value in uniforms.items():
        if name in prog:
            prog[name].value = value
    for unit, (name, tex) in enumerate((samplers or {}).items()):
        if name in prog:
            tex.use(unit)
            prog[name].value = unit
    fbo.use()
    fbo.viewport = (0, 0, *size)
    vao = ctx.vertex_array(prog, [])
    vao.vertices = 3
    vao.render()
    vao.release()


def read_rgb(tex, size) -> np.ndarray:
    w, h = size
    data = np.frombuffer(tex.read(), dtype=np.float32).reshape(h, w, 4)[::-1]
    return np.ascontiguousarray(data[:, :, :3])


def draw_export(ctx, targets, fmt: str, text: str, size, uniforms: dict) -> np.ndarray:
    """Compile the wrapped export for desktop GL, draw once into rgba32f, read (H, W, 3).

    An ISF export is played as a host plays it from TIME 0: a first frame at TIME 0, then one at
    the asked TIME (so its persistent phase pass has integrated that time)."""
    if fmt == "isf":
        t = float(uniforms.get("TIME", 0.0))
        frames = [{**uniforms, "TIME": 0.0}] + ([uniforms] if t > 0 else [])
        return play_isf(ctx, targets, text, size, frames)[-1]
    prog = program(ctx, targets, glsl.load("fullscreen.vert"), wrap(fmt, text, desktop=True))
    tex, fbo = target(ctx, targets, size)
    render(ctx, prog, fbo, size, uniforms)
    return read_rgb(tex, size)


def play_isf(ctx, targets, text: str, size, frames: list[dict], buffer_dtype: str = "f4",
             bind_at_frame_start: bool = False) -> list[np.ndarray]:
    """An ISF host's frame loop: per frame, each PASS in order into its TARGET (ping-pong pairs),
    the last pass to the output; TIMEDELTA and FRAMEINDEX come from the frames' TIME, and every
    buffer starts clear. A later pass reads what an earlier one wrote this frame, as VVISF does;
    ``bind_at_frame_start`` plays the ISF web renderer instead, which binds every buffer as it
    was when the frame began and flips them after the last pass. ``buffer_dtype`` "f1" plays a
    host that makes buffers 8-bit (every host when FLOAT is not asked for)."""
    prog = program(ctx, targets, ISF_VERT, wrap_isf(text, "330"))
    passes = exports.isf_header(text).get("PASSES") or [{}]
    buffers = {}
    for p in passes[:-1]:
        bsize = (int(p.get("WIDTH", size[0])), int(p.get("HEIGHT", size[1])))
        pair = [target(ctx, targets, bsize, buffer_dtype, f"{p['TARGET']}{i}") for i in (0, 1)]
        for _, fbo in pair:
            fbo.clear()
        buffers[p["TARGET"]] = (bsize, pair)
    out_tex, out_fbo = target(ctx, targets, size)
    images, last_time = [], None
    for index, frame in enumerate(frames):
        t = float(frame.get("TIME", 0.0))
        uniforms = {**frame, "RENDERSIZE": (float(size[0]), float(size[1])), "FRAMEINDEX": index,
                    "TIMEDELTA": 0.0 if last_time is None else t - last_time}
        last_time = t
        at_start = {name: pair[0][0] for name, (_, pair) in buffers.items()}
        for n, p in enumerate(passes):
            uniforms["PASSINDEX"] = n
            current = {name: pair[0][0] for name, (_, pair) in buffers.items()}
            samplers = at_start if bind_at_frame_start else current
            if "TARGET" in p:
                bsize, pair = buffers[p["TARGET"]]
                render(ctx, prog, pair[1][1], bsize, uniforms, samplers)
                if not bind_at_frame_start:
                    pair.reverse()  # what was written is what the next pass and frame read
            else:
                render(ctx, prog, out_fbo, size, uniforms, samplers)
        if bind_at_frame_start:
            for _, pair in buffers.values():
                pair.reverse()
        images.append(read_rgb(out_tex, size))
    return images


def host_uniforms(fmt: str, size, t: float, isf_values: dict | None = None,
                  mouse=(0.0, 0.0, 0.0, 0.0)) -> dict:
    w, h = size
    if fmt == "shadertoy":
        return {"iResolution": (float(w), float(h), 1.0), "iTime": t, "iMouse": mouse}
    if fmt == "glsl":
        return {"u_resolution": (float(w), float(h)), "u_time": t}
    return {"RENDERSIZE": (float(w), float(h)), "TIME": t, **(isf_values or {})}


def isf_defaults(text: str) -> dict:
    """What an ISF host sets before anyone touches a control: every INPUT's DEFAULT."""
    out = {}
    for i in exports.isf_header(text)["INPUTS"]:
        d = i["DEFAULT"]
        out[i["NAME"]] = tuple(float(v) for v in d) if isinstance(d, list) else d
    return out


def app_frame(renderer, spec, scene, phase, size=SIZE, view=None, dz=None) -> np.ndarray:
    z = LatentPath(scene.path_seed, spec.z_dim)(phase)
    if dz is not None:
        z = z + np.pad(dz, (0, spec.z_dim - len(dz)))
    renderer.set_network(spec, z)
    return renderer.read(renderer.draw(size, view or scene.view, display=True), 3)


MEASURED: dict[str, float] = {}


@pytest.mark.parametrize("case", list(CASES))
def test_exports_render_what_the_app_renders(case, renderer, gl_context, targets):
    scene, spec, speed = scene_of(case)
    texts = {fmt: exports.export(scene, spec, fmt, speed) for fmt in exports.FORMATS}
    worst = 0.0
    for t in TIMES:
        want = app_frame(renderer, spec, scene, scene.phase + t * speed / scene.loop)
        for fmt, text in texts.items():
            values = isf_defaults(text) if fmt == "isf" else None
            got = draw_export(gl_context, targets, fmt, text, SIZE,
                              host_uniforms(fmt, SIZE, t, values))
            err = float(np.abs(got - want).max())
            worst = max(worst, err)
            assert err <= COLOR_TOL, f"{fmt} at t={t}: max colour difference {err:.2e}"
    MEASURED[case] = worst
    print(f"{case}: max |export - app| = {worst:.2e}")


def test_time_moves_the_picture_around_a_closed_loop(gl_context, targets):
    """The host clock drives the loop: different times differ, t + loop / speed is t again."""
    scene, spec, speed = scene_of("rgb-tanh")
    text = exports.shadertoy(scene, spec, speed)
    frames = [draw_export(gl_context, targets, "shadertoy", text, SIZE,
                          host_uniforms("shadertoy", SIZE, t))
              for t in (1.0, 2.0, 1.0 + scene.loop / speed)]
    assert np.abs(frames[0] - frames[1]).max() > 0.05
    np.testing.assert_allclose(frames[0], frames[2], atol=COLOR_TOL)


def test_shadertoy_mouse_moves_two_latent_dims(renderer, gl_context, targets):
    scene, spec, speed = scene_of("rgb-tanh")
    text = exports.shadertoy(scene, spec, speed)
    w, h = SIZE
    mouse = (0.75 * w, 0.3 * h)
    t = 0.9
    phase = scene.phase + t * speed / scene.loop
    dz = exports.LATENT_RANGE * (2.0 * np.array(mouse) / np.array(SIZE) - 1.0)
    held = draw_export(gl_context, targets, "shadertoy", text, SIZE,
                       host_uniforms("shadertoy", SIZE, t, mouse=(*mouse, 1.0, 1.0)))
    released = draw_export(gl_context, targets, "shadertoy", text, SIZE,
                           host_uniforms("shadertoy", SIZE, t, mouse=(*mouse, -1.0, -1.0)))
    np.testing.assert_allclose(held, app_frame(renderer, spec, scene, phase, dz=dz), atol=COLOR_TOL)
    np.testing.assert_allclose(released, app_frame(renderer, spec, scene, phase), atol=COLOR_TOL)
    assert np.abs(held - released).max() > 0.01


def test_isf_inputs_change_what_the_app_would_change(renderer, gl_context, targets):
    """Speed, zoom, centre, symmetry and latent sliders each act as the app's own controls."""
    scene, spec, _ = scene_of("rgb-tanh")
    text = exports.isf(scene, spec)
    values = {**isf_defaults(text), "speed": 2.0, "zoom": 1.6, "center": (0.3, -0.4),
              "symmetry": SYMMETRIES.index("k7"), "z0": 0.5, "z1": -1.0, "z3": 0.25}
    t = 2.2
    got = draw_export(gl_context, targets, "isf", text, SIZE, host_uniforms("isf", SIZE, t, values))
    view = View(zoom=1.6, center=(0.3, -0.4), symmetry="k7")
    want = app_frame(renderer, spec, scene, scene.phase + t * 2.0 / scene.loop, view=view,
                     dz=np.array([0.5, -1.0, 0.0, 0.25]))
    np.testing.assert_allclose(got, want, atol=COLOR_TOL)


@pytest.mark.parametrize("host", ["vvisf-float", "vvisf-8bit", "web-renderer"])
def test_isf_speed_changes_the_rate_never_the_position(host, renderer, gl_context, targets):
    """An hour into the host's clock, Speed nudged then doubled: each frame moves on by one
    frame's motion at the new speed, as the app's own Phase does. In a host whose buffers are
    8-bit (FLOAT is not asked for), in one that makes them float anyway, and in one whose later
    passes see the buffers as the frame began (the ISF web renderer), the picture is the same."""
    from realtime_cppn.core.animation import Phase

    scene, spec, _ = scene_of("rgb-tanh")
    text = exports.isf(scene, spec)
    dt, start = 1.0 / 60.0, 3600.0
    speeds = [1.0, 1.0, 1.0, 1.001, 2.0, 2.0, 0.0, 0.5]
    frames = [{**isf_defaults(text), "TIME": start + i * dt, "speed": s}
              for i, s in enumerate(speeds)]
    images = play_isf(gl_context, targets, text, SIZE, frames,
                      buffer_dtype="f4" if host == "vvisf-float" else "f1",
                      bind_at_frame_start=host == "web-renderer")
    phase = Phase(scene.phase)
    for i, (image, speed) in enumerate(zip(images, speeds)):
        if i:
            phase = phase.advance(dt, speed, scene.loop)
        want = app_frame(renderer, spec, scene, phase.value)
        np.testing.assert_allclose(image, want, atol=COLOR_TOL,
                                   err_msg=f"frame {i} at speed {speed}")
    assert np.abs(images[5] - images[4]).max() > 1e-3  # it does move
    np.testing.assert_array_equal(images[6], images[5])  # speed 0 holds the picture


def test_aspect_follows_the_host_resolution(renderer, gl_context, targets):
    """Portrait and odd sizes: the shorter side spans [-1, 1] as in the app."""
    scene, spec, speed = scene_of("mono-palette-k5")
    for size in ((37, 61), (80, 16)):
        want = app_frame(renderer, spec, scene, scene.phase, size=size)
        for fmt in exports.FORMATS:
            text = exports.export(scene, spec, fmt, speed)
            values = isf_defaults(text) if fmt == "isf" else None
            got = draw_export(gl_context, targets, fmt, text, size,
                              host_uniforms(fmt, size, 0.0, values))
            np.testing.assert_allclose(got, want, atol=COLOR_TOL, err_msg=f"{fmt} {size}")


# --- hosts with inexact trigonometry ---------------------------------------------------------

HOST_TRIG_ERROR = 2e-4  # Chrome's software WebGL measured 1.9e-4; GLSL ES sets no bound at all


def with_trig_error(text: str, error: float = HOST_TRIG_ERROR) -> str:
    """The export as a host whose sin/cos are off by +-``error``: the built-ins plus a sign hashed
    from the argument (deterministic, so every pixel of a frame sees the same error, as a real
    host's uniform harmonics do), redirected by macros. The export's text is otherwise untouched."""
    lines = []
    for t in ("float", "vec2", "vec3", "vec4"):
        lines.append(f"{t} host_error({t} x) {{ return {error!r} * "
                     "(2.0 * step(0.5, fract(sin(x * 12.9898) * 43758.5453)) - 1.0); }")
        lines += [f"{t} host_{f}({t} x) {{ return {f}(x) + host_error(x); }}" for f in ("sin", "cos")]
    lines += ["#define sin(x) host_sin(x)", "#define cos(x) host_cos(x)"]
    end = text.index("*/") + 2 if text.startswith("/*") else 0  # after an ISF header
    return text[:end] + "\n" + "\n".join(lines) + "\n" + text[end:]


def levels(rgb: np.ndarray) -> np.ndarray:
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0)


def test_the_injected_host_trig_is_off_by_the_error(gl_context, targets):
    """The stand-in host really is inexact: its sin/cos differ from exact ones by 2e-4."""
    probe = ("uniform float u_time;\nuniform vec2 u_resolution;\nvoid main() {\n"
             "    float x = gl_FragCoord.x * 0.37 + gl_FragCoord.y * 1.9;\n"
             "    gl_FragColor = vec4(sin(x), cos(x), 0.0, 1.0);\n}\n")
    got = draw_export(gl_context, targets, "glsl", with_trig_error(probe), SIZE,
                      host_uniforms("glsl", SIZE, 0.0))
    y, x = np.mgrid[SIZE[1] - 1:-1:-1, 0:SIZE[0]] + 0.5
    angle = (x * 0.37 + y * 1.9).astype(np.float32).astype(np.float64)
    err = np.abs(got[:, :, :2] - np.stack([np.sin(angle), np.cos(angle)], axis=-1))
    assert HOST_TRIG_ERROR * 0.9 < err.min() and err.max() < HOST_TRIG_ERROR * 1.1


DEEP = {"32x8": dict(width=32, depth=8, seed=21), "64x4": dict(width=64, depth=4, seed=22)}


@pytest.mark.parametrize("net", list(DEEP))
def test_deep_exports_do_not_depend_on_the_host_trig(net, renderer, gl_context, targets):
    """Deep networks amplify an error in the latent harmonics; the exports compute their own."""
    from realtime_cppn.nn.build import scene_network

    scene = Scene(network=DEEP[net], loop=5.0, path_seed=3, phase=0.1)
    spec = scene_network(scene)
    texts = {fmt: with_trig_error(exports.export(scene, spec, fmt)) for fmt in exports.FORMATS}
    for t in (0.7, 3.1):
        want = levels(app_frame(renderer, spec, scene, scene.phase + t / scene.loop))
        for fmt, text in texts.items():
            values = isf_defaults(text) if fmt == "isf" else None
            got = levels(draw_export(gl_context, targets, fmt, text, SIZE,
                                     host_uniforms(fmt, SIZE, t, values)))
            off = float(np.abs(got - want).max())
            assert off <= 1, f"{fmt} {net} at t={t}: {off:g} levels off the app"


# --- the ISF header -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_isf_header_follows_isf2(case):
    scene, spec, speed = scene_of(case)
    text = exports.isf(scene, spec, speed)
    assert text.startswith("/*{")
    doc = json.loads(text[2:text.index("*/")])
    assert doc["ISFVSN"] == "2"
    assert isinstance(doc["CATEGORIES"], list) and all(isinstance(c, str) for c in doc["CATEGORIES"])
    assert "Generator" in doc["CATEGORIES"]
    names = [i["NAME"] for i in doc["INPUTS"]]
    assert len(set(names)) == len(names)
    assert {"speed", "zoom", "center", "symmetry"} <= set(names)
    assert sum(n.startswith("z") and n[1:].isdigit() for n in names) == min(4, spec.z_dim)
    for i in doc["INPUTS"]:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", i["NAME"])
        assert i["TYPE"] in ("float", "point2D", "long")
        if i["TYPE"] == "float":
            assert i["MIN"] <= i["DEFAULT"] <= i["MAX"]
        elif i["TYPE"] == "point2D":
            for k in range(2):
                assert i["MIN"][k] <= i["DEFAULT"][k] <= i["MAX"][k]
        else:
            assert len(i["VALUES"]) == len(i["LABELS"]) == len(SYMMETRIES)
            assert all(isinstance(v, int) for v in i["VALUES"])
            assert i["LABELS"][i["VALUES"].index(i["DEFAULT"])] == scene.view.symmetry
    # An untouched ISF is the scene: defaults carry its view.
    defaults = {i["NAME"]: i["DEFAULT"] for i in doc["INPUTS"]}
    assert defaults["zoom"] == scene.view.zoom and defaults["speed"] == speed
    assert defaults["center"] == list(scene.view.center)
    assert "TIME" in text and "RENDERSIZE" in text and "gl_FragColor" in text
    assert "isf_FragNormCoord" in text


# --- bad input ----------------------------------------------------------------------------------


def random_spec(widths: list[int], z_dim: int = 8, out: int = 3) -> NetworkSpec:
    rng = np.random.default_rng(0)
    layers, fan_in = [], 3 + z_dim
    for n in [*widths, out]:
        layers.append(Layer(rng.normal(size=(n, fan_in)).astype(np.float32),
                            rng.normal(size=n).astype(np.float32), "tanh"))
        fan_in = n
    return NetworkSpec(inputs=("x", "y", "r"), z_dim=z_dim, layers=tuple(layers), scale=2.0)


def test_size_limits_are_per_format_and_stated():
    """Every format caps at 16384 baked weights, and the refusal names the cap and its host."""
    big = random_spec([80] * 4)  # 20.7k weights
    assert exports.weight_count(big) > 16384
    hosts = {"shadertoy": "WebGL in the browser", "isf": "ISF hosts", "glsl": "glslViewer"}
    for fmt, host in hosts.items():
        assert exports.MAX_WEIGHTS[fmt] == 16384
        with pytest.raises(CPPNError, match=rf"has \d+ weights.*at most 16384.*protects {host}"):
            exports.export(Scene(), big, fmt)
    with pytest.raises(CPPNError, match=r"has \d+ weights \(16 \(x64\) x 3\); the glsl"):
        exports.export(Scene(), random_spec([16] * 64), "glsl")  # one line, not 65 numbers
    just = random_spec([64] * 4)
    assert exports.weight_count(just) <= 16384
    for fmt in exports.FORMATS:
        assert "void main()" in exports.export(Scene(), just, fmt) or fmt == "shadertoy"


def test_unknown_format_and_uv_networks_are_refused():
    spec = random_spec([4])
    with pytest.raises(CPPNError, match="unknown export format 'hlsl'; valid: shadertoy, isf, glsl"):
        exports.export(Scene(), spec, "hlsl")
    with pytest.raises(CPPNError, match="uv-remap networks"):
        exports.export(Scene(), random_spec([4], out=2), "isf")


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def command(renderer, monkeypatch, capsys):
    monkeypatch.setattr(api, "_default", renderer)

    def run(*argv: str) -> tuple[int, str, str]:
        status = cli.main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_cli_exports_a_scene_file_with_its_stored_weights(command, tmp_path, renderer,
                                                          gl_context, targets):
    scene, seeded, _ = scene_of("rgb-tanh")
    # Stored weights that the seed would not give: the export must bake these.
    stored = NetworkSpec(seeded.inputs, seeded.z_dim,
                         tuple(Layer(lay.weight * 0.5, lay.bias, lay.activation)
                               for lay in seeded.layers), seeded.scale)
    path = scenefile.save(tmp_path / "fav.json", scene, stored)
    status, out, err = command("export", str(path), "--format", "glsl")
    assert (status, err) == (0, "")
    text = (tmp_path / "fav.frag").read_text()
    assert "wrote" in out and str(tmp_path / "fav.frag") in out
    assert bake.literal(stored.layers[1].weight[0, 0]) in text
    got = draw_export(gl_context, targets, "glsl", text, SIZE, host_uniforms("glsl", SIZE, 1.0))
    want = app_frame(renderer, stored, scene, scene.phase + 1.0 / scene.loop)
    np.testing.assert_allclose(got, want, atol=COLOR_TOL)


def test_cli_exports_a_png_written_by_still(command, tmp_path, renderer, gl_context, targets):
    png = tmp_path / "still.png"
    status, _, err = command("still", "--width", "8", "--depth", "2", "--seed", "9",
                             "--symmetry", "k3", "--color", "hsv", "--size", "32x24",
                             "-o", str(png))
    assert (status, err) == (0, "")
    out_file = tmp_path / "toy.glsl"
    status, out, err = command("export", str(png), "-f", "shadertoy", "-o", str(out_file))
    assert (status, err) == (0, "")
    text = out_file.read_text()
    assert "void mainImage(out vec4 fragColor, in vec2 fragCoord)" in text
    sf = scenefile.load(png)
    spec = scenefile.network(sf)
    got = draw_export(gl_context, targets, "shadertoy", text, SIZE,
                      host_uniforms("shadertoy", SIZE, 0.0))
    np.testing.assert_allclose(got, app_frame(renderer, spec, sf.scene, sf.scene.phase),
                               atol=COLOR_TOL)


@pytest.mark.parametrize("argv, message", [
    (["--format", "hlsl"], "unknown export format 'hlsl'; valid: shadertoy, isf, glsl"),
    (["--format", "isf", "--width", "256"], "the isf export bakes at most 16384"),
    (["--missing"], "no such scene file"),
    (["--format", "glsl", "--channels", "2"], "uv-remap networks"),
])
def test_cli_bad_input_is_one_line_and_exit_2(command, tmp_path, argv, message):
    scene = tmp_path / "s.json"
    network = {"width": 8, "depth": 2}
    if "--width" in argv:
        network["width"] = 256
        argv = [a for a in argv if a not in ("--width", "256")]
    if "--channels" in argv:
        network["out_channels"] = 2
        argv = [a for a in argv if a not in ("--channels", "2")]
    scene.write_text(json.dumps({**Scene(network=network).to_dict()}))
    target = str(tmp_path / "gone.json") if "--missing" in argv else str(scene)
    argv = [a for a in argv if a != "--missing"]
    status, out, err = command("export", target, *argv, "-o", str(tmp_path / "x.out"))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "x.out").exists()
