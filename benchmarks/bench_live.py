#!/usr/bin/env python3
"""The live loop's costs: the host's own work per frame, and how long the picture freezes.

1. Host work per frame (everything but the GPU draw): the clock tick, the reducer's time step,
   the latent path z(phase), and packing the first layer's bias with z folded in (the few texels
   uploaded every frame). Also the whole ``Live.update`` with its GL upload call, for reference.
   Target: well under 1 ms.
2. Freeze on change: a headless ``Live`` draws frames into an offscreen framebuffer at --size;
   an action is dispatched and the frame that shows it is timed (update + draw + glFinish). A
   reseed or morph must show on the next frame and compile nothing; a width / depth / activation
   change compiles once (Mesa's shader cache is disabled here, so compiles are cold). Reported as
   that frame's time next to a normal frame's: the figure to beat is one frame.

    python3 benchmarks/bench_live.py                  # default network, 640x360
    python3 benchmarks/bench_live.py --size 1920x1080 --width 32 --depth 8
"""

# ruff: noqa: E402  (the shader cache is switched off before anything can create a GL context)
from __future__ import annotations

import os

os.environ.setdefault("MESA_SHADER_CACHE_DISABLE", "true")

import argparse
import statistics
import time

import numpy as np

from realtime_cppn import actions, glsl
from realtime_cppn.actions import Action, initial_state
from realtime_cppn.animation import LatentPath
from realtime_cppn.app import Live
from realtime_cppn.clock import FixedClock
from realtime_cppn.renderer import Renderer
from realtime_cppn.scene import Scene
from realtime_cppn.spec import parse_size


def host_work(frames: int, network: dict) -> dict[str, float]:
    """Microseconds per frame of the host's per-frame work, without any GL call."""
    from realtime_cppn.build import scene_network

    scene = Scene(network=network, path_seed=1)
    spec = scene_network(scene)
    state = initial_state(scene)
    clock = FixedClock(60)
    path = LatentPath(1, spec.z_dim)
    parts = {"clock": [], "reducer": [], "latent": [], "pack": [], "total": []}
    for _ in range(frames):
        t0 = time.perf_counter_ns()
        t, dt = clock.tick()
        t1 = time.perf_counter_ns()
        state = actions.advance(state, t, dt)
        t2 = time.perf_counter_ns()
        z = path(state.scene.phase)
        t3 = time.perf_counter_ns()
        block = glsl.first_bias_block(spec, z)
        t4 = time.perf_counter_ns()
        block.tobytes()
        for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
            parts[k].append(v / 1000.0)
    return {k: statistics.median(v) for k, v in parts.items()} | {
        "total_p99": float(np.percentile(parts["total"], 99))}


def live_update(live: Live, frames: int) -> float:
    """Median microseconds of ``Live.update`` (host work plus the latent upload call)."""
    times = []
    for _ in range(frames):
        t0 = time.perf_counter_ns()
        live.update()
        times.append((time.perf_counter_ns() - t0) / 1000.0)
    return statistics.median(times)


def frame(live: Live, fbo, size) -> float:
    t0 = time.perf_counter()
    live.update()
    live.render(fbo, size)
    live.renderer.ctx.finish()
    return time.perf_counter() - t0


def freezes(live: Live, fbo, size, repeats: int) -> list[tuple[str, float, float, int]]:
    """(action, frame ms, normal frame ms, compiles) for each change."""
    r = live.renderer
    out = []
    plan = [
        ("reseed=<seed>", lambda i: Action("reseed", 1000 + i)),
        ("reseed (lively draw)", lambda i: Action("reseed")),
        ("morph (first frame)", lambda i: Action("morph", 2000 + i)),
        ("width_up", lambda i: Action("width_up")),
        ("width_down (cached)", lambda i: Action("width_down")),
        ("depth_up", lambda i: Action("depth_up")),
        ("depth_down (cached)", lambda i: Action("depth_down")),
        ("next_activation", lambda i: Action("next_activation")),
    ]
    for name, make in plan:
        frame_ms, normal_ms, compiles = [], [], []
        for i in range(repeats if "width" not in name and "depth" not in name else 1):
            normal_ms.append(min(frame(live, fbo, size) for _ in range(3)) * 1000)
            c0 = r.stats.compiles
            live.dispatch(make(i))
            frame_ms.append(frame(live, fbo, size) * 1000)
            compiles.append(r.stats.compiles - c0)
            for _ in range(40 if "morph" in name else 1):  # let a morph finish (1 s at 30 fps)
                frame(live, fbo, size)
        out.append((name, statistics.median(frame_ms), statistics.median(normal_ms),
                    max(compiles)))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="640x360")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--frames", type=int, default=5000, help="frames for the host-work timing")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--path", default="auto", choices=("auto", "compute", "fragment"))
    args = p.parse_args()
    size = parse_size(args.size)
    network = {"seed": 1, "width": args.width, "depth": args.depth}

    renderer = Renderer(path=args.path)
    print(f"GL_RENDERER: {renderer.gl_renderer}   path: {renderer.path}   size: {args.size}   "
          f"network: {args.width} x {args.depth}")

    h = host_work(args.frames, network)
    print("\nhost work per frame (median us): "
          + "  ".join(f"{k} {v:.1f}" for k, v in h.items() if k != "total_p99")
          + f"  (p99 total {h['total_p99']:.1f})")

    state = initial_state(Scene(network=network, path_seed=1))
    live = Live(renderer, state, clock=FixedClock(30))
    fbo = renderer.ctx.simple_framebuffer(size)
    for _ in range(3):
        frame(live, fbo, size)
    print(f"Live.update incl. the latent upload call (median us): {live_update(live, 500):.1f}")

    print(f"\nfreeze on change at {args.size} (frame that shows it vs a normal frame):")
    print(f"  {'action':<24}{'frame ms':>10}{'normal ms':>11}{'extra ms':>10}{'compiles':>10}")
    for name, f_ms, n_ms, c in freezes(live, fbo, size, args.repeats):
        print(f"  {name:<24}{f_ms:>10.2f}{n_ms:>11.2f}{f_ms - n_ms:>10.2f}{c:>10}")
    renderer.release()


if __name__ == "__main__":
    main()
