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
3. Building in the background (``--background``; each mode in a fresh process with an empty,
   enabled shader cache; the compute shader, as a GPU runs it): width_up with the new
   architecture compiled in place versus in a child process (``Renderer(background=True)``, the
   live window's default on shader paths), then 10 s more to catch
   the baked program's takeover. Reported: the key press frame, the longest frame, frames shown
   while building, seconds until the new network shows, and the render thread's takeover cost.

4. The first run (``--first-run``; needs a display: DISPLAY, e.g. an Xvfb): ``realtime-cppn``
   with no arguments but ``--trace-frames``, as a newcomer starts it, twice (an empty Mesa
   shader cache, then the same cache warm). Reported: seconds from the command to the window's
   "starting" frame and to the first frame of the network, the frame rate shown over the last
   ``--seconds`` (frames counted in the app's own trace) and the render scale it settled on,
   the machine's load average, and seconds from Ctrl+Q to the process's exit.

    python3 benchmarks/bench_live.py                  # default network, 640x360
    python3 benchmarks/bench_live.py --background     # adds part 3
    DISPLAY=:1 python3 benchmarks/bench_live.py --first-run --seconds 20   # part 4 only
    python3 benchmarks/bench_live.py --size 1920x1080 --width 32 --depth 8
"""

# ruff: noqa: E402  (the shader cache is switched off before anything can create a GL context)
from __future__ import annotations

import os

os.environ.setdefault("MESA_SHADER_CACHE_DISABLE", "true")
os.environ.setdefault("__GL_SHADER_DISK_CACHE", "0")  # NVIDIA's, likewise

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import suppress

import numpy as np

from realtime_cppn.core.animation import LatentPath
from realtime_cppn.core.scene import Scene
from realtime_cppn.core.spec import parse_size
from realtime_cppn.live.live import Live
from realtime_cppn.rendering.codegen import glsl
from realtime_cppn.rendering.renderer import Renderer
from realtime_cppn.show import actions
from realtime_cppn.show.actions import Action, initial_state
from realtime_cppn.show.clock import FixedClock


def host_work(frames: int, network: dict) -> dict[str, float]:
    """Microseconds per frame of the host's per-frame work, without any GL call."""
    from realtime_cppn.nn.build import scene_network

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


def building(size, network: dict, background: bool, action: str = "width_up",
             settle: float = 10.0) -> dict:
    """Part 3 in this process: frames around ``action`` with the given compile mode."""
    # The compute shader: the cpu path (auto on llvmpipe) has nothing to build.
    r = Renderer(path="compute", specialize="async", background=background)
    live = Live(r, initial_state(Scene(network=network, path_seed=1)), clock=FixedClock(30))
    fbo = r.ctx.simple_framebuffer(size)
    for _ in range(3):
        frame(live, fbo, size)
    live.dispatch(actions.parse(action))
    t0 = time.perf_counter()
    press = frame(live, fbo, size)
    times, waiting = [press], 0
    while live.building is not None:
        times.append(frame(live, fbo, size))
        waiting += 1
    shown_after = time.perf_counter() - t0
    end = time.perf_counter() + settle  # the baked program's takeover happens in here
    after = []
    while time.perf_counter() < end:
        after.append(frame(live, fbo, size))
    out = {"press_ms": press * 1000, "max_ms": max(times) * 1000, "frames_while_building": waiting,
           "shown_after_s": shown_after, "takeover_ms": r.stats.last_takeover_s * 1000,
           "max_after_ms": max(after) * 1000, "median_ms": statistics.median(after) * 1000,
           "baked": r.stats.special_compiles}
    r.release()
    return out


def _fresh_cache_env() -> dict[str, str]:
    """The environment of a child with an empty, enabled shader cache (Mesa's and NVIDIA's)."""
    folder = tempfile.mkdtemp(prefix="bench-live-")
    return {**os.environ, "MESA_SHADER_CACHE_DISABLE": "false", "MESA_SHADER_CACHE_DIR": folder,
            "__GL_SHADER_DISK_CACHE": "1", "__GL_SHADER_DISK_CACHE_PATH": folder}


def background_part(size_text: str, network: dict) -> None:
    print(f"\nwidth_up {network['width']} -> {2 * network['width']} at {size_text}, "
          "fresh shader cache per mode:")
    print(f"  {'compile':<14}{'press ms':>10}{'max ms':>9}{'frames':>8}{'shown s':>9}"
          f"{'takeover ms':>13}{'max later ms':>14}{'median ms':>11}")
    results = {}
    for mode in ("in place", "background"):
        env = _fresh_cache_env()
        out = subprocess.run(
            [sys.executable, __file__, "--_building", json.dumps([size_text, network,
                                                                mode == "background"])],
            capture_output=True, text=True, env=env, check=True)
        m = results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  {mode:<14}{m['press_ms']:>10.1f}{m['max_ms']:>9.1f}"
              f"{m['frames_while_building']:>8}{m['shown_after_s']:>9.2f}{m['takeover_ms']:>13.1f}"
              f"{m['max_after_ms']:>14.1f}{m['median_ms']:>11.1f}")
    a, b = results["in place"], results["background"]
    print(f"  longest frame: background {b['max_ms']:.0f} ms vs in place {a['max_ms']:.0f} ms "
          f"({a['max_ms'] / b['max_ms']:.1f}x shorter)")
    env = _fresh_cache_env()
    out = subprocess.run(
        [sys.executable, __file__, "--_building",
         json.dumps([size_text, network, True, "reseed=4242", 15.0])],
        capture_output=True, text=True, env=env, check=True)
    m = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\nreseed, then 15 s of frames (the baked program takes over meanwhile): "
          f"{m['baked']} baked takeover(s) costing {m['takeover_ms']:.1f} ms on the render "
          f"thread; longest frame {m['max_after_ms']:.1f} ms, median {m['median_ms']:.1f} ms")


def _trace(path: str) -> list[tuple[float, str, list[str]]]:
    out: list[tuple[float, str, list[str]]] = []
    if not os.path.exists(path):  # the app opens it once its window is up
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                out.append((float(parts[0]), parts[1], parts[2:]))
    return out


def _window_of(pid: int, env: dict) -> str:
    while True:
        ids = subprocess.run(["xdotool", "search", "--pid", str(pid), "--name", "realtime-cppn"],
                             env=env, capture_output=True, text=True).stdout.split()
        if ids:
            return ids[0]
        time.sleep(0.05)


def first_run(env: dict, seconds: float, extra: list[str]) -> dict:
    """One start of the default live window: the figures of part 4 (times on the monotonic
    clock, which the app's perf counter shares on Linux)."""
    trace = tempfile.mktemp(prefix="bench-live-trace-")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "realtime_cppn.cli", *extra,
                             "--trace-frames", trace], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    window = _window_of(proc.pid, env)
    while not any(what == "draw" for _, what, _ in _trace(trace)):
        time.sleep(0.05)
    time.sleep(seconds)
    while proc.poll() is None:  # pressed again should a press not reach the window
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env)
        subprocess.run(["xdotool", "key", "--delay", "150", "ctrl+q"], env=env)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(10)
    t_exit = time.monotonic()
    events = _trace(trace)
    t_key = next(t for t, what, d in events if what == "key" and d == ["ctrl+q"])
    os.unlink(trace)
    starting = next(t for t, what, _ in events if what == "starting")
    drawn = [(t, float(d[1])) for t, what, d in events if what == "draw"]
    last = [t for t, _ in drawn if t >= drawn[-1][0] - seconds / 2]
    fps = (len(last) - 1) / (last[-1] - last[0]) if len(last) > 1 else 0.0
    return {"starting_s": starting - t0, "first_frame_s": drawn[0][0] - t0,
            "fps": fps, "scale": drawn[-1][1], "quit_s": t_exit - t_key,  # key seen -> gone
            "load": os.getloadavg()[0]}


def first_run_part(seconds: float, extra: list[str]) -> None:
    env = _fresh_cache_env()
    env.pop("MESA_SHADER_CACHE_DISABLE", None)
    print(f"\nfirst run: realtime-cppn {' '.join(extra)} (default network and window), "
          f"fps over the last {seconds / 2:g} of {seconds:g} s")
    print(f"  {'shader cache':<14}{'starting s':>11}{'first frame s':>15}{'fps shown':>11}"
          f"{'scale':>8}{'quit s':>8}{'load avg':>10}")
    for cache in ("cold", "warm"):
        m = first_run(env, seconds, extra)
        print(f"  {cache:<14}{m['starting_s']:>11.2f}{m['first_frame_s']:>15.2f}{m['fps']:>11.1f}"
              f"{m['scale']:>8.3g}{m['quit_s']:>8.2f}{m['load']:>10.2f}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--_building":  # part 3's child
        size_text, network, *rest = json.loads(sys.argv[2])
        print(json.dumps(building(parse_size(size_text), network, *rest)))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="640x360")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--frames", type=int, default=5000, help="frames for the host-work timing")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--path", default="auto", choices=("auto", "compute", "fragment", "cpu"))
    p.add_argument("--background", action="store_true",
                   help="also part 3: width_up compiled in place vs in the background")
    p.add_argument("--first-run", action="store_true",
                   help="only part 4: the default live window, started cold and warm")
    p.add_argument("--seconds", type=float, default=20.0, help="part 4: seconds shown")
    p.add_argument("--live-args", default="", help="part 4: arguments for realtime-cppn")
    args = p.parse_args()
    if args.first_run:
        first_run_part(args.seconds, args.live_args.split())
        return
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
    if args.background:
        background_part(args.size, network)


if __name__ == "__main__":
    main()
