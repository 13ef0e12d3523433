#!/usr/bin/env python3
"""Offline render throughput: what readback and encoding cost on top of rendering alone.

At 1920x1080 (``--size``) with a small network (CPPN width 16, depth 4 by default) it runs a
handful of frames through three pipelines and prints frames/s for each and their ratios:

  render            set_latent + draw, ctx.finish() per frame (the GPU's own rate)
  + readback        the same, each frame copied out through a pixel buffer (Renderer.read_async),
                    collected one frame later, as ``realtime-cppn render`` does
  + encode <codec>  the whole ``realtime-cppn render`` pipeline: frames handed to a
                    ThreadedWriter(block=True) that encodes to a temporary file

and then the live loop recording a constant-rate take through LiveRecorder on the wall clock:
its frame rate, the take's length against the wall time (target 1.000x), the pictures drawn,
written, duplicated and dropped, and how long the stop waited for the encoder.

    python3 benchmarks/bench_record.py                       # llvmpipe: a few frames, ~1 min
    python3 benchmarks/bench_record.py --frames 120 --codecs h264,prores,hap-q   # on a GPU
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from realtime_cppn import CPPN, to_spec
from realtime_cppn.cli.render import plan_clip, render_frames
from realtime_cppn.core.animation import LatentPath
from realtime_cppn.core.spec import parse_size
from realtime_cppn.media import codecs, encoder, take, writers
from realtime_cppn.rendering.renderer import Renderer


def timed(fn, frames: int) -> float:
    t0 = time.perf_counter()
    fn()
    return frames / (time.perf_counter() - t0)


def live_recording(r: Renderer, path, plan, size, take_fps: float, codec: str = "h264") -> dict:
    """The live loop (draw, no vsync, as fast as it goes) recording a constant-rate take through
    LiveRecorder on the wall clock: the loop's frame rate, the take's length against the wall
    time it covered (they must match: the take repeats or skips pictures to fill its rate),
    drawn / written / duplicated / dropped, and how long ``stop`` waited for the encoder to
    catch up (the backlog a slow encoder leaves: the window holds still that long)."""
    with tempfile.TemporaryDirectory() as tmp:
        rec = take.LiveRecorder(r, Path(tmp) / f"live{codecs.CODECS[codec].suffix}", codec,
                                    size, take_fps)
        t0 = time.perf_counter()
        first = None
        for n in range(plan.frames):
            r.set_latent(path(plan.phase(n)))
            tex = r.draw(size, dtype="f1", display=True)
            now = time.perf_counter() - t0
            first = now if first is None else first
            rec.frame(tex, now)
            r.ctx.finish()
        end = time.perf_counter() - t0
        loop_fps = plan.frames / end
        t1 = time.perf_counter()
        summary = rec.stop(end)
        stop_wait = time.perf_counter() - t1
        with av.open(summary["path"]) as c:
            video = c.duration / 1e6
    wall = end - first
    print(f"live take ({codec}, {take_fps:g} fps, queue 8): loop {loop_fps:.2f} frames/s; "
          f"{wall:.2f} s of wall time -> {video:.2f} s of video ({video / wall:.3f}x); "
          f"{summary['drawn']} drawn, {summary['frames']} written, {summary['duplicated']} "
          f"duplicated, {summary['held']} held by longer frames, {summary['skipped']} skipped, "
          f"{summary['dropped']} dropped; stop waited {stop_wait:.2f} s")
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--frames", type=int, default=8, help="frames per pipeline (after 2 warm-up)")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--fps", type=float, default=30.0, help="clip rate (only the file's time base)")
    ap.add_argument("--codecs", default="h264", help=f"comma list of {', '.join(codecs.CODECS)}")
    ap.add_argument("--take-fps", type=float, default=60.0,
                    help="rate of the live take (default 60, the window's default)")
    args = ap.parse_args()
    size = parse_size(args.size)
    spec = to_spec(CPPN(width=args.width, depth=args.depth, seed=1))
    path = LatentPath(1, spec.z_dim)
    r = Renderer()
    r.set_network(spec, path(0.0))
    print(f"GL_RENDERER: {r.gl_renderer} ({r.path_text(spec)})")
    print(f"network: width {args.width}, depth {args.depth} ({spec.macs_per_pixel} MACs/pixel); "
          f"{size[0]}x{size[1]}; {args.frames} frames per pipeline; CPU cores: {os.cpu_count()}")
    warm = plan_clip(args.fps, 8.0, 0.0, duration=2 / args.fps)
    plan = plan_clip(args.fps, 8.0, 0.0, duration=args.frames / args.fps)

    def render_only() -> None:
        for n in range(plan.frames):
            r.set_latent(path(plan.phase(n)))
            r.draw(size, dtype="f1", display=True)
            r.ctx.finish()  # wait for the GPU, or this would time command submission only

    frames_seen: list[np.ndarray] = []

    def readback() -> None:
        frames_seen.clear()
        render_frames(r, path, plan, size, None, frames_seen.append)

    render_frames(r, path, warm, size, None, lambda f: None)  # compile, allocate, warm caches
    results = {"render": timed(render_only, plan.frames)}
    results["+ readback"] = timed(readback, plan.frames)
    assert len(frames_seen) == plan.frames and frames_seen[0].shape == (size[1], size[0], 3)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.codecs.split(","):
            codec = codecs.get_codec(name.strip())
            if codec.route == "ffmpeg" and codecs.hap_available():
                print(f"skip {codec.name}: {codecs.hap_available()}")
                continue
            out = Path(tmp) / (f"clip{codec.suffix}" if codec.suffix else "seq")
            fitted = codecs.fit_size(codec, size)

            def encode(codec=codec, out=out, fitted=fitted) -> None:
                enc = encoder.ThreadedWriter(
                    writers.open_writer(out, codec, fitted, args.fps), maxsize=4, block=True)
                render_frames(r, path, plan, fitted, None, enc.submit)
                enc.close()

            results[f"+ encode {codec.name}"] = timed(encode, plan.frames)
            mb = sum(p.stat().st_size for p in out.rglob("*")) if out.is_dir() else \
                out.stat().st_size
            print(f"  {codec.name}: {mb / plan.frames / 1e6:.2f} MB/frame")
    for name in args.codecs.split(","):
        if codecs.CODECS[name.strip()].route != "ffmpeg" or not codecs.hap_available():
            live_recording(r, path, plan, size, args.take_fps, name.strip())
    base = results["render"]
    print(f"{'pipeline':<24}{'frames/s':>10}{'ms/frame':>10}{'vs render':>11}")
    for name, fps in results.items():
        print(f"{name:<24}{fps:>10.2f}{1000 / fps:>10.1f}{fps / base:>10.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
