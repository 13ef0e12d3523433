#!/usr/bin/env python3
"""The GPU's own FP32 FMA peak under OpenGL, weight-fetch costs, and the network programs'
draw times as a fraction of that peak, all with GL timer queries in one context.

Run by ``device_bench.sh`` on a lent GPU (one call, a few minutes). In order of importance,
each result goes to ``OUT/gpu_peak.json`` the moment it exists (a run cut off still leaves
everything measured so far):

1. The GL check: ``GL_RENDERER`` must name a hardware GPU (and the NVIDIA GPU nvidia-smi sees,
   where it is present), else exit 3 at once. ``--fake-gpu`` skips it, with small sizes, so the
   whole run can be exercised on llvmpipe.
2. FP32 FMA peak, compute and fragment: a synthetic shader of long independent ``fma`` chains
   (8 vec4 accumulators, 16 chained steps per loop trip), sized until one dispatch or draw takes
   ~20 ms of GPU time; FLOP = 2 per lane per fma.
3. The programs reseeds and morphs draw: ``Renderer.draw`` as the product runs it (path and
   storage chosen by the renderer), a reseed (whole weight upload + draw) and a morph (first
   bias upload + draw); then each program design ``glsl.source`` offers (the four-pixel compute
   program, the one-pixel program where ``glsl.source`` takes ``pixels``, the fragment program),
   dispatched here with the renderer's uniforms and weights, at 1920x1080 and 3840x2160.
   Fragment rows are skipped on H100/H200 (pixel shaders reach 4 of their 132 SMs) unless
   ``--fragment-everywhere``.
4. Weight-fetch costs: one synthetic one-pixel network (W32, 4 layers, clamp activations) with
   its weights read six ways: straight-line code with literal indices, or loops with computed
   indices, from a uniform block, a storage buffer or a float texture.

Every timed row has GPU ms per dispatch (timer query over N back-to-back dispatches, best of
3), wall ms per dispatch (N dispatches per ``ctx.finish()``; used where the timer query does
not see the work, as on llvmpipe's compute dispatches), useful GFLOP/s (2 x
``NetworkSpec.macs_per_pixel`` x pixels / time), % of the measured GL FMA peak (the higher of
compute and fragment), and nvidia-smi's clocks when it is present. ``gpu_peak.md`` holds the
same as a table.

    python3 benchmarks/gpu_peak.py --out bench-device            # on a GPU
    python3 benchmarks/gpu_peak.py --fake-gpu --out /tmp/fake   # the same steps on llvmpipe
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import moderngl
import numpy as np

from realtime_cppn import CPPN, to_spec
from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.safeio import write_atomic
from realtime_cppn.core.spec import NetworkSpec, View
from realtime_cppn.rendering.codegen import glsl
from realtime_cppn.rendering.cpu import is_software
from realtime_cppn.rendering.renderer import PALETTES, Renderer, create_headless_context

NOT_A_GPU = 3  # exit status when GL_RENDERER is no GPU: the caller stops the whole run
GPU_MAX_UBO = 65536
# (width, depth) in order of importance: the default network first.
NETS = [(32, 4), (64, 4), (16, 4), (32, 8), (64, 12)]
SIZES = {"1920x1080": (1920, 1080), "3840x2160": (3840, 2160)}
FAKE_NETS = [(8, 2)]
FAKE_SIZES = {"1920x1080/8": (240, 135), "3840x2160/8": (480, 270)}


class Run:
    """The results so far, written whole to ``OUT/gpu_peak.json`` after each one."""

    def __init__(self, out: Path, meta: dict, deadline: float) -> None:
        self.out = out
        self.meta = meta
        self.rows: list[dict] = []
        self.deadline = deadline
        self.peak: dict[str, float] = {}  # kind -> GFLOP/s
        self.smi = shutil.which("nvidia-smi")
        out.mkdir(parents=True, exist_ok=True)
        self.save()

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def clocks(self) -> str:
        if not self.smi:
            return ""
        try:
            return subprocess.run(
                [self.smi, "--query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu",
                 "--format=csv,noheader"], capture_output=True, text=True, timeout=10,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    def add(self, row: dict) -> dict:
        gflops = row.get("gflops")
        if gflops and self.peak:
            row["pct_peak"] = 100 * gflops / max(self.peak.values())
        clocks = self.clocks()
        if clocks:
            row["clocks"] = clocks  # sm MHz, mem MHz, W, C
        self.rows.append(row)
        self.save()
        print(_line(row), flush=True)
        return row

    def save(self) -> None:
        payload = {"meta": self.meta, "peak_gflops": self.peak, "rows": self.rows}
        write_atomic(self.out / "gpu_peak.json", json.dumps(payload, indent=1) + "\n")
        write_atomic(self.out / "gpu_peak.md", self.markdown())

    def markdown(self) -> str:
        m = self.meta
        lines = [f"GL_RENDERER: {m['gl_renderer']}; {m['gl_version']}; {m['started']}"
                 f"{'; FAKE GPU (llvmpipe, small sizes)' if m['fake_gpu'] else ''}", "",
                 "| group | what | ms | clock | GFLOP/s | % of GL FMA peak | max diff | note |",
                 "|---|---|---:|---|---:|---:|---:|---|"]
        for r in self.rows:
            note = r.get("skipped") or r.get("error") or r.get("where", "") or r.get("clocks", "")
            lines.append(
                f"| {r['group']} | {r['name']} | {r['ms']:.3f} | {r['clock']} | "
                f"{r.get('gflops', 0):.1f} | {r.get('pct_peak', 0):.1f} | "
                f"{'' if r.get('max_diff') is None else format(r['max_diff'], '.1e')} | {note} |"
                if "ms" in r else f"| {r['group']} | {r['name']} | | | | | | {note} |")
        return "\n".join(lines) + "\n"


def _line(row: dict) -> str:
    if row.get("skipped"):
        return f"{row['group']:8} {row['name']:44} skipped: {row['skipped']}"
    if row.get("error"):
        return f"{row['group']:8} {row['name']:44} failed: {row['error']}"
    parts = [f"{row['group']:8} {row['name']:44}", f"{row['ms']:9.3f} ms ({row['clock']})",
             f"gpu {row['gpu_ms']:9.3f}", f"wall {row['wall_ms']:9.3f}"]
    if row.get("gflops"):
        parts.append(f"{row['gflops']:10.1f} GFLOP/s")
    if row.get("pct_peak") is not None:
        parts.append(f"{row['pct_peak']:5.1f}% of peak")
    if row.get("max_diff") is not None:
        parts.append(f"max diff {row['max_diff']:.1e}")
    return "  ".join(parts)


# --- timing -----------------------------------------------------------------------------------


def timed(ctx: moderngl.Context, fn: Callable[[], None], target_s: float, repeats: int = 3,
          max_n: int = 256) -> dict:
    """GPU and wall time of one ``fn()``: N calls per timer query and per finish, N grown until
    the N calls take ``target_s``; best of ``repeats``. ``ms`` is the GPU time, or the wall
    time where the timer query does not see the work (llvmpipe's compute dispatches, the cpu
    path): ``clock`` says which."""
    fn()
    ctx.finish()  # the first call builds the driver's variant: never timed
    query = ctx.query(time=True)
    n = 1
    gpus, walls = [], []
    while True:
        t0 = time.perf_counter()
        with query:
            for _ in range(n):
                fn()
        ctx.finish()
        wall = time.perf_counter() - t0
        spent = max(query.elapsed * 1e-9, wall)
        if spent >= target_s or n >= max_n:
            gpus.append(query.elapsed * 1e-9 / n)
            walls.append(wall / n)
            break
        n = min(max_n, n * 8, max(n * 2, int(n * target_s / max(spent, 1e-6)) + 1))
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        with query:
            for _ in range(n):
                fn()
        ctx.finish()
        walls.append((time.perf_counter() - t0) / n)
        gpus.append(query.elapsed * 1e-9 / n)
    gpu_ms, wall_ms = 1e3 * min(gpus), 1e3 * min(walls)
    clock = "gpu" if gpu_ms * 20 >= wall_ms else "wall"
    return {"ms": gpu_ms if clock == "gpu" else wall_ms, "clock": clock, "gpu_ms": gpu_ms,
            "wall_ms": wall_ms, "n": n}


# --- 2. FMA peak ------------------------------------------------------------------------------

CHAINS, STEPS = 8, 16  # vec4 accumulators; fmas per accumulator per loop trip


def _fma_body() -> str:
    init = "\n".join(f"    vec4 a{i} = s + vec4({4 * i}.0, {4 * i + 1}.0, {4 * i + 2}.0, {4 * i + 3}.0);"
                     for i in range(CHAINS))
    step = "\n".join(f"        a{i} = fma(a{i}, m, c);" for i in range(CHAINS))
    total = " + ".join(f"a{i}" for i in range(CHAINS))
    return f"""uniform int u_iter;
uniform float u_m;
uniform float u_c;
float chains(float seed) {{
    vec4 s = vec4(seed), m = vec4(u_m), c = vec4(u_c);
{init}
    for (int i = 0; i < u_iter; i++) {{
{(step + chr(10)) * STEPS}    }}
    return dot({total}, vec4(1.0));
}}
"""


def fma_compute_source() -> str:
    return f"""#version 430
layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Out {{ float o[]; }};
{_fma_body()}
void main() {{
    uint id = gl_GlobalInvocationID.x;
    o[id] = chains(float(id) * 1e-7);
}}
"""


def fma_fragment_source() -> str:
    return f"""#version 430
out float frag;
{_fma_body()}
void main() {{
    frag = chains(gl_FragCoord.x * 1e-4 + gl_FragCoord.y * 1e-7);
}}
"""


def _fullscreen(ctx: moderngl.Context, prog) -> moderngl.VertexArray:
    vao = ctx.vertex_array(prog, [])
    vao.vertices = 3
    return vao


def fma_peak(run: Run, ctx: moderngl.Context, kind: str, lanes: int, target_s: float,
             label: str = "") -> None:
    """Grow the loop count until one dispatch/draw of ``lanes`` invocations takes target_s."""
    flop_per_iter = 2 * 4 * CHAINS * STEPS
    if kind == "compute":
        prog = ctx.compute_shader(fma_compute_source())
        groups = lanes // 256
        out = ctx.buffer(reserve=4 * groups * 256)
        out.bind_to_storage_buffer(0)
        go = lambda: prog.run(groups)  # noqa: E731
        invocations = groups * 256
    else:
        prog = ctx.program(vertex_shader=glsl.load("fullscreen.vert"),
                           fragment_shader=fma_fragment_source())
        side = int(math.sqrt(lanes))
        tex = ctx.texture((side, side), 1, dtype="f4")
        fbo = ctx.framebuffer(color_attachments=[tex])
        vao = _fullscreen(ctx, prog)

        def go() -> None:
            fbo.use()
            vao.render()

        invocations = side * side
    prog["u_m"].value = 0.999
    prog["u_c"].value = 1e-3
    iters = 8
    while True:
        prog["u_iter"].value = iters
        t = timed(ctx, go, target_s, repeats=1, max_n=1)
        if t["ms"] * 1e-3 >= target_s or iters >= 1 << 16 or run.left() < 30:
            break
        iters = min(1 << 16, iters * 8, max(iters * 2, int(iters * target_s / max(t["ms"] * 1e-3, 1e-6))))
    t = timed(ctx, go, target_s, repeats=3, max_n=1)
    gflops = flop_per_iter * iters * invocations / (t["ms"] * 1e-3) / 1e9
    run.peak[kind] = max(run.peak.get(kind, 0.0), gflops)
    run.add({"group": "peak", "name": f"fma {kind}{label}", **t, "gflops": gflops,
             "iters": iters, "invocations": invocations})


# --- 3. the network programs ------------------------------------------------------------------


def network(width: int, depth: int) -> NetworkSpec:
    return to_spec(CPPN(width=width, depth=depth, seed=0))


def gpu_storage(spec: NetworkSpec, max_ubo: int) -> str:
    return "ubo" if 16 * glsl.layout(spec).size <= max_ubo else "texture"


def designs() -> list[tuple[str, str, Callable[[NetworkSpec, str], str], int]]:
    """(label, path, source function, pixels per invocation side) of every program design."""
    if "pixels" in inspect.signature(glsl.source).parameters:
        return [
            ("compute 1px", "compute", lambda s, st: glsl.source(s, "compute", st, pixels=1), 1),
            ("compute 4px (old)", "compute",
             lambda s, st: glsl.source(s, "compute", st, pixels=4), 2),
            ("fragment", "fragment", lambda s, st: glsl.source(s, "fragment", st), 1),
        ]
    return [
        ("compute 4px", "compute", lambda s, st: glsl.source(s, "compute", st), 2),
        ("fragment", "fragment", lambda s, st: glsl.source(s, "fragment", st), 1),
    ]


class Design:
    """One program design dispatched here as the renderer would: same uniforms, same weights."""

    def __init__(self, ctx: moderngl.Context, spec: NetworkSpec, z: np.ndarray, path: str,
                 source: str, side: int, storage: str) -> None:
        self.ctx, self.spec, self.path = ctx, spec, path
        t0 = time.perf_counter()
        if path == "compute":
            self.prog = ctx.compute_shader(source)
            local = [re.search(rf"local_size_{a}\s*=\s*(\d+)", source) for a in "xy"]
            self.group = tuple(side * (int(m.group(1)) if m else 1) for m in local)
        else:
            self.prog = ctx.program(vertex_shader=glsl.load("fullscreen.vert"),
                                    fragment_shader=source)
            self.vao = _fullscreen(ctx, self.prog)
        self.link_s = time.perf_counter() - t0
        data = glsl.pack(spec, z)
        if storage == "texture":
            rows = -(-data.shape[0] // glsl.TEXTURE_WIDTH)
            padded = np.zeros((rows * glsl.TEXTURE_WIDTH, 4), np.float32)
            padded[: data.shape[0]] = data
            self.weights = ctx.texture((glsl.TEXTURE_WIDTH, rows), 4, padded.tobytes(), dtype="f4")
            self.weights.filter = (moderngl.NEAREST, moderngl.NEAREST)
            self.prog["u_weights"].value = 0
        else:
            self.weights = ctx.buffer(data.tobytes())
            if "Weights" in self.prog:
                self.prog["Weights"].binding = 0
        self.targets: dict[tuple[int, int], tuple] = {}

    def target(self, size: tuple[int, int]):
        if size not in self.targets:
            tex = self.ctx.texture(size, 4, dtype="f4")
            self.targets[size] = (tex, self.ctx.framebuffer(color_attachments=[tex]))
        return self.targets[size]

    def draw(self, size: tuple[int, int]) -> moderngl.Texture:
        w, h = size
        view = View()
        uniforms = {
            "u_resolution": (float(w), float(h)), "u_center": tuple(map(float, view.center)),
            "u_scale": float(self.spec.scale / view.zoom), "u_symmetry": view.symmetry_code,
            "u_kaleido": view.kaleido, "u_color_mode": view.color_code,
            "u_palette": PALETTES[view.palette], "u_wrap": view.wrap_code,
            "u_uv_range": (0.0, 0.0, 1.0, 1.0),
        }
        for name, value in uniforms.items():
            if name in self.prog:
                self.prog[name].value = value
        if isinstance(self.weights, moderngl.Texture):
            self.weights.use(0)
        else:
            self.weights.bind_to_uniform_block(0)
        tex, fbo = self.target(size)
        if self.path == "compute":
            tex.bind_to_image(0, read=False, write=True)
            self.prog.run(-(-w // self.group[0]), -(-h // self.group[1]))
            self.ctx.memory_barrier()
        else:
            fbo.use()
            fbo.viewport = (0, 0, w, h)
            self.vao.render()
        return tex

    def release(self) -> None:
        for tex, fbo in self.targets.values():
            fbo.release()
            tex.release()
        self.weights.release()
        self.prog.release()


def _frame(tex: moderngl.Texture) -> np.ndarray:
    w, h = tex.size
    return np.frombuffer(tex.read(), np.float32).reshape(h, w, 4)


def programs(run: Run, ctx: moderngl.Context, nets, sizes: dict, target_s: float,
             fragment_ok: bool, why_not: str) -> None:
    rng = np.random.default_rng(0)
    max_ubo = int(ctx.info.get("GL_MAX_UNIFORM_BLOCK_SIZE", GPU_MAX_UBO))
    renderer = Renderer(ctx)  # the product's own choice of path and storage
    for width, depth in nets:
        if run.left() < 20:
            run.add({"group": "program", "name": f"W{width} D{depth}", "skipped": "out of time"})
            continue
        try:
            _network_rows(run, ctx, renderer, rng, max_ubo, width, depth, sizes, target_s,
                          fragment_ok, why_not)
        except Exception as exc:  # the next network may still work: record this one, go on
            run.add({"group": "program", "name": f"W{width} D{depth}",
                     "error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"})
    renderer.forget_programs()


def _network_rows(run: Run, ctx: moderngl.Context, renderer: Renderer, rng, max_ubo: int,
                  width: int, depth: int, sizes: dict, target_s: float, fragment_ok: bool,
                  why_not: str) -> None:
    spec = network(width, depth)
    z = rng.standard_normal(spec.z_dim)
    macs = spec.macs_per_pixel
    net = f"W{width} D{depth}"
    # The renderer as the window and the render command run it, a reseed and a morph.
    t0 = time.perf_counter()
    renderer.set_network(spec, z)
    renderer.draw((64, 64), display=True)
    ctx.finish()
    compile_s = time.perf_counter() - t0
    for size_name, size in sizes.items():
        if run.left() < 15:
            break
        px = size[0] * size[1]
        where = f"{renderer.path}, {renderer.storage_for(spec)}"
        t = timed(ctx, lambda size=size: renderer.draw(size, display=True), target_s)
        run.add({"group": "program", "name": f"{net} renderer {size_name}", "where": where,
                 **t, "gflops": 2 * macs * px / (t["ms"] * 1e-3) / 1e9,
                 "compile_s": compile_s, "macs_per_pixel": macs, "pixels": px})
        z2 = rng.standard_normal(spec.z_dim)
        def reseed(size=size, z2=z2) -> None:
            renderer.set_network(spec, z2)  # same architecture: the whole weight upload
            renderer.draw(size, display=True)

        def morph(size=size, z2=z2) -> None:
            renderer.set_latent(z2 * 0.5)  # the z-folded first bias only
            renderer.draw(size, display=True)

        t = timed(ctx, reseed, target_s)
        run.add({"group": "program", "name": f"{net} reseed {size_name}", "where": where, **t,
                 "gflops": 2 * macs * px / (t["ms"] * 1e-3) / 1e9})
        t = timed(ctx, morph, target_s)
        run.add({"group": "program", "name": f"{net} morph {size_name}", "where": where, **t,
                 "gflops": 2 * macs * px / (t["ms"] * 1e-3) / 1e9})
    renderer.set_network(spec, z)
    reference = renderer.read(renderer.draw((64, 64), display=True), 4)[::-1]
    storage = gpu_storage(spec, max_ubo)
    for label, path, source_fn, side in designs():
        name = f"{net} {label} {storage}"
        if path == "fragment" and not fragment_ok:
            run.add({"group": "program", "name": name, "skipped": why_not})
            continue
        if run.left() < 20:
            run.add({"group": "program", "name": name, "skipped": "out of time"})
            continue
        try:
            design = Design(ctx, spec, z, path, source_fn(spec, storage), side, storage)
        except Exception as exc:  # moderngl raises plain Exception for compile errors
            run.add({"group": "program", "name": name,
                     "error": " ".join(str(exc).split())[:200]})
            continue
        diff = float(np.max(np.abs(_frame(design.draw((64, 64))) - reference)))
        for size_name, size in sizes.items():
            if run.left() < 15:
                break
            px = size[0] * size[1]
            t = timed(ctx, lambda size=size, design=design: design.draw(size), target_s)
            run.add({"group": "program", "name": f"{name} {size_name}", **t,
                     "gflops": 2 * macs * px / (t["ms"] * 1e-3) / 1e9,
                     "link_s": design.link_s, "max_diff": diff, "macs_per_pixel": macs,
                     "pixels": px})
        design.release()


# --- 4. weight-fetch costs --------------------------------------------------------------------


def fetch_source(storage: str, indexing: str, width: int, layers: int) -> str:
    """A one-pixel compute network with ``layers`` width x width layers, weights as in glsl's
    layout (per layer: width/4 bias vec4s, then width/4 vec4s per output neuron)."""
    nb = width // 4
    decl = {
        "ubo": f"layout(std140, binding = 0) uniform Weights {{ vec4 u_w[{layers * (nb + width * nb)}]; }};\n"
               "#define W(k) u_w[k]",
        "ssbo": "layout(std430, binding = 1) readonly buffer WeightsB { vec4 b_w[]; };\n#define W(k) b_w[k]",
        "texture": "uniform sampler2D u_weights;\n"
                   "#define W(k) texelFetch(u_weights, ivec2((k) % 1024, (k) / 1024), 0)",
    }[storage]
    lines = [f"    float h0_{j} = p.x * {0.5 + 0.01 * j:.3f} - p.y * {0.25 + 0.02 * j:.3f};"
             for j in range(width)]
    if indexing == "literal":
        for n in range(layers):
            base = n * (nb + width * nb)
            for i in range(width):
                lines.append(f"    float a{n}_{i} = W({base + i // 4}).{'xyzw'[i % 4]};")
                for j in range(width):
                    k = base + nb + i * nb + j // 4
                    lines.append(f"    a{n}_{i} = fma(W({k}).{'xyzw'[j % 4]}, h{n}_{j}, a{n}_{i});")
            lines += [f"    float h{n + 1}_{i} = clamp(a{n}_{i}, -1.0, 1.0);" for i in range(width)]
        result = " + ".join(f"h{layers}_{i}" for i in range(width))
    else:
        blocks = ", ".join(f"vec4({', '.join(f'h0_{4 * q + c}' for c in range(4))})"
                           for q in range(nb))
        lines.append(f"    vec4 h[{nb}] = vec4[{nb}]({blocks});")
        for n in range(layers):
            base = n * (nb + width * nb)
            lines += [
                f"    vec4 n{n}[{nb}];",
                f"    for (int q = 0; q < {nb}; q++) {{",
                f"        vec4 a = W({base} + q);",
                f"        for (int j = 0; j < {nb}; j++) {{",
                f"            int k = {base + nb} + 4 * q * {nb} + j;",
                f"            a += vec4(dot(W(k), h[j]), dot(W(k + {nb}), h[j]),",
                f"                      dot(W(k + {2 * nb}), h[j]), dot(W(k + {3 * nb}), h[j]));",
                "        }",
                f"        n{n}[q] = clamp(a, -1.0, 1.0);",
                "    }",
                f"    h = n{n};",
            ]
        result = "dot(" + " + ".join(f"h[{q}]" for q in range(nb)) + ", vec4(1.0))"
    body = "\n".join(lines)
    return f"""#version 430
layout(local_size_x = 8, local_size_y = 8) in;
layout(std430, binding = 0) writeonly buffer Out {{ float o[]; }};
uniform ivec2 u_size;
{decl}
void main() {{
    ivec2 g = ivec2(gl_GlobalInvocationID.xy);
    if (g.x >= u_size.x || g.y >= u_size.y) return;
    vec2 p = (vec2(g) + 0.5) / vec2(u_size) * 2.0 - 1.0;
{body}
    o[g.y * u_size.x + g.x] = {result};
}}
"""


def fetch_costs(run: Run, ctx: moderngl.Context, width: int, layers: int, size: tuple[int, int],
                target_s: float) -> None:
    nb = width // 4
    n_vec4 = layers * (nb + width * nb)
    data = np.random.default_rng(1).standard_normal((n_vec4, 4)).astype(np.float32) / math.sqrt(width)
    rows = -(-n_vec4 // 1024)
    padded = np.zeros((rows * 1024, 4), np.float32)
    padded[:n_vec4] = data
    ubo = ctx.buffer(data.tobytes())
    ssbo = ctx.buffer(data.tobytes())
    tex = ctx.texture((1024, rows), 4, padded.tobytes(), dtype="f4")
    tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
    w, h = size
    out = ctx.buffer(reserve=4 * w * h)
    macs = layers * width * width
    results = {}
    for indexing in ("literal", "looped"):
        for storage in ("ubo", "ssbo", "texture"):
            name = f"W{width}x{layers} {indexing} {storage}"
            if run.left() < 15:
                run.add({"group": "fetch", "name": name, "skipped": "out of time"})
                continue
            try:
                t0 = time.perf_counter()
                prog = ctx.compute_shader(fetch_source(storage, indexing, width, layers))
                link_s = time.perf_counter() - t0
            except Exception as exc:  # moderngl raises plain Exception for compile errors
                run.add({"group": "fetch", "name": name, "error": " ".join(str(exc).split())[:200]})
                continue
            prog["u_size"].value = (w, h)
            if storage == "texture":
                prog["u_weights"].value = 0
            elif "Weights" in prog:
                prog["Weights"].binding = 0

            def go(prog=prog) -> None:
                ubo.bind_to_uniform_block(0)
                ssbo.bind_to_storage_buffer(1)
                tex.use(0)
                out.bind_to_storage_buffer(0)
                prog.run(-(-w // 8), -(-h // 8))

            t = timed(ctx, go, target_s)
            results[(indexing, storage)] = np.frombuffer(out.read(), np.float32).copy()
            ref = results[("literal", "ubo")] if ("literal", "ubo") in results else None
            diff = None if ref is None else float(np.max(np.abs(results[(indexing, storage)] - ref)))
            run.add({"group": "fetch", "name": name, **t, "link_s": link_s,
                     "gflops": 2 * macs * w * h / (t["ms"] * 1e-3) / 1e9, "max_diff": diff,
                     "macs_per_pixel": macs, "pixels": w * h})
            prog.release()
    for b in (ubo, ssbo, out):
        b.release()
    tex.release()


# --- 1. the GL check --------------------------------------------------------------------------


def gpu_check(gl_renderer: str) -> str | None:
    """Why this context is not the lent GPU, or None when it is."""
    if is_software(gl_renderer) or re.search(r"llvmpipe|softpipe|swrast|swiftshader|software",
                                             gl_renderer, re.I):
        return f"GL_RENDERER is {gl_renderer!r}, a software rasterizer"
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            names = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"],
                                   capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            names = ""
        if names.strip() and "nvidia" not in gl_renderer.lower() and not any(
                tok.lower() in gl_renderer.lower() for tok in names.split() if len(tok) > 2):
            return f"GL_RENDERER is {gl_renderer!r}, not the GPU nvidia-smi sees ({names.strip()})"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("bench-device"))
    ap.add_argument("--fake-gpu", action="store_true",
                    help="skip the GPU check and use small sizes (for a run on llvmpipe)")
    ap.add_argument("--budget", type=float, default=240.0, help="seconds for the whole run")
    ap.add_argument("--check", action="store_true",
                    help="only the GL check: exit 0 on the GPU, 3 on anything else")
    ap.add_argument("--fragment-everywhere", action="store_true",
                    help="time fragment programs on H100/H200 too")
    args = ap.parse_args(argv)
    start = time.monotonic()
    ctx = create_headless_context()
    info = ctx.info
    gl_renderer = info.get("GL_RENDERER", "?")
    print(f"GL_RENDERER: {gl_renderer}; GL_VERSION: {info.get('GL_VERSION', '?')}", flush=True)
    why = None if args.fake_gpu else gpu_check(gl_renderer)
    if why:
        print(f"gpu_peak: not a GPU run: {why}; stopping before anything is measured",
              file=sys.stderr)
        return NOT_A_GPU
    if args.check:
        print("GL check: " + ("skipped (--fake-gpu)" if args.fake_gpu else "the GPU"))
        return 0
    hopper = bool(re.search(r"\bH[12]00\b", gl_renderer))
    fragment_ok = args.fragment_everywhere or not hopper
    why_not = "H100/H200: pixel shaders reach only 4 of 132 SMs"
    fake = args.fake_gpu
    meta = {
        "gl_renderer": gl_renderer, "gl_version": info.get("GL_VERSION", "?"),
        "max_ubo": info.get("GL_MAX_UNIFORM_BLOCK_SIZE"), "fake_gpu": fake,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "designs": [d[0] for d in designs()], "fragment_rows": fragment_ok,
        "glsl_source_takes_pixels": "pixels" in inspect.signature(glsl.source).parameters,
    }
    run = Run(args.out, meta, start + args.budget)
    target = 0.005 if fake else 0.02
    lanes = 64 * 256 if fake else 4096 * 256
    steps = [
        ("peak", "fma compute", lambda: fma_peak(run, ctx, "compute", lanes, target)),
        # Everywhere (a second at most), labelled where pixel shaders reach part of the chip.
        ("peak", "fma fragment", lambda: fma_peak(run, ctx, "fragment", lanes, target,
                                                  label=f" ({why_not})" if hopper else "")),
        ("program", "programs", lambda: programs(
            run, ctx, FAKE_NETS if fake else NETS, FAKE_SIZES if fake else SIZES,
            0.01 if fake else 0.1, fragment_ok, why_not)),
        ("fetch", "weight fetches", lambda: fetch_costs(
            run, ctx, 8 if fake else 32, 2 if fake else 4, (64, 64) if fake else (1920, 1080),
            target)),
    ]
    for group, name, step in steps:
        try:
            step()
        except Exception as exc:  # one failed step must not cost the rest of a lent GPU's run
            run.add({"group": group, "name": name,
                     "error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"})
    run.meta["seconds"] = time.monotonic() - start
    run.save()
    print(f"\npeak (GL FMA): {', '.join(f'{k} {v:.0f} GFLOP/s' for k, v in run.peak.items())}; "
          f"{len(run.rows)} rows in {run.meta['seconds']:.0f} s -> {args.out / 'gpu_peak.json'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CPPNError as exc:
        print(f"gpu_peak: {exc}", file=sys.stderr)
        sys.exit(2)
