#!/usr/bin/env python3
"""Render speed, side by side in one run: uniform-fed shaders vs torch on the CPU vs baked constants.

For the default network (CPPN(): width 32, depth 4) and a width x depth sweep, at 512x512 and
1920x1080 (3840x2160 with --big), it measures
  (a) ours: the live renderer as the window and the render command run it (Renderer(): the
      cpu path, numpy with a colour-pass shader, where OpenGL is a software rasterizer, else
      the compute shader, specialised), and the uniform-fed shaders Renderer(path='compute')
      and Renderer(path='fragment') (weights in a texture; a uniform block too where it fits),
  (b) the seed's way: the same torch module on the CPU (float32, no_grad, batched) on the coords
      grid, plus uploading the result as a texture (both timed),
  (c) the weights baked into the shader as constants (realtime_cppn.rendering.codegen.bake),
      fragment and compute,
and prints frames/s, ms/frame, GFLOP/s (2 x NetworkSpec.macs_per_pixel x pixels x fps: useful,
unpadded multiply-adds, z folded) and its fraction of the machine's float32 peak (a numpy
4096x4096 matmul measured in the same run), each path's ratio to (b) and to (c), the cold compile
(the shader cache is disabled for this process) and each image's max abs error against a float64
torch reference on a pixel subsample, so no work was optimised away.

    python3 benchmarks/bench_render.py --quick --out bench/llvmpipe
    python3 benchmarks/bench_render.py --big --out bench/full        # the full sweep: slow on CPU
    python3 benchmarks/bench_render.py --compile-study               # issue 8 item 2 measurements
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from realtime_cppn import CPPN, coords, to_spec
from realtime_cppn.core.spec import NetworkSpec
from realtime_cppn.rendering.codegen import bake, glsl
from realtime_cppn.rendering.gl import first_draw, link
from realtime_cppn.rendering.renderer import Renderer, create_headless_context

SIZES = {"512x512": (512, 512), "1920x1080": (1920, 1080), "3840x2160": (3840, 2160)}
SWEEP = [(w, d) for w in (16, 32, 64) for d in (4, 8, 12)]
QUICK_SWEEP = [(16, 4), (64, 4)]
TORCH_CHUNK = 32768  # pixels per torch batch: big enough for the BLAS, small enough for the cache
REF_PIXELS = 20000  # float64 reference pixels per image (a regular subsample)
# A path is flagged WRONG when its error exceeds this, or 4x what torch's own float32 evaluation
# makes on the same pixels (deep N(0, 1) tanh nets amplify float32 rounding legitimately).
ERROR_LIMIT = 1e-3


@dataclass
class Result:
    network: str
    size: str
    path: str
    ms: float  # steady-state median per frame (min_ms in extra: less hurt by other processes)
    fps: float
    gflops: float
    peak_fraction: float
    frames: int
    compile_s: float | None  # program creation + first frame (llvmpipe compiles at first draw)
    max_err: float
    extra: dict = field(default_factory=dict)


# --- measuring --------------------------------------------------------------------------------


def matmul_peak(n: int = 4096, repeats: int = 3) -> float:
    """The machine's float32 GFLOP/s on a large numpy matmul (best of ``repeats``)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm the BLAS threads
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def cuda_peak(n: int = 8192, repeats: int = 5) -> float | None:
    """The GPU's float32 GFLOP/s on a large torch matmul (TF32 off: true float32, as the shaders
    compute), or None without CUDA."""
    if not torch.cuda.is_available():
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    a = torch.randn(n, n, device="cuda")
    b = torch.randn(n, n, device="cuda")
    a @ b
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def steady(frame: Callable[[], object], min_seconds: float, min_frames: int,
           max_frames: int = 200) -> tuple[float, int, float]:
    """(median seconds per frame, frames, min seconds); ``frame`` waits for its result."""
    times: list[float] = []
    while len(times) < min_frames or (sum(times) < min_seconds and len(times) < max_frames):
        times.append(_timed(frame))
    return statistics.median(times), len(times), min(times)


class Reference:
    """float64 torch outputs on a regular subsample of one image's pixels."""

    def __init__(self, net: CPPN, spec: NetworkSpec, z: np.ndarray, size: tuple[int, int]):
        w, h = size
        step = max(1, int(np.sqrt(w * h / REF_PIXELS)))
        self.rows, self.cols = slice(step // 2, h, step), slice(step // 2, w, step)
        grid = coords(size, spec.inputs, spec.scale)[self.rows, self.cols]  # (h', w', n)
        ref = net.double()
        grid = np.ascontiguousarray(grid)
        with torch.no_grad():
            self.values = ref(torch.from_numpy(grid), torch.from_numpy(z)).numpy()
            net.float()
            f32 = net(torch.from_numpy(grid.astype(np.float32)),
                      torch.from_numpy(z.astype(np.float32))).numpy()
        self.limit = max(ERROR_LIMIT, 4 * float(np.abs(f32 - self.values).max()))

    def error(self, image: np.ndarray) -> float:
        """Max abs error of a (H, W, C) top-row-first image at the reference pixels."""
        sub = image[self.rows, self.cols, : self.values.shape[-1]]
        return float(np.abs(sub.astype(np.float64) - self.values).max())


# --- the paths --------------------------------------------------------------------------------


class UniformPath:
    """(a) Renderer: one architecture compiles once; every frame is one draw call."""

    def __init__(self, ctx, path: str, storage: str) -> None:
        self.renderer = Renderer(ctx, path=path, storage=storage)
        self.name = f"uniform-{path}-{storage}"

    def fits(self, spec: NetworkSpec) -> bool:
        if self.renderer.storage_pref != "ubo":
            return True
        return 16 * glsl.layout(spec).size <= self.renderer.max_ubo

    def prepare(self, spec: NetworkSpec, z: np.ndarray, size: tuple[int, int]) -> float | None:
        before = self.renderer.stats.compile_seconds
        compiles = self.renderer.stats.compiles
        self.renderer.set_network(spec, z)
        t = _timed(lambda: self.frame(size))  # the first draw: llvmpipe's JIT runs here
        if self.renderer.stats.compiles == compiles:
            return None  # compiled for an earlier size: not a cold compile
        return self.renderer.stats.compile_seconds - before + t

    def frame(self, size: tuple[int, int]) -> None:
        self.renderer.draw(size)
        self.renderer.ctx.finish()

    def image(self, size: tuple[int, int]) -> np.ndarray:
        return self.renderer.read(self.renderer.draw(size))


class SpecializedPath(UniformPath):
    """The live renderer with specialising on (``specialize="sync"``): after set_network the
    first draw compiles the constants-baked program in place; its steady state is the renderer's
    own fast path, drawn through Renderer.draw."""

    def __init__(self, ctx, path: str) -> None:
        self.renderer = Renderer(ctx, path=path, specialize="sync")
        self.name = f"live-{path}-specialized"
        self.spec_id: int | None = None

    def prepare(self, spec: NetworkSpec, z: np.ndarray, size: tuple[int, int]) -> float | None:
        cold = id(spec) != self.spec_id
        self.spec_id = id(spec)
        t0 = time.perf_counter()
        self.renderer.set_network(spec, z)
        self.frame(size)  # sync mode: the baked program is compiled during this draw
        return time.perf_counter() - t0 if cold else None


class LivePath(SpecializedPath):
    """What the live window and the render command run: Renderer() with its automatic choice
    (the cpu path, numpy, where OpenGL is a software rasterizer; else the compute shader) and
    specialising on where that is a shader."""

    def __init__(self, ctx) -> None:
        self.renderer = Renderer(ctx, specialize="sync")
        self.name = f"live-auto-{self.renderer.path}"
        self.spec_id = None


class BakedPath:
    """(c) A program per weight set, every weight a constant (realtime_cppn.rendering.codegen.bake). With
    latent='baked' z is folded into the constants too (a program per z, as exporters do);
    with 'uniform' the first bias stays a uniform written every frame (one program per seed)."""

    def __init__(self, ctx, path: str, latent: str = "baked") -> None:
        self.ctx, self.path, self.latent = ctx, path, latent
        self.name = f"baked-{path}" + ("" if latent == "baked" else "-zuniform")
        self.prog = None
        self.vao = None
        self.key: tuple | None = None
        self.targets: dict[tuple[int, int], tuple] = {}  # never released mid-run (see tests)
        self.extra: dict = {}

    def fits(self, spec: NetworkSpec) -> bool:
        return self.path == "fragment" or self.ctx.version_code >= 430

    def prepare(self, spec: NetworkSpec, z: np.ndarray, size: tuple[int, int]) -> float | None:
        key = (id(spec), z.tobytes())
        cold = key != self.key
        self.spec, self.z = spec, z
        t0 = time.perf_counter()
        if cold:
            for obj in (self.vao, self.prog):
                if obj is not None:
                    obj.release()
            src = bake.source(spec, z, self.path, latent=self.latent)
            t1 = time.perf_counter()
            self.prog = _build(self.ctx, src, self.path)
            if self.path == "fragment":
                self.vao = self.ctx.vertex_array(self.prog, [])
                self.vao.vertices = 3
            self.extra = {"source_chars": len(src), "source_s": t1 - t0}
            self.key = key
        self.frame(size)
        return time.perf_counter() - t0 if cold else None

    def _draw(self, size: tuple[int, int]):
        w, h = size
        if size not in self.targets:
            tex = self.ctx.texture(size, 4, dtype="f4")
            fbo = self.ctx.framebuffer(color_attachments=[tex]) if self.path == "fragment" else None
            self.targets[size] = (tex, fbo)
        tex, fbo = self.targets[size]
        for name, value in bake.raw_uniforms(self.spec, size).items():
            if name in self.prog:
                self.prog[name].value = value
        if self.latent == "uniform":  # what a live loop does every frame while z moves
            self.prog[bake.LATENT_UNIFORM].write(bake.latent_uniform(self.spec, self.z).tobytes())
        if self.path == "fragment":
            fbo.use()
            fbo.viewport = (0, 0, w, h)
            self.vao.render()
        else:
            tex.bind_to_image(0, read=False, write=True)
            self.prog.run(-(-w // 16), -(-h // 16))
            self.ctx.memory_barrier()
        return tex

    def frame(self, size: tuple[int, int]) -> None:
        self._draw(size)
        self.ctx.finish()

    def image(self, size: tuple[int, int]) -> np.ndarray:
        tex = self._draw(size)
        w, h = size
        data = np.frombuffer(tex.read(), dtype=np.float32).reshape(h, w, 4)[::-1]
        return data[:, :, : self.spec.out_channels]


class TorchPath:
    """(b) The seed's way: torch evaluates the module (on the CPU, or on the GPU where CUDA
    exists), the frame comes to the host and is uploaded for display."""

    def __init__(self, ctx, device: str = "cpu") -> None:
        self.ctx = ctx
        self.device = device
        self.name = f"torch-{device}+upload"
        self.chunk = TORCH_CHUNK if device == "cpu" else 1 << 20  # a GPU wants big batches
        self.textures: dict[tuple[int, int, int], object] = {}

    def fits(self, spec: NetworkSpec) -> bool:
        return True

    def prepare(self, spec, z, size, net: CPPN | None = None) -> float | None:
        self.net = net if self.device == "cpu" else copy.deepcopy(net).to(self.device)
        self.z = torch.from_numpy(z.astype(np.float32)).to(self.device)
        grid = coords(size, spec.inputs, spec.scale).astype(np.float32)  # (H, W, n)
        self.grid = torch.from_numpy(grid.reshape(-1, grid.shape[-1])).to(self.device)
        self.size, self.channels = size, spec.out_channels
        key = (*size, spec.out_channels)
        if key not in self.textures:
            self.textures[key] = self.ctx.texture(size, spec.out_channels, dtype="f4")
        self.tex = self.textures[key]
        self.eval_s: list[float] = []
        self.upload_s: list[float] = []
        self.out = self.evaluate()
        return None  # nothing to compile

    def evaluate(self) -> torch.Tensor:
        n = self.grid.shape[0]
        out = torch.empty(n, self.channels, device=self.device)
        with torch.no_grad():
            for i in range(0, n, self.chunk):
                out[i:i + self.chunk] = self.net(self.grid[i:i + self.chunk], self.z)
        return out.cpu()  # to the host for the upload (waits for a GPU)

    def frame(self, size: tuple[int, int]) -> None:
        t0 = time.perf_counter()
        self.out = self.evaluate()
        t1 = time.perf_counter()
        # Rows top first; a display would flip v when it draws: no copy is charged for that.
        self.tex.write(self.out.numpy())
        self.ctx.finish()
        t2 = time.perf_counter()
        self.eval_s.append(t1 - t0)
        self.upload_s.append(t2 - t1)

    def image(self, size: tuple[int, int]) -> np.ndarray:
        w, h = size
        return self.out.numpy().reshape(h, w, self.channels)


# --- the run ----------------------------------------------------------------------------------


def networks(args: argparse.Namespace) -> list[tuple[str, CPPN]]:
    if args.nets:
        points = [tuple(int(v) for v in item.lower().split("x")) for item in args.nets.split(",")]
    else:
        points = [(32, 4), *(QUICK_SWEEP if args.quick else SWEEP)]
    nets = []
    for w, d in dict.fromkeys(points):  # CPPN() defaults are width 32, depth 4
        if (w, d) == (32, 4):
            nets.append(("default W32 D4", CPPN()))
        else:
            nets.append((f"W{w} D{d}", CPPN(width=w, depth=d, seed=1)))
    return nets


def run(args: argparse.Namespace) -> dict:
    ctx = create_headless_context()
    renderer_name = ctx.info.get("GL_RENDERER", "?")
    print(f"GL_RENDERER: {renderer_name} | GL {ctx.version_code} | {platform.processor() or ''}"
          f" {os.cpu_count()} CPUs | torch threads {torch.get_num_threads()} | "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    peak = matmul_peak()
    print(f"float32 peak (numpy 4096x4096 matmul): {peak:.1f} GFLOP/s (measured again at the end;"
          " fractions use the higher)", flush=True)
    gpu_peak = cuda_peak()
    gl_on_gpu = "llvmpipe" not in renderer_name.lower() and gpu_peak is not None
    if gpu_peak is not None:
        print(f"GPU float32 peak (torch 8192^3 matmul, TF32 off, {torch.cuda.get_device_name()}):"
              f" {gpu_peak:.1f} GFLOP/s; GL paths {'use it' if gl_on_gpu else 'run elsewhere'}",
              flush=True)

    def peak_of(path_name: str, cpu_peak: float) -> float:
        """The peak of the device a path runs on: GL on the GPU (unless llvmpipe), torch where
        it was put."""
        on_gpu = path_name == "torch-cuda+upload" or (
            gl_on_gpu and not path_name.startswith("torch-") and not path_name.endswith("-cpu"))
        return gpu_peak if on_gpu else cpu_peak

    paths: list = [LivePath(ctx),
                   UniformPath(ctx, "compute", "texture"),
                   UniformPath(ctx, "fragment", "texture"),
                   UniformPath(ctx, "fragment", "ubo"),
                   TorchPath(ctx),
                   *([TorchPath(ctx, "cuda")] if gpu_peak is not None else []),
                   BakedPath(ctx, "fragment"),
                   BakedPath(ctx, "compute")]
    if args.latent_uniform:
        paths += [BakedPath(ctx, "fragment", "uniform"), BakedPath(ctx, "compute", "uniform")]
    if args.specialized:
        paths += [SpecializedPath(ctx, "compute"), SpecializedPath(ctx, "fragment")]
    if ctx.version_code < 430:
        paths = [p for p in paths if "compute" not in p.name]
    if not args.ubo:
        paths = [p for p in paths if not p.name.endswith("-ubo")]
    skip = set(args.skip.split(",")) if args.skip else set()
    paths = [p for p in paths if p.name not in skip]
    sizes = ["512x512", "1920x1080"] + (["3840x2160"] if args.big else [])
    if args.sizes:
        sizes = args.sizes.split(",")
    results: list[Result] = []
    z = np.random.default_rng(0).standard_normal(8)
    for net_name, net in networks(args):
        spec = to_spec(net)
        zn = z[: spec.z_dim]
        for size_name in sizes:
            if (args.quick and not args.sizes and size_name != "512x512"
                    and net_name != "default W32 D4"):
                continue  # --quick: the sweep at 512x512 only
            size = SIZES[size_name]
            ref = Reference(net, spec, zn, size)
            print(f"\n{net_name} ({spec.macs_per_pixel} MACs/pixel) at {size_name}", flush=True)
            for p in paths:
                if not p.fits(spec):
                    continue
                if isinstance(p, TorchPath):
                    compile_s = p.prepare(spec, zn, size, net)
                else:
                    compile_s = p.prepare(spec, zn, size)
                sec, frames, best = steady(lambda p=p, size=size: p.frame(size), args.seconds,
                                           args.min_frames)
                err = ref.error(p.image(size))
                gflops = 2 * spec.macs_per_pixel * size[0] * size[1] / sec / 1e9
                extra = {}
                if isinstance(p, TorchPath):
                    extra = {"torch_ms": 1e3 * statistics.median(p.eval_s),
                             "upload_ms": 1e3 * statistics.median(p.upload_s)}
                if isinstance(p, BakedPath):
                    extra = dict(p.extra)
                # Other processes on a shared machine slow every path: keep the evidence.
                extra.update(min_ms=1e3 * best, load_average=os.getloadavg()[0],
                             error_limit=ref.limit)
                r = Result(net_name, size_name, p.name, 1e3 * sec, 1 / sec, gflops,
                           gflops / peak_of(p.name, peak), frames, compile_s, err, extra)
                results.append(r)
                print(_line(r), flush=True)
            _print_ratios([r for r in results if r.network == net_name and r.size == size_name])
    peak_end = matmul_peak()
    print(f"\nfloat32 peak at the end: {peak_end:.1f} GFLOP/s", flush=True)
    if peak_end > peak:  # other processes slowed the first measurement: rescale the fractions
        for r in results:
            r.peak_fraction = r.gflops / peak_of(r.path, peak_end)
        peak = peak_end
    summary = {
        "gl_renderer": renderer_name,
        "gl_version": ctx.version_code,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "matmul_peak_gflops": peak,
        "gpu_peak_gflops": gpu_peak,
        "gpu": torch.cuda.get_device_name() if gpu_peak is not None else None,
        "load_average_end": os.getloadavg(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "shader_cache": "disabled (MESA_SHADER_CACHE_DISABLE=true, __GL_SHADER_DISK_CACHE=0)",
        "results": [asdict(r) for r in results],
    }
    return summary


def _line(r: Result) -> str:
    comp = f"{r.compile_s:7.2f}s" if r.compile_s is not None else "      -"
    flag = _wrong(r)
    more = "".join(f" {k}={v:.1f}" for k, v in r.extra.items()
                   if k.endswith("_ms") and k != "min_ms")
    return (f"  {r.path:26s} {r.ms:9.1f} ms {r.fps:8.2f} fps {r.gflops:7.1f} GFLOP/s "
            f"{100 * r.peak_fraction:5.1f}% peak  compile {comp}  err {r.max_err:.1e}{flag}{more}")


def _ratios(group: list[Result]) -> dict[str, dict[str, float]]:
    # The seed's way at its best: torch on the GPU where one exists, else on the CPU.
    torch_r = max((r for r in group if r.path.startswith("torch-")), key=lambda r: r.fps,
                  default=None)
    # The prior exporters' way at its best: the faster of the baked fragment and compute programs.
    baked = max((r for r in group if r.path.startswith("baked-")), key=lambda r: r.fps,
                default=None)
    out = {}
    for r in group:
        if r.path.startswith(("uniform-", "live-")):
            out[r.path] = {"vs_torch": r.fps / torch_r.fps if torch_r else float("nan"),
                           "vs_baked": r.fps / baked.fps if baked else float("nan")}
    return out


def _print_ratios(group: list[Result]) -> None:
    for path, rs in _ratios(group).items():
        print(f"  ratio {path:26s} {rs['vs_torch']:5.2f}x torch   {rs['vs_baked']:5.2f}x baked"
              "   (fps ratio; > 1 means (a) is faster)")


def markdown(summary: dict) -> str:
    lines = [
        f"GL_RENDERER: {summary['gl_renderer']}; {summary['cpus']} CPUs; float32 peak "
        f"(numpy 4096^2 matmul) {summary['matmul_peak_gflops']:.0f} GFLOP/s; "
        + (f"GPU {summary['gpu']} float32 peak (torch matmul, TF32 off) "
           f"{summary['gpu_peak_gflops']:.0f} GFLOP/s; " if summary.get("gpu_peak_gflops") else "")
        + f"{summary['date_utc']} UTC; {summary['shader_cache']}",
        "",
        "| network | size | path | ms/frame | fps | GFLOP/s | % peak | cold compile s | max err |"
        " vs torch | vs baked |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [Result(**r) for r in summary["results"]]
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in rows:
        groups.setdefault((r.network, r.size), []).append(r)
    for group in groups.values():
        ratios = _ratios(group)
        for r in group:
            rs = ratios.get(r.path)
            comp = f"{r.compile_s:.2f}" if r.compile_s is not None else ""
            path = r.path
            if "torch_ms" in r.extra:
                path += f" ({r.extra['torch_ms']:.0f} + {r.extra['upload_ms']:.1f} ms)"
            lines.append(
                f"| {r.network} | {r.size} | {path} | {r.ms:.1f} | {r.fps:.2f} | {r.gflops:.1f} |"
                f" {100 * r.peak_fraction:.1f} | {comp} | {r.max_err:.1e}{_wrong(r)} |"
                f" {_fmt(rs, 'vs_torch')} | {_fmt(rs, 'vs_baked')} |"
            )
    return "\n".join(lines) + "\n"


def _wrong(r: Result) -> str:
    return "" if r.max_err <= r.extra.get("error_limit", ERROR_LIMIT) else " WRONG"


def _fmt(rs: dict | None, key: str) -> str:
    return f"{rs[key]:.2f}x" if rs else ""


def write(summary: dict, out: str) -> None:
    base = Path(out)
    if base.suffix in (".json", ".md"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    base.with_suffix(".md").write_text(markdown(summary))
    print(f"\nwrote {base.with_suffix('.json')} and {base.with_suffix('.md')}")


# --- issue 8 item 2: can a baked program be compiled without stalling frames? ----------------


def _build(ctx, src: str, path: str):
    return link(ctx, src, compute=path != "fragment")


def _first_draw(ctx, prog, path: str, size: tuple[int, int]) -> None:
    """One draw into an rgba32f target, as the renderer would: llvmpipe JITs at this point."""
    first_draw(ctx, prog, ctx.texture(size, 4, dtype="f4"), compute=path != "fragment")


def _compile(ctx, src: str, path: str, size: tuple[int, int]) -> dict[str, float]:
    """Seconds to create the program (GLSL front end, link) and for its first draw (JIT)."""
    t0 = time.perf_counter()
    prog = _build(ctx, src, path)
    t1 = time.perf_counter()
    _first_draw(ctx, prog, path, size)
    return {"link_s": t1 - t0, "first_draw_s": time.perf_counter() - t1}


def _count_rate(seconds: float) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += 1
    return n / seconds


def compile_study(args: argparse.Namespace) -> dict:
    """Cold compile cost of baked programs, whether moderngl releases the GIL while compiling,
    and whether a compile elsewhere (a thread's own EGL context, another process) warms Mesa's
    shader cache so that the main context's compile of the same source becomes cheap."""
    ctx = create_headless_context()
    out: dict = {"gl_renderer": ctx.info.get("GL_RENDERER", "?"),
                 "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                 "shader_cache": os.environ["MESA_SHADER_CACHE_DIR"]}
    print(f"GL_RENDERER: {out['gl_renderer']} | shader cache {out['shader_cache']} (empty)")
    spec = to_spec(CPPN())
    size = SIZES["512x512"]
    # What a reseed would compile in the background: a new seed's weights as constants, the
    # z-folded first bias left a uniform so a morph needs no program (bake latent="uniform").
    sources = {path: [bake.source(to_spec(CPPN(seed=k)), path=path, latent="uniform")
                      for k in range(1, 5)] for path in ("fragment", "compute")}

    live = UniformPath(ctx, "compute" if ctx.version_code >= 430 else "fragment", "texture")
    live.prepare(spec, np.zeros(8), size)
    frame_s, _, _ = steady(lambda: live.frame(size), 1.0, 3)
    out["live_frame_ms"] = 1e3 * frame_s
    print(f"live uniform frame ({live.name}, W32 D4, 512x512): {1e3 * frame_s:.1f} ms")

    # 1. Cold compile of a baked program in the main thread.
    for path in ("fragment", "compute"):
        r = out[f"cold_{path}"] = _compile(ctx, sources[path][0], path, size)
        print(f"cold baked {path}: create {r['link_s']:.2f} s + first draw {r['first_draw_s']:.2f}"
              f" s = {(r['link_s'] + r['first_draw_s']) / frame_s:.0f} live frames")
        r = out[f"again_{path}"] = _compile(ctx, sources[path][0], path, size)
        print(f"  same source again, same context: {r['link_s'] + r['first_draw_s']:.3f} s")

    # 2. The GIL: a worker thread with its own context compiles; the main thread counts.
    base = _count_rate(0.5)
    phase = {"now": "start"}
    timing: dict[str, float] = {}

    def worker() -> None:
        wctx = create_headless_context()
        phase["now"] = "link"
        t0 = time.perf_counter()
        prog = _build(wctx, sources["fragment"][1], "fragment")
        phase["now"] = "draw"
        t1 = time.perf_counter()
        _first_draw(wctx, prog, "fragment", size)
        timing.update(link_s=t1 - t0, first_draw_s=time.perf_counter() - t1)
        phase["now"] = "done"

    counts = {"start": 0, "link": 0, "draw": 0}
    spent = {"start": 0.0, "link": 0.0, "draw": 0.0}
    th = threading.Thread(target=worker)
    th.start()
    last = time.perf_counter()
    while phase["now"] != "done":
        now_phase = phase["now"]
        counts[now_phase] = counts.get(now_phase, 0) + 1
        t = time.perf_counter()
        spent[now_phase] = spent.get(now_phase, 0.0) + t - last
        last = t
    th.join()
    gil = {k: (counts[k] / spent[k] / base if spent[k] > 0 else float("nan"))
           for k in ("link", "draw")}
    out["thread_compile"] = {**timing, "main_loop_rate_vs_idle": gil}
    print(f"worker-thread compile: create {timing['link_s']:.2f} s, first draw "
          f"{timing['first_draw_s']:.2f} s; the main thread ran at {100 * gil['link']:.1f}% / "
          f"{100 * gil['draw']:.1f}% of its idle loop rate meanwhile (100% = GIL released)")
    r = out["main_after_thread"] = _compile(ctx, sources["fragment"][1], "fragment", size)
    print(f"  main context, same source after the thread's context compiled it: "
          f"{r['link_s']:.3f} + {r['first_draw_s']:.3f} s")

    # 3. Another process compiles (same cache dir) while the main loop keeps rendering frames.
    for path in ("fragment", "compute"):
        src_file = Path(os.environ["MESA_SHADER_CACHE_DIR"]) / f"pending.{path}"
        src_file.write_text(sources[path][2])
        t0 = time.perf_counter()
        child = subprocess.Popen([sys.executable, __file__, "--compile-child", str(src_file),
                                  "--child-path", path], stdout=subprocess.PIPE, text=True)
        frames = []
        while child.poll() is None:
            frames.append(_timed(lambda: live.frame(size)))
        child_s = time.perf_counter() - t0
        own = json.loads(child.stdout.read() or "{}")  # the child's compile, without its start-up
        r = _compile(ctx, sources[path][2], path, size)
        out[f"process_{path}"] = {
            "child_s": child_s, "child_rc": child.returncode, "child_compile": own,
            "frames_during": len(frames),
            "frame_ms_median": 1e3 * statistics.median(frames) if frames else None,
            "frame_ms_max": 1e3 * max(frames) if frames else None,
            "main_after": r}
        print(f"{path} compiled in a child process: {child_s:.2f} s with start-up, "
              f"{own.get('link_s', 0) + own.get('first_draw_s', 0):.2f} s compiling "
              f"(rc {child.returncode}); "
              f"meanwhile {len(frames)} live frames, median "
              f"{out[f'process_{path}']['frame_ms_median'] or 0:.1f} ms, max "
              f"{out[f'process_{path}']['frame_ms_max'] or 0:.1f} ms; then the main context: "
              f"create {r['link_s']:.3f} s + first draw {r['first_draw_s']:.3f} s")
    out["pipeline"] = reseed_pipeline(ctx, live, size)
    return out


def reseed_pipeline(ctx, live: UniformPath, size: tuple[int, int], frames: int = 60) -> dict:
    """The whole idea, end to end: a reseed shows at once through the uniform path while a
    persistent compile process builds the baked program (z left a uniform); the main context then
    compiles the same source (a shader-cache hit) and switches. z morphs on every frame."""
    server = subprocess.Popen([sys.executable, __file__, "--compile-server"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"  # started once, before any reseed
    spec = to_spec(CPPN(seed=7))
    src = bake.source(spec, path="fragment", latent="uniform")
    src_file = Path(os.environ["MESA_SHADER_CACHE_DIR"]) / "reseed.frag"
    src_file.write_text(src)
    baked = BakedPath(ctx, "fragment", latent="uniform")

    def z_at(i: int) -> np.ndarray:
        return np.cos(np.arange(8) + 0.05 * i)

    timeline: list[tuple[str, float]] = []
    t_reseed = time.perf_counter()
    live.renderer.set_network(spec, z_at(0))  # the reseed: a weight upload, shown next frame
    server.stdin.write(f"{src_file} fragment\n")
    server.stdin.flush()
    ready, switch = False, {}
    for i in range(frames):
        t0 = time.perf_counter()
        if not ready and select.select([server.stdout], [], [], 0)[0]:
            server.stdout.readline()
            # Same source as the server compiled: Mesa's cache turns this into a load.
            t1 = time.perf_counter()
            baked.prepare(spec, z_at(i), size)
            switch = {"frame": i, "after_reseed_s": t1 - t_reseed,
                      "main_compile_s": time.perf_counter() - t1}
            # The switch must not jump: the same frame from both programs.
            live.renderer.set_latent(z_at(i))
            diff = np.abs(baked.image(size) - live.image(size)).max()
            switch["max_abs_diff_uniform_vs_baked"] = float(diff)
            ready = True
        if ready:
            baked.z = z_at(i)
            baked.frame(size)
        else:
            live.renderer.set_latent(z_at(i))
            live.frame(size)
        timeline.append(("baked" if ready else "uniform", time.perf_counter() - t0))
    server.stdin.close()
    server.wait()
    phases = {k: [1e3 * t for name, t in timeline if name == k] for k in ("uniform", "baked")}
    res = {"switch": switch, "first_frame_ms": 1e3 * timeline[0][1],
           **{f"{k}_ms_median": statistics.median(v) for k, v in phases.items() if v},
           **{f"{k}_ms_max": max(v) for k, v in phases.items() if v}}
    print(f"reseed pipeline ({frames} frames, z moving every frame): first frame after the "
          f"reseed {res['first_frame_ms']:.0f} ms; uniform frames while the server compiled "
          f"median {res.get('uniform_ms_median', 0):.0f} ms; switched at frame "
          f"{switch.get('frame')} ({switch.get('after_reseed_s', 0):.2f} s after the reseed; "
          f"main-context compile {1e3 * switch.get('main_compile_s', 0):.0f} ms incl. one "
          f"frame); baked frames median {res.get('baked_ms_median', 0):.0f} ms; uniform vs baked "
          f"max |diff| {switch.get('max_abs_diff_uniform_vs_baked', float('nan')):.1e}")
    return res


def compile_server() -> int:
    """--compile-server: one process for the session; each stdin line 'SOURCE_FILE PATH' is
    compiled and JIT-ed here (filling the shader cache), then answered with a JSON line."""
    ctx = create_headless_context()
    print("ready", flush=True)
    for line in sys.stdin:
        src_file, path = line.split()
        print(json.dumps(_compile(ctx, Path(src_file).read_text(), path, (64, 64))), flush=True)
    return 0


def compile_child(src_file: str, path: str) -> int:
    """--compile-child: compile and JIT one program in this process, filling the shader cache."""
    ctx = create_headless_context()
    print(json.dumps(_compile(ctx, Path(src_file).read_text(), path, (64, 64))))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="the default network at both sizes, three sweep points at 512x512 only")
    p.add_argument("--big", action="store_true", help="also 3840x2160")
    p.add_argument("--sizes", help=f"comma-separated, instead of the defaults: {', '.join(SIZES)}")
    p.add_argument("--nets", help="comma-separated WIDTHxDEPTH points instead of the sweep, "
                   "e.g. 32x4,64x12 (32x4 is the default network)")
    p.add_argument("--ubo", action="store_true",
                   help="also weights in a uniform block where they fit (llvmpipe: a W32 D4 "
                   "program takes over a minute to compile)")
    p.add_argument("--skip", help="comma-separated path names to leave out, e.g. baked-compute "
                   "(llvmpipe needs minutes to compile it for W64 D8 and up)")
    p.add_argument("--specialized", action="store_true",
                   help="also the live renderer with specialize='sync' (its baked fast path)")
    p.add_argument("--latent-uniform", action="store_true",
                   help="also baked programs whose z-folded first bias stays a uniform")
    p.add_argument("--seconds", type=float, default=None,
                   help="minimum steady-state time per measurement (default 1, --quick 0.5)")
    p.add_argument("--min-frames", type=int, default=None,
                   help="minimum steady-state frames per measurement (default 3, --quick 2)")
    p.add_argument("--compile-study", action="store_true",
                   help="measure background compilation of baked programs instead (issue 8)")
    p.add_argument("--out", help="write PATH.json and PATH.md summaries")
    p.add_argument("--compile-child", help=argparse.SUPPRESS)
    p.add_argument("--child-path", help=argparse.SUPPRESS)
    p.add_argument("--compile-server", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.compile_child:
        return compile_child(args.compile_child, args.child_path)
    if args.compile_server:
        return compile_server()
    if args.seconds is None:
        args.seconds = 0.5 if args.quick else 1.0
    if args.min_frames is None:
        args.min_frames = 2 if args.quick else 3
    if args.compile_study:
        # A private, empty cache: the study measures how it fills and who hits it.
        os.environ.pop("MESA_SHADER_CACHE_DISABLE", None)
        os.environ["MESA_SHADER_CACHE_DIR"] = tempfile.mkdtemp(prefix="cppn-mesa-cache-")
    else:
        # Cold compiles: Mesa and NVIDIA read these when the first GL context is created, below.
        os.environ["MESA_SHADER_CACHE_DISABLE"] = "true"
        os.environ["__GL_SHADER_DISK_CACHE"] = "0"
    if args.compile_study:
        try:
            summary = compile_study(args)
        finally:
            shutil.rmtree(os.environ["MESA_SHADER_CACHE_DIR"], ignore_errors=True)
    else:
        summary = run(args)
    if args.out and args.compile_study:
        Path(args.out).with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    elif args.out:
        write(summary, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
