#!/usr/bin/env python3
"""The seed's variations: fitting steps per second on the CPU, and each display mode's frame rate
relative to plain RGB on the same renderer and network.

    python3 benchmarks/bench_variations.py                 # 512x512, default network
    python3 benchmarks/bench_variations.py --size 1920x1080

Modes: rgb, hsv, palette (mono network), symmetry xy, kaleidoscope k6, uv remap of a texture
(stable and the seed's per-frame min/max normalisation, which adds a 64-pixel probe render).
Each frame is drawn and waited for (read back); the figure is the median of --frames frames.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import realtime_cppn as rc
from realtime_cppn.core.spec import View, parse_size
from realtime_cppn.nn.train import FitConfig, fit
from realtime_cppn.rendering.renderer import Renderer


def frame_ms(r: Renderer, size, view: View, frames: int) -> float:
    r.read(r.draw(size, view, dtype="f1", display=True), 3)  # compile, warm
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        r.read(r.draw(size, view, dtype="f1", display=True), 3)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="512x512")
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--fit-size", type=int, default=64, help="side of the fitted image")
    ap.add_argument("--fit-steps", type=int, default=100)
    args = ap.parse_args()
    size = parse_size(args.size)
    r = Renderer()
    print(f"GL_RENDERER: {r.gl_renderer} | path {r.path} | size {size[0]}x{size[1]}")
    z = np.random.default_rng(0).normal(size=8)
    rgb = rc.to_spec(rc.CPPN(seed=3))
    mono = rc.to_spec(rc.CPPN(seed=3, out_channels=1))
    uv = rc.to_spec(rc.CPPN(seed=3, out_channels=2))
    cases = [
        ("rgb", rgb, View()),
        ("hsv", rgb, View(color="hsv")),
        ("palette (mono net)", mono, View(color="palette")),
        ("mirror xy", rgb, View(symmetry="xy")),
        ("kaleidoscope k6", rgb, View(symmetry="k6")),
        ("uv remap, stable", uv, View()),
        ("uv remap, min/max", uv, View(uv_normalize=True)),
    ]
    base = None
    print(f"{'mode':22s} {'ms/frame':>9s} {'fps':>7s} {'vs rgb':>7s}")
    for name, spec, view in cases:
        r.set_network(spec, z)
        ms = frame_ms(r, size, view, args.frames)
        base = base or ms
        print(f"{name:22s} {ms:9.1f} {1000 / ms:7.2f} {base / ms:6.2f}x")

    torch.set_num_threads(2)
    n = args.fit_size
    t = (np.arange(n) + 0.5) / n
    u, v = np.meshgrid(t, t)
    target = np.stack([u, v, ((u - 0.5) ** 2 + (v - 0.5) ** 2 < 0.1).astype(float)], -1)
    for ff in (0, 32):
        cfg = FitConfig(width=64, depth=4, steps=args.fit_steps, fourier=ff)
        t0 = time.perf_counter()
        fit(target.astype(np.float32), cfg)
        dt = time.perf_counter() - t0
        print(f"fit {n}x{n}, width 64, depth 4, fourier {ff:2d}: {cfg.steps / dt:6.1f} steps/s "
              f"(torch CPU, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
