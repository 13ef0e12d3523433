"""Exports in a real browser's WebGL: headless Chromium with SwiftShader, the software WebGL that
Chrome uses without a usable GPU, whose sin/cos are off by about 1.9e-4.

Shadertoy exports run in WebGL2 inside Shadertoy's wrapper; glsl exports run as is in WebGL1
(what glslCanvas and glslViewer's web build give them: version-less GLSL ES 1.00). Each page
draws into the canvas, reads the 8-bit pixels back, and the test compares them with the app's
frame: within 1 level of 255, also for deep networks that amplify any error in the latent loop.
Skipped when no Chromium is installed (apt-get install chromium).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from test_exports import app_frame, levels, wrap_shadertoy  # isort: skip

from realtime_cppn.core.scene import Scene
from realtime_cppn.exports import formats as exports
from realtime_cppn.nn.build import scene_network

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))
                 if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: apt-get install chromium")

SIZE = (64, 48)
VERT2 = ("#version 300 es\nvoid main() {\n    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);"
         "\n    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);\n}\n")
VERT1 = "attribute vec2 pos;\nvoid main() { gl_Position = vec4(pos, 0.0, 1.0); }\n"

PAGE = """<html><body><pre id="out">pending</pre><script>
const jobs = %s;
const lines = [];
for (const job of jobs) {
  try {
    const canvas = document.createElement('canvas');
    canvas.width = job.w; canvas.height = job.h;
    const gl = canvas.getContext(job.webgl == 2 ? 'webgl2' : 'webgl', {antialias: false});
    const shader = (type, src) => {
      const s = gl.createShader(type); gl.shaderSource(s, src); gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw gl.getShaderInfoLog(s);
      return s;
    };
    const prog = gl.createProgram();
    gl.attachShader(prog, shader(gl.VERTEX_SHADER, job.vs));
    gl.attachShader(prog, shader(gl.FRAGMENT_SHADER, job.fs));
    gl.bindAttribLocation(prog, 0, 'pos');
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw gl.getProgramInfoLog(prog);
    gl.useProgram(prog);
    const buf = gl.createBuffer(); gl.bindBuffer(gl.ARRAY_BUFFER, buf);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 3, -1, -1, 3]), gl.STATIC_DRAW);
    gl.enableVertexAttribArray(0); gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 0, 0);
    for (const uniforms of job.frames) {
      for (const [name, v] of Object.entries(uniforms)) {
        const loc = gl.getUniformLocation(prog, name);
        if (loc) gl['uniform' + v.length + 'fv'](loc, v);
      }
      gl.viewport(0, 0, job.w, job.h);
      gl.drawArrays(gl.TRIANGLES, 0, 3);
      const px = new Uint8Array(job.w * job.h * 4);
      gl.readPixels(0, 0, job.w, job.h, gl.RGBA, gl.UNSIGNED_BYTE, px);
      let bin = ''; for (let i = 0; i < px.length; i++) bin += String.fromCharCode(px[i]);
      lines.push('FRAME ' + btoa(bin));
    }
  } catch (e) { lines.push('ERROR ' + String(e).replace(/\\s+/g, ' ')); }
}
document.getElementById('out').textContent = lines.join('\\n');
</script></body></html>
"""


def chromium_frames(page: str, tmp_path, count: int) -> list[np.ndarray]:
    """Load ``page`` in headless Chromium (SwiftShader) and decode the ``count`` frames it lists
    in its ``out`` element as base64 RGBA: (H, W, 3) levels each, top row first."""
    path = tmp_path / "page.html"
    path.write_text(page)
    res = subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--use-angle=swiftshader",
         "--enable-unsafe-swiftshader", "--disable-gpu-sandbox", "--virtual-time-budget=60000",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=300)
    out = re.search(r'<pre id="out">(.*?)</pre>', res.stdout, re.S)
    rows = re.findall(r"^(FRAME|ERROR) (.*)$", out.group(1) if out else "", re.M)
    assert rows, f"Chromium drew nothing: {res.stderr[-2000:]}"
    refused = [data for kind, data in rows if kind == "ERROR"]
    assert not refused, f"WebGL refused: {refused[0][:1000]}"
    assert len(rows) == count, f"Chromium drew {len(rows)} of {count}"
    w, h = SIZE
    return [np.frombuffer(base64.b64decode(data), np.uint8).reshape(h, w, 4)[::-1, :, :3]
            .astype(float) for _, data in rows]


def run_webgl(jobs: list[dict], tmp_path) -> list[np.ndarray]:
    """Each job's shader compiled once by Chromium's software WebGL and drawn once per entry of
    its ``frames`` (uniform values): (H, W, 3) levels per frame, top row first."""
    assert all((job["w"], job["h"]) == SIZE for job in jobs)
    return chromium_frames(PAGE % json.dumps(jobs), tmp_path, sum(len(j["frames"]) for j in jobs))


DEEP = {"32x8": dict(width=32, depth=8, seed=21), "64x4": dict(width=64, depth=4, seed=22)}
TIMES = (0.7, 3.1)


@pytest.mark.slow
def test_exports_match_the_app_in_software_webgl(renderer, tmp_path):
    """Shadertoy in WebGL2 and glsl as is in WebGL1 (the GL_ES precision block, no #version):
    every pixel within 1 level of the app, on networks where the host's own sin/cos in the
    latent loop put pixels tens of levels off."""
    w, h = SIZE
    jobs, wants, names = [], [], []
    for net, network in DEEP.items():
        scene = Scene(network=network, loop=5.0, path_seed=3, phase=0.1)
        spec = scene_network(scene)
        want = [levels(app_frame(renderer, spec, scene, scene.phase + t / scene.loop))
                for t in TIMES]
        jobs.append({"webgl": 2, "vs": VERT2, "fs": wrap_shadertoy(exports.shadertoy(scene, spec)),
                     "w": w, "h": h, "frames": [{"iResolution": [w, h, 1.0], "iTime": [t],
                                                 "iMouse": [0.0, 0.0, 0.0, 0.0]} for t in TIMES]})
        jobs.append({"webgl": 1, "vs": VERT1, "fs": exports.glsl_viewer(scene, spec),
                     "w": w, "h": h,
                     "frames": [{"u_resolution": [w, h], "u_time": [t]} for t in TIMES]})
        for fmt in ("shadertoy", "glsl"):
            wants += want
            names += [f"{fmt} {net} t={t}" for t in TIMES]
    for name, got, want in zip(names, run_webgl(jobs, tmp_path), wants):
        off = float(np.abs(got - want).max())
        print(f"{name}: max {off:g} levels off the app")
        assert off <= 1, f"{name}: {off:g} levels off the app"


# The official ISF JavaScript renderer's browser bundle (npm pack interactive-shader-format@2.9.0,
# then package/build/build.js): not vendored here, so the test runs where ISF_JS_BUNDLE names it.
ISF_JS = os.environ.get("ISF_JS_BUNDLE", "")

ISF_PAGE = """<html><body><pre id="out">pending</pre><canvas id="c" width="%d" height="%d"></canvas>
<script>var digits, BASE_UNIT_NONE;</script>
<script>window.isfRequire = __BUNDLE__</script>
<script>
const lines = [];
try {
  let now = 1000000;  // the renderer reads Date.now for TIME and TIMEDELTA: a clock of our own
  Date.now = () => now;
  const ISF = window.isfRequire(10);  // the bundle's entry module: lib/main.js
  const canvas = document.getElementById('c');
  const gl = canvas.getContext('webgl', {preserveDrawingBuffer: true, antialias: false});
  const r = new ISF.Renderer(gl);
  r.loadSource(__SOURCE__);
  if (!r.valid) throw 'invalid ISF: ' + JSON.stringify(r.error);
  for (const [dt, speed] of __STEPS__) {
    now += dt;
    r.setValue('speed', speed);
    r.draw(canvas);
    const px = new Uint8Array(canvas.width * canvas.height * 4);
    gl.readPixels(0, 0, canvas.width, canvas.height, gl.RGBA, gl.UNSIGNED_BYTE, px);
    let bin = ''; for (let i = 0; i < px.length; i++) bin += String.fromCharCode(px[i]);
    lines.push('FRAME ' + btoa(bin));
  }
} catch (e) { lines.push('ERROR ' + String(e && e.stack || e).replace(/\\s+/g, ' ')); }
document.getElementById('out').textContent = lines.join('\\n');
</script></body></html>
"""


@pytest.mark.skipif(not os.path.isfile(ISF_JS), reason="set ISF_JS_BUNDLE to the ISF JS renderer's "
                    "build/build.js (npm pack interactive-shader-format@2.9.0)")
def test_isf_export_plays_in_the_isf_web_renderer(renderer, tmp_path):
    """The official ISF renderer in WebGL 1: the persistent phase pass accumulates, and Speed
    changed mid-play changes only the rate: every frame is the app's at the integrated phase."""
    from test_exports import scene_of

    from realtime_cppn.core.animation import Phase

    scene, spec, _ = scene_of("rgb-tanh")
    steps = [(0, 1.0), (500, 1.0), (16, 1.0), (17, 1.001), (500, 2.0), (250, 0.0), (100, 0.5)]
    # The bundle's vendored math library assigns two undeclared globals: strict mode refuses it.
    bundle = Path(ISF_JS).read_text().replace('"use strict";', "").replace("'use strict';", "")
    page = (ISF_PAGE % SIZE).replace("__BUNDLE__", bundle).replace(
        "__SOURCE__", json.dumps(exports.isf(scene, spec))).replace("__STEPS__", json.dumps(steps))
    got = chromium_frames(page, tmp_path, len(steps))
    phase = Phase(scene.phase)
    for i, ((dt_ms, speed), image) in enumerate(zip(steps, got)):
        phase = phase.advance(dt_ms / 1000.0, speed, scene.loop)
        off = float(np.abs(image - levels(app_frame(renderer, spec, scene, phase.value))).max())
        assert off <= 1, f"frame {i} (speed {speed}): {off:g} levels off the app"
