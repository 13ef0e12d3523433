#!/usr/bin/env python3
"""What real GPU compilers make of the programs the renderer compiles, without a GPU.

For each network of the width x depth sweep (W16/W32/W64 x D4/D8/D12, seed 0) and each program
in PROGRAMS, this generates exactly the source the renderer compiles on a GPU (``glsl.source``
with the weight storage the renderer picks there: the uniform block where the network fits one,
else what ``Renderer.storage_for`` chooses), compiles it with ``shader-stats`` (AMD's production
compiler, Mesa RADV/ACO on a null device: see ../shared/tools/shader-stats/README.md) and prints,
side by side per network: vector registers, spilled registers, scratch bytes, waves per SIMD,
vector instructions per pixel, useful multiply-adds per pixel and their share of those
instructions, and the compile time.

    python3 benchmarks/bench_shaders.py                       # navi21 (RDNA2), the full sweep
    python3 benchmarks/bench_shaders.py --family navi21,vega10 --nets 32x4,64x4 --json out.json

Reading the figures:
- ``instr/px`` is vector (VALU) instructions divided by the pixels one invocation evaluates
  (the four-pixel compute program: 4). Scalar instructions run once per wave (32-64 pixels) and
  are left out of it; ``all/px`` counts every instruction. Both are static counts: where the
  compiler kept a loop (``loops`` > 0) they undercount the work and the share is an upper bound.
- ``MAC share`` = useful MACs per pixel (``NetworkSpec.macs_per_pixel``: the sum over layers of
  in x out weights, z folded on the host) / ``instr/px``: 100% would be one FMA per weight and
  nothing else.
- ``compile s`` is the whole shader-stats run (GLSL -> SPIR-V with glslang, then ACO).

A new program design is one line in PROGRAMS: a label and a function of (spec, storage) giving
(source, shader kind "frag"|"comp", pixels per invocation).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from realtime_cppn import CPPN, to_spec
from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.safeio import write_atomic
from realtime_cppn.core.spec import NetworkSpec
from realtime_cppn.rendering import driver
from realtime_cppn.rendering.codegen import glsl

REPO = Path(__file__).resolve().parent.parent
SWEEP = [(w, d) for w in (16, 32, 64) for d in (4, 8, 12)]
# GL_MAX_UNIFORM_BLOCK_SIZE on NVIDIA and AMD desktop drivers (GL's own minimum is 16 KiB).
TOOL_DEFAULT = REPO.parent / "shared" / "tools" / "shader-stats" / "shader-stats"

Source = Callable[[NetworkSpec, str], tuple[str, str, int]]


def _has_pixels() -> bool:
    return "pixels" in inspect.signature(glsl.source).parameters


# The GPU the programs are generated for: a desktop driver as DriverProfile reads one.
GPU = driver.DESKTOP_GPU
GPU_MAX_UBO = GPU.max_ubo


def gpu_source(spec: NetworkSpec, path: str, pixels: int = 1) -> str:
    """The program the renderer compiles for ``spec`` on GPU (its storage, blocks and loop)."""
    return driver.program_source(GPU, spec, path, pixels=pixels)[0]


def _programs() -> list[tuple[str, Source]]:
    """(label, source function) for every design to compare: the one-pixel runtime program as
    a fragment and as a compute shader, and four pixels per invocation from the same emitter
    (the older design; the before table has the older emitter's)."""
    return [
        ("fragment 1px", lambda s, st: (gpu_source(s, "fragment"), "frag", 1)),
        ("compute 1px", lambda s, st: (gpu_source(s, "compute"), "comp", 1)),
        ("compute 4px", lambda s, st: (gpu_source(s, "compute", pixels=4), "comp", 4)),
    ]


PROGRAMS = _programs()


def gpu_storage(spec: NetworkSpec, path: str = "compute") -> str:
    """The weight storage the renderer picks for ``spec`` on GPU (DriverProfile.storage)."""
    return GPU.storage(glsl.layout(spec).size, path)


def vulkan_bindings(source: str) -> str:
    """Give a network's several uniform blocks bindings of their own (shader-stats binds only
    one ``Weights`` block), and integer vector uniforms (the compute program's band offset,
    which shader-stats' translation leaves loose) a block of their own; the rest is left to
    shader-stats."""
    source = re.sub(r"^uniform (ivec[234]) (\w+);",
                    lambda m: f"layout(std140, set=0, binding=7) uniform Int_{m[2]} {{ {m[1]} {m[2]}; }};",
                    source, flags=re.M)
    return re.sub(r"layout\(std140\) uniform Weights(\d+)",
                  lambda m: f"layout(std140, set=0, binding={8 + int(m[1])}) uniform Weights{m[1]}",
                  source)


@dataclass
class Row:
    net: str
    program: str
    family: str
    storage: str
    pixels: int  # per invocation
    vgpr: int | None = None
    spilled_vgpr: int | None = None
    scratch: int | None = None
    waves: int | None = None
    instructions: int | None = None  # all, static
    valu: int | None = None
    fma: int | None = None
    smem: int | None = None
    vmem: int | None = None
    loops: int | None = None  # backward branches left in the ISA
    macs_per_pixel: int = 0
    compile_s: float = 0.0
    error: str = ""

    @property
    def instr_px(self) -> float | None:
        return None if self.valu is None else self.valu / self.pixels

    @property
    def all_px(self) -> float | None:
        return None if self.instructions is None else self.instructions / self.pixels

    @property
    def mac_share(self) -> float | None:
        return None if not self.valu else self.macs_per_pixel / (self.valu / self.pixels)


_LINE = re.compile(r"(\w[\w/]*)=(\d+)")
_MIX = re.compile(r"(valu|fma-type|smem-loads|vmem) (\d+)")


def _loops(isa: Path) -> int:
    """Backward branches in the final assembly: loops the compiler did not unroll."""
    try:
        text = isa.read_text(errors="replace")
    except OSError:
        return -1
    asm = text.split("==== Assembly", 1)[-1]
    seen: set[str] = set()
    back = 0
    for line in asm.splitlines():
        s = line.strip()
        if re.match(r"^BB\d+:$", s):
            seen.add(s[:-1])
            continue
        m = re.match(r"s_(?:c?branch)\w*\s+(BB\d+)", s)
        if m and m.group(1) in seen:
            back += 1
    return back


def measure(tool: Path, workdir: Path, family: str, name: str, source: str, kind: str,
            timeout: float = 1800) -> dict:
    """Compile one shader with shader-stats; its figures as a dict, or {'error': line}."""
    path = workdir / f"{name}.{kind}"
    path.write_text(vulkan_bindings(source), encoding="utf-8")
    env = {**os.environ, "SHADER_STATS_DIR": str(workdir)}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([str(tool), family, str(path)], capture_output=True, text=True,
                              env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"no result in {timeout:.0f} s", "compile_s": time.perf_counter() - t0}
    elapsed = time.perf_counter() - t0
    out = proc.stdout.strip()
    if proc.returncode != 0 or "VGPR=" not in out:
        return {"error": (out or proc.stderr.strip()).replace("\n", " ")[:200],
                "compile_s": elapsed}
    fields = dict(_LINE.findall(out.split("|")[0]))
    mix = dict(_MIX.findall(out.split("|", 1)[-1]))

    def num(d: dict, k: str) -> int | None:
        v = d.get(k, "")
        return int(v) if v.isdigit() else None

    return {
        "vgpr": num(fields, "VGPR"), "spilled_vgpr": num(fields, "spilledVGPR"),
        "scratch": num(fields, "scratch"), "waves": num(fields, "waves/SIMD"),
        "instructions": num(fields, "instructions"), "valu": num(mix, "valu"),
        "fma": num(mix, "fma-type"), "smem": num(mix, "smem-loads"), "vmem": num(mix, "vmem"),
        "loops": _loops(workdir / f"{path.name}.{family}.isa"), "compile_s": elapsed,
    }


def network(width: int, depth: int) -> NetworkSpec:
    return to_spec(CPPN(width=width, depth=depth, seed=0))


def _fmt(v, spec: str = "") -> str:
    if v is None:
        return ""
    return format(v, spec) if spec else str(v)


HEADER = ("| network | program | family | storage | VGPR | spilled | scratch B | waves/SIMD | "
          "instr/px | all/px | FMA/px | MACs/px | MAC share | loops | compile s |")


def table(rows: list[Row]) -> str:
    lines = [HEADER, "|" + "---|" * 4 + "---:|" * 11]
    for r in rows:
        if r.error:
            lines.append(f"| {r.net} | {r.program} | {r.family} | {r.storage} | "
                         f"failed: {r.error} |" + " |" * 10)
            continue
        fma_px = None if r.fma is None else r.fma / r.pixels
        share = None if r.mac_share is None else 100 * r.mac_share
        lines.append(
            f"| {r.net} | {r.program} | {r.family} | {r.storage} | {_fmt(r.vgpr)} | "
            f"{_fmt(r.spilled_vgpr)} | {_fmt(r.scratch)} | {_fmt(r.waves)} | "
            f"{_fmt(r.instr_px, ',.0f')} | {_fmt(r.all_px, ',.0f')} | {_fmt(fma_px, ',.0f')} | "
            f"{r.macs_per_pixel:,} | {_fmt(share, '.1f')}% | {_fmt(r.loops)} | "
            f"{r.compile_s:.1f} |"
        )
    return "\n".join(lines)


def save(path: Path, rows: list[Row]) -> None:
    payload = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "gpu_max_ubo": GPU_MAX_UBO,
        "rows": [{**asdict(r), "instr_px": r.instr_px, "all_px": r.all_px,
                  "mac_share": r.mac_share} for r in rows],
    }
    write_atomic(path, json.dumps(payload, indent=1) + "\n")


def _nets(text: str) -> list[tuple[int, int]]:
    try:
        return [tuple(int(v) for v in item.lower().split("x")) for item in text.split(",")]
    except ValueError:
        raise CPPNError(f"--nets wants WxD,WxD... (e.g. 32x4,64x4), got {text!r}") from None


def _tool(given: str | None) -> Path:
    for cand in (given, os.environ.get("SHADER_STATS"), shutil.which("shader-stats"),
                 str(TOOL_DEFAULT)):
        if cand and Path(cand).is_file():
            return Path(cand)
    raise CPPNError("shader-stats not found: pass --tool or set SHADER_STATS "
                    f"(it lives in {TOOL_DEFAULT.parent}; see its README to install)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", default="navi21",
                    help="comma list of shader-stats families: navi21 (RDNA2), vega10 (GCN5)")
    ap.add_argument("--nets", type=_nets, default=SWEEP, help="WxD,... (default: the 3x3 sweep)")
    ap.add_argument("--programs", help="comma list of program labels to keep (default: all)")
    ap.add_argument("--tool", help="the shader-stats script (default: ../shared/tools/...)")
    ap.add_argument("--keep", type=Path, help="keep sources, SPIR-V and ISA in this folder")
    ap.add_argument("--json", type=Path,
                    help="also write every figure to this JSON file (rewritten after each one)")
    ap.add_argument("--timeout", type=float, default=1800,
                    help="seconds one compile may take (ACO takes ~12 min for W64 D8's "
                         "four-pixel program on a loaded 2-core machine)")
    args = ap.parse_args(argv)
    tool = _tool(args.tool)
    programs = PROGRAMS
    if args.programs:
        keep = {p.strip() for p in args.programs.split(",")}
        programs = [p for p in PROGRAMS if p[0] in keep]
        if not programs:
            raise CPPNError(f"--programs names none of: {', '.join(p[0] for p in PROGRAMS)}")
    families = [f.strip() for f in args.family.split(",") if f.strip()]
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-shaders-"))
    workdir.mkdir(parents=True, exist_ok=True)
    # The tool builds its Vulkan helper on first use: do that before any compile is timed.
    measure(tool, workdir, families[0], "warmup",
            "#version 430\nlayout(local_size_x = 1) in;\nvoid main() {}\n", "comp")
    print(f"shader-stats: {tool}; programs: {', '.join(p[0] for p in programs)}; "
          f"glsl.source takes pixels: {_has_pixels()}", flush=True)
    rows: list[Row] = []
    for width, depth in args.nets:
        spec = network(width, depth)
        storage = gpu_storage(spec)
        blocks = glsl.blocks_for(glsl.layout(spec).size, GPU.block(glsl.layout(spec).size, storage))
        if blocks > 1:
            storage = f"ubo x{blocks}"
        net = f"W{width} D{depth}"
        for label, fn in programs:
            source, kind, pixels = fn(spec, storage)
            for fam in families:
                name = f"w{width}d{depth}-{re.sub(r'[^a-z0-9]+', '', label.lower())}"
                figures = measure(tool, workdir, fam, name, source, kind, args.timeout)
                row = Row(net, label, fam, storage, pixels, macs_per_pixel=spec.macs_per_pixel,
                          **figures)
                rows.append(row)
                if args.json:
                    save(args.json, rows)
                print(f"  {net} {label} {fam}: VGPR {row.vgpr} spilled {row.spilled_vgpr} "
                      f"instr/px {_fmt(row.instr_px, '.0f')} {row.compile_s:.1f} s {row.error}",
                      flush=True)
    print()
    print(f"GLSL -> SPIR-V (glslang) -> ACO on a null device; {platform.node()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print()
    print(table(rows))
    if args.json:
        print(f"\nwrote {args.json}")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CPPNError as exc:
        print(f"bench_shaders: {exc}", file=sys.stderr)
        sys.exit(2)
