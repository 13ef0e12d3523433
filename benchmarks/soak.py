#!/usr/bin/env python3
"""Soak: a two-hour show compressed into thousands of frames, in a real glfw window.

The live loop (``app.show``) runs a ``Live`` show on a fixed-step clock in a real window (under
an Xvfb started here when DISPLAY is unset). A frame hook plays a fixed, repeating schedule:
every few frames one of reseed, morph, activation / width / depth changes (width <= 16,
depth <= 4: a few architectures, compiled once each and then cached), symmetry, zoom, render
scale, a window resize (``glfw.set_window_size``), a fullscreen toggle (the action) and
recording on / off (H.264 and PNG takes in a temporary folder, alternately), and the faults
and cost bombs of ``FAULTS`` (each must show a notice the next frame). Resource figures
are taken at the start, after warm-up (one pass of every action, size and architecture) and at
the end: process RSS, the renderer's GL objects (``Renderer.gl_objects``), the GL names the
driver still holds (``glIs*`` over every name handed out), Python objects of a few types, open
file descriptors and threads. After warm-up the GL figures must not change at all and RSS may
grow only within ``--rss-bound`` MB, and every fault must have shown its notice and left the
files before it intact; the script exits 1 (and says what grew or failed) otherwise.

    python3 benchmarks/soak.py                 # 3000 frames
    python3 benchmarks/soak.py --short         # ~430 frames (tests/test_soak.py)
    python3 benchmarks/soak.py --frames 20000 --json soak.json
"""

# ruff: noqa: E402  (DISPLAY and the shader cache are set before glfw or GL load)
from __future__ import annotations

import os
import subprocess

if not os.environ.get("MESA_SHADER_CACHE_DIR"):
    os.environ["MESA_SHADER_CACHE_DIR"] = "/tmp/mesa-cache-soak"

import argparse
import ctypes
import gc
import json
import resource
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from realtime_cppn.core.scene import Scene
from realtime_cppn.live import live as app
from realtime_cppn.rendering.renderer import MAX_PROGRAMS
from realtime_cppn.show import actions
from realtime_cppn.show.actions import Action
from realtime_cppn.show.clock import FixedClock
from realtime_cppn.window import window as app_window

SIZES = ((320, 180), (256, 144), (240, 180))  # window sizes the resize step cycles through
SCREEN = (480, 270)  # the Xvfb screen started here: fullscreen frames stay cheap on llvmpipe
MAX_WIDTH, MIN_WIDTH, MAX_DEPTH, MIN_DEPTH = 16, 4, 4, 1
PY_TYPES = ("Texture", "Buffer", "Framebuffer", "VertexArray", "Program", "ComputeShader",
            "Recording", "Capture", "LiveRecorder", "ThreadedWriter", "PendingRead", "Thread",
            "Popen", "NetworkSpec", "LatentPath")
# One pass of the show: (action or step, frames until the next). Every step returns the show to
# a state the next pass starts from again (toggles come in pairs over two passes at most).
SCHEDULE = (
    "reseed", "zoom_in", "width_up", "symmetry", "morph", "resize", "next_activation",
    "depth_up", "render_scale", "drag", "record:h264", "reseed", "zoom_out", "width_down", "fullscreen",
    "depth_down", "previous_activation", "fullscreen", "resize", "record", "render_scale",
    "morph", "depth_up", "record:png", "width_down", "symmetry", "resize", "width_up",
    "render_scale", "depth_down", "record", "new_path", "info", "info", "symmetry", "symmetry",
    "bomb", "reseeds", "shotfault", "exportfault", "formatfault", "fullfault", "bigbomb",
)
# The faults and bombs a performer (or any OSC client) can send: ``bomb`` asks for width 1024
# (refused by the cost model at these sizes, never built), ``bigbomb`` width 1024 and depth 64
# in one frame (both in range: refused), ``reseeds`` 200 reseeds in one frame (one liveliness
# search), ``shotfault`` a screenshot and ``exportfault`` an export into a file where their
# folder should be, ``formatfault`` an export in a format that does not exist, ``fullfault`` a
# screenshot and an export onto a full disk (RLIMIT_FSIZE 0 for one frame: every write fails
# with EFBIG, as on a full filesystem) into a folder holding an earlier export, which must come
# out unchanged. Each fault must show a notice the next frame; none may stop the show or grow
# what it holds.
FAULTS = ("bomb", "bigbomb", "shotfault", "exportfault", "formatfault", "fullfault")


def start_xvfb() -> subprocess.Popen | None:
    """An Xvfb of our own when there is no display (killed at exit)."""
    if os.environ.get("DISPLAY"):
        return None
    r, w = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
         "-nolisten", "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        number = f.readline().strip()
    if not number:
        proc.kill()
        sys.exit("soak: Xvfb did not start")
    os.environ["DISPLAY"] = f":{number}"
    return proc


class GLNames:
    """Counts the OpenGL objects the driver holds, by asking ``glIs*`` of every name handed out
    so far: a leak the renderer's own bookkeeping would not see (an object dropped without
    ``release``) still shows here."""

    KINDS = {"textures": "glIsTexture", "buffers": "glIsBuffer", "framebuffers":
             "glIsFramebuffer", "vertex_arrays": "glIsVertexArray", "programs": "glIsProgram"}

    def __init__(self, glfw) -> None:
        proto = ctypes.CFUNCTYPE(ctypes.c_ubyte, ctypes.c_uint)
        self.fns = {k: proto(glfw.get_proc_address(name)) for k, name in self.KINDS.items()}
        self.top = 0

    def counts(self, ctx) -> dict[str, int]:
        import moderngl

        MODERNGL_TYPES = {moderngl.Texture, moderngl.Buffer, moderngl.Framebuffer,  # noqa: N806
                          moderngl.VertexArray, moderngl.Program, moderngl.ComputeShader}
        # Names handed out so far are bounded by the largest name alive plus whatever was
        # freed above it: fresh probes and every live moderngl object give the top, and a wide
        # margin covers names freed meanwhile (Mesa reuses low names before counting up).
        tex, buf = ctx.texture((1, 1), 4), ctx.buffer(reserve=4)
        live = [getattr(o, "glo", 0) for o in gc.get_objects()
                if type(o) in MODERNGL_TYPES]
        self.top = max(self.top, tex.glo, buf.glo, *(g for g in live if isinstance(g, int)))
        tex.release()
        buf.release()
        return {f"gl_{k}": sum(1 for i in range(1, self.top + 1024) if fn(i))
                for k, fn in self.fns.items()}


def proc_status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def snapshot(live: app.Live, names: GLNames) -> dict[str, int]:
    gc.collect()
    objs = gc.get_objects()
    types = Counter(type(o).__name__ for o in objs)
    r = live.renderer
    return {
        "rss_kb": proc_status("VmRSS"),
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": proc_status("Threads"),  # native ones too (llvmpipe, encoder)
        "py_threads": threading.active_count(),
        "py_objects": len(objs),
        **{f"gl.{k}": v for k, v in r.gl_objects().items()},
        **names.counts(r.ctx),
        **{f"py.{t}": types.get(t, 0) for t in PY_TYPES},
    }


class Show:
    """The schedule as a frame hook: an action every ``every`` frames, snapshots on the way."""

    def __init__(self, live: app.Live, window: app_window.Window, every: int, frames: int,
                 warmup: int, tmp: Path) -> None:
        self.live, self.window, self.every = live, window, every
        self.frames, self.warmup, self.tmp = frames, warmup, tmp
        self.names = GLNames(window.glfw)
        self.done: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.step = 0
        self.size_i = 0
        self.drags = 0
        self.snaps: dict[str, dict[str, int]] = {}
        self.start = time.perf_counter()
        self.last = self.start
        self.longest = 0.0  # seconds between two frames, after warm-up
        # A fault dispatched, and the frame whose hook checks it: actions apply in the next
        # frame's update, a screenshot in that frame's render after its hooks (one more frame).
        self.pending: tuple[str, int] | None = None
        self.noticed: Counter[str] = Counter()
        self.silent: Counter[str] = Counter()  # faults that showed no notice
        self.notices: dict[str, str] = {}  # the latest notice of each fault
        self.fault_longest: dict[str, float] = {}  # the frame each fault or bomb was applied in
        self.damaged: list[str] = []  # files a fault changed (must stay empty)
        self.kept: dict[Path, bytes] = {}  # the full-disk folder's files before the fault
        self.fsize: tuple[int, int] | None = None  # RLIMIT_FSIZE to restore after a full disk
        self.fault_s = 0.0  # the longest frame since the pending fault was dispatched
        self.depth = 1  # the depth before the big bomb, put back after it

    def on_frame(self, tex, state) -> None:
        n = self.live.frames  # frames finished before this one
        now, prev = time.perf_counter(), self.last
        if n > self.warmup:  # after warm-up: every architecture compiled once
            self.longest = max(self.longest, now - self.last)
        self.last = now
        if self.pending is not None:
            self.fault_s = max(self.fault_s, now - prev)
            if n >= self.pending[1]:
                self.check_fault(self.pending[0], self.fault_s)
                self.pending, self.fault_s = None, 0.0
        if n == 0:
            self.snaps["start"] = snapshot(self.live, self.names)
        if n == self.warmup:
            self.snaps["warm"] = snapshot(self.live, self.names)
        if n % self.every == 0:
            self.act(SCHEDULE[self.step % len(SCHEDULE)])
            self.step += 1
        if n % 250 == 0 and n:
            s = snapshot(self.live, self.names)
            print(f"frame {n:6d}  {time.perf_counter() - self.start:6.1f} s  rss "
                  f"{s['rss_kb'] / 1024:.1f} MB  gl {s['gl_textures']} tex "
                  f"{s['gl_buffers']} buf {s['gl_programs']} prog  fds {s['fds']}", flush=True)

    def act(self, step: str) -> None:
        live, s = self.live, self.live.state
        name, _, arg = step.partition(":")
        width, depth = s.net("width"), s.net("depth")
        if name == "drag":  # a size never seen before, as when a window edge is dragged
            if s.fullscreen:
                return
            self.drags += 1
            self.window.glfw.set_window_size(self.window.handle, 200 + 2 * (self.drags % 60),
                                             150 + (self.drags % 40))
        elif name == "resize":
            if s.fullscreen:
                return
            self.size_i += 1
            self.window.glfw.set_window_size(self.window.handle, *SIZES[self.size_i % len(SIZES)])
        elif name == "record":
            if s.recording:
                live.dispatch(Action("record", False))
            elif arg:
                live.record_settings = app.RecordSettings(self.tmp / arg, arg, wait=True)
                live.dispatch(Action("record", True))
            else:
                return
        elif name == "bomb":  # 1024 wide at the soak's depths: refused at these sizes
            live.dispatch(Action("width", 1024))
        elif name == "bigbomb":  # the OSC pair: minutes a frame and GBs if built
            # (width 1024 is refused; depth 64 at the soak's width is cheap and stands until
            # the check puts the depth back, so the next pass starts from the same state)
            self.depth = depth
            live.dispatch(Action("width", 1024))
            live.dispatch(Action("depth", 64))
        elif name in ("exportfault", "formatfault", "fullfault"):
            # The soak exports faster than the show's rate limit allows: each must reach the
            # disk (a refusal by the limit would be a notice that tests nothing).
            live._exports.clear()
            if name == "exportfault":
                blocker = self.tmp / "not-a-folder"
                blocker.write_text("a file where the export folder should be")
                live.screenshot_dir = blocker / "exports"
                live.dispatch(Action("export", "glsl"))
            elif name == "formatfault":
                live.dispatch(Action("export", "no-such-format"))
            else:
                full = self.tmp / "full"
                full.mkdir(exist_ok=True)
                (full / "earlier.frag").write_text("// an earlier export, kept\n")
                self.kept = {p: p.read_bytes() for p in full.iterdir()}
                live.screenshot_dir = full
                self.fsize = resource.getrlimit(resource.RLIMIT_FSIZE)
                resource.setrlimit(resource.RLIMIT_FSIZE, (0, self.fsize[1]))
                live.dispatch(Action("export", "glsl"))
                live.dispatch(Action("screenshot"))
        elif name == "reseeds":
            for _ in range(200):
                live.dispatch(Action("reseed"))
        elif name == "shotfault":
            blocker = self.tmp / "not-a-folder"
            blocker.write_text("a file where the screenshot folder should be")
            live.screenshot_dir = blocker / "shots"
            live.dispatch(Action("screenshot"))
        elif name in ("width_up", "width_down", "depth_up", "depth_down"):
            # Keep the architectures few and small (llvmpipe compiles): bounce at the limits.
            if name == "width_up" and width >= MAX_WIDTH or name == "width_down" and \
                    width <= MIN_WIDTH:
                name = "width_down" if name == "width_up" else "width_up"
            if name == "depth_up" and depth >= MAX_DEPTH or name == "depth_down" and \
                    depth <= MIN_DEPTH:
                name = "depth_down" if name == "depth_up" else "depth_up"
            live.dispatch(Action(name))
        else:
            live.dispatch(Action(name))
        self.done[name] += 1
        if name in FAULTS:
            live.error = ""  # the next frame must show this fault's own notice
            self.pending = (name, live.frames + (2 if name in ("shotfault", "fullfault") else 1))

    def check_fault(self, name: str, seconds: float) -> None:
        """The frame after a fault: its notice, the frame's length, files it left unchanged."""
        live = self.live
        if self.fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, self.fsize)
            self.fsize = None
        if live.error:
            self.noticed[name] += 1
            self.notices[name] = live.error[:160]
        else:
            self.silent[name] += 1
        self.fault_longest[name] = max(self.fault_longest.get(name, 0.0), seconds)
        if name == "fullfault":
            folder = self.tmp / "full"
            after = {p: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}
            self.damaged += [f"{p.name}: changed" for p, b in self.kept.items()
                             if after.get(p) != b]
            # a half-written file under a visible name (an empty claimed name is removed too)
            self.damaged += [f"{p.name}: left" for p in after if p not in self.kept]
        live.screenshot_dir = self.tmp
        if name == "bigbomb":
            live.dispatch(Action("depth", self.depth))


def run(args: argparse.Namespace) -> dict:
    import glfw

    from realtime_cppn.rendering.renderer import Renderer

    scene = Scene(network={"seed": 3, "width": 8, "depth": 2, "activation": "tanh"},
                  path_seed=5)
    window = app_window.Window(SIZES[0], vsync=False)
    renderer = Renderer.from_current_context(path=args.render_path, specialize=args.specialize,
                                             background=args.background == "on")
    tmp = Path(tempfile.mkdtemp(prefix="cppn-soak-"))
    # A write past RLIMIT_FSIZE raises EFBIG (the full-disk fault) instead of killing us.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    live = app.Live(renderer, actions.initial_state(scene), clock=FixedClock(60),
                    screenshot_dir=tmp, record=app.RecordSettings(tmp / "h264", wait=True))
    # Whole passes of the schedule, so warm-up and end are the same point of it (same state).
    pass_ = len(SCHEDULE) * args.every
    frames = max(-(-args.frames // pass_), 2) * pass_
    warmup = min(args.warmup or max(pass_, frames // 2 // pass_ * pass_), frames - pass_)
    show = Show(live, window, args.every, frames, warmup, tmp)
    live.frame_hooks.append(show.on_frame)
    t0 = time.perf_counter()
    try:
        app_window.show(live, window, frames)
        if live.recording is not None:
            live.dispatch(Action("record", False))
            live.update()
        show.snaps["end"] = snapshot(live, show.names)
    finally:
        live.close()
        renderer.release()
        window.close()
    seconds = time.perf_counter() - t0
    takes = sorted(p.name for p in tmp.rglob("cppn-rec-*") if p.suffix in (".mp4", ""))
    errors = live.error
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    del glfw
    return {"frames": live.frames, "seconds": seconds, "warmup": warmup, "every": args.every,
            "actions": dict(show.done), "action_total": sum(show.done.values()),
            "longest_frame_s": show.longest, "refused_by_cost": live.budget.refused,
            "takes": len(takes), "last_error": errors, "compiles": renderer.stats.compiles,
            "path": renderer.path, "baked_programs": renderer.stats.special_compiles,
            "background": args.background == "on",
            "background_compiles": renderer.stats.background_compiles,
            # Still on at the end? A failed child or a missed takeover turns it off (why, below).
            "background_left_on": renderer.background,
            "last_takeover_s": renderer.stats.last_takeover_s,
            "last_child_s": renderer._arch_child.seconds,
            "faults": {"noticed": dict(show.noticed), "silent": dict(show.silent),
                       "notices": show.notices, "damaged": show.damaged,
                       "frame_s": {k: round(v, 3) for k, v in show.fault_longest.items()}},
            "snapshots": show.snaps}


# Objects held by bounded caches that fill at their own pace: networks built and latent paths
# (over a longer warm-up than the GL objects), and the baked programs the async specialiser
# swaps in whenever the weights stay put long enough for a child process to compile them (at
# most the current and the previous weights, each with its vertex array; one child at a time).
# These are checked against their bound; every other figure must not change at all.
BOUNDED = {"py.NetworkSpec": app.SPEC_CACHE + 4, "py.LatentPath": app.SPEC_CACHE,
           "gl.special_programs": 2, "gl.special_procs": 1, "gl.vaos": 2,
           "gl.arch_procs": 1,  # a new architecture compiling in the background
           "gl.zero_weights": 1,
           "gl.parallel_programs": 1,  # a program the driver links on its own threads
           # the specialiser's and the architecture's children, and one just collected
           "py.Popen": 3}
BAKED = ("gl_programs", "gl_vertex_arrays", "py.programs", "py.VertexArray")  # less the baked
# The zeroed weights warm-up draws bind are made at the first warm-up of a new architecture,
# which with background compiles lands whenever its child finishes: counted apart (at most one).
# Texture or buffer by the weight storage: each pair's sum, less that one, must stay flat.
ZEROED = (("gl_textures", "gl_buffers"), ("py.Texture", "py.Buffer"))
# With background compiles the architectures finish compiling whenever their child does, so the
# program cache fills at its own pace too: bounded by MAX_PROGRAMS (+ 2 baked, blit, overlay).
_ALL_PROGRAMS = MAX_PROGRAMS + 4
BACKGROUND_BOUNDED = {"gl.programs": MAX_PROGRAMS, "py.programs": _ALL_PROGRAMS,
                      "gl_programs": _ALL_PROGRAMS,
                      "gl.vaos": MAX_PROGRAMS + 2, "py.VertexArray": MAX_PROGRAMS + 4,
                      "gl_vertex_arrays": MAX_PROGRAMS + 4}


def _programs_merged(snap: dict) -> dict:
    """py.Program and py.ComputeShader as one count: a baked program is either, by driver
    (one-pixel compute shaders on llvmpipe, the renderer's path elsewhere)."""
    out = {k: v for k, v in snap.items() if k not in ("py.Program", "py.ComputeShader")}
    out["py.programs"] = snap.get("py.Program", 0) + snap.get("py.ComputeShader", 0)
    return out


def verdict(result: dict, rss_bound_mb: float) -> list[str]:
    """What grew after warm-up (empty: flat)."""
    warm, end = (_programs_merged(result["snapshots"][k]) for k in ("warm", "end"))
    bounded = {**BOUNDED, **(BACKGROUND_BOUNDED if result.get("background") else {})}
    faults = result.get("faults", {})
    bad = [f"{name}: {k} time(s) without a notice" for name, k in faults.get("silent", {}).items()]
    bad += [f"full disk damaged a file: {d}" for d in faults.get("damaged", [])]
    for key in warm:
        if key in bounded:
            if end[key] > bounded[key]:
                bad.append(f"{key}: {end[key]} at the end, over its bound {bounded[key]}")
        elif any(key in pair for pair in ZEROED) and "gl.zero_weights" in warm:
            pair = next(p for p in ZEROED if key in p)
            if key == pair[0]:
                a, b = (sum(s[k] for k in pair) - s["gl.zero_weights"] for s in (warm, end))
                if a != b:
                    bad.append(f"{' + '.join(pair)} (less zeroed weights): {a} after warm-up, "
                               f"{b} at the end")
        elif key in BAKED:
            baked = "gl.special_programs" if "rogram" in key else "gl.vaos"
            a, b = warm[key] - warm[baked], end[key] - end[baked]
            if a != b:
                bad.append(f"{key} (less baked programs): {a} after warm-up, {b} at the end")
        elif key.startswith(("gl", "fds", "threads", "py_threads", "py.")) and \
                end[key] != warm[key]:
            bad.append(f"{key}: {warm[key]} after warm-up, {end[key]} at the end")
    grew = (end["rss_kb"] - warm["rss_kb"]) / 1024
    if grew > rss_bound_mb:
        bad.append(f"RSS grew {grew:.1f} MB after warm-up (bound {rss_bound_mb:g} MB)")
    return bad


def table(result: dict) -> str:
    snaps = result["snapshots"]
    rows = ["| figure | start | after warm-up | end |", "|---|---:|---:|---:|"]
    for key in snaps["start"]:
        vals = [snaps[k][key] for k in ("start", "warm", "end")]
        if key == "rss_kb":
            rows.append("| RSS (MB) | " + " | ".join(f"{v / 1024:.1f}" for v in vals) + " |")
        else:
            rows.append(f"| {key} | " + " | ".join(str(v) for v in vals) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=3000)
    p.add_argument("--short", action="store_true", help="~430 frames, actions every 2 (CI)")
    p.add_argument("--every", type=int, default=4, help="frames between actions (default 4)")
    p.add_argument("--warmup", type=int,
                   help="frames before the flat check (default: half, in whole passes)")
    p.add_argument("--rss-bound", type=float, default=30.0,
                   help="MB the RSS may grow after warm-up (default 30)")
    p.add_argument("--specialize", choices=("off", "async"), default="async",
                   help="baked programs as the live command uses them (default async)")
    # Off by default: with an action every 2-4 frames most background builds are cancelled
    # by the next width/depth change, so the architectures' own compiles would go unexercised.
    # "on" soaks that churn instead (children started and killed): run both.
    p.add_argument("--background", choices=("on", "off"), default="off",
                   help="compile new architectures in a child process, as the live window does")
    p.add_argument("--render-path", choices=("auto", "compute", "fragment", "cpu"),
                   default="auto", help="where the network runs, as the live command's flag")
    p.add_argument("--json", type=Path, help="write every figure here")
    args = p.parse_args(argv)
    if args.short:
        # Three passes of the schedule to warm up (the per-size caches fill: each pass drags the
        # window to a new size), three to check: ~430 frames, ~20 s on 2 llvmpipe cores.
        args.every = 2
        args.warmup = 3 * len(SCHEDULE) * args.every
        args.frames = 2 * args.warmup
    xvfb = start_xvfb()
    try:
        result = run(args)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(10)
    bad = verdict(result, args.rss_bound)
    result["growth"] = bad
    done = ", ".join(f"{k} {v}" for k, v in sorted(result["actions"].items()))
    print(f"\nsoaked {result['frames']} frames in {result['seconds']:.1f} s: "
          f"{result['action_total']} actions ({done}), "
          f"{result['takes']} takes, {result['compiles']} compiles, {result['baked_programs']} baked "
          f"programs ({result['path']} path); warm-up {result['warmup']} frames")
    print(f"longest frame after warm-up {1000 * result['longest_frame_s']:.0f} ms; "
          f"{result['refused_by_cost']} networks refused by the cost model; last notice: "
          f"{result['last_error'][:100] or '-'}")
    f = result["faults"]
    print("faults noticed: " + ", ".join(f"{k} {v}" for k, v in sorted(f["noticed"].items()))
          + "; their frames (s): " + ", ".join(f"{k} {v}" for k, v in sorted(f["frame_s"].items())))
    for k, v in sorted(f["notices"].items()):
        print(f"  {k}: {v}")
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    if bad:
        print("NOT FLAT:\n  " + "\n  ".join(bad))
        return 1
    print("flat after warm-up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
