"""Background compiles where compiles are slow (software rasterizers): a child process that
compiles a program and draws with it once, filling the driver's shader cache for the render
thread, and the constants-baked programs swapped in once the weights hold still. The renderer
decides when (``driver.DriverProfile``); this module never imports it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Protocol

import moderngl

from ..core.lru import LRU
from ..core.spec import NetworkSpec
from .codegen import bake, glsl
from .gl import TEXTURE_UNIT, WEIGHT_UNIT, bind_weights, first_draw, link, set_block_bindings

MAX_SPECIAL_PROGRAMS = 2  # baked programs: the current weights and the previous (a morph back)


class Host(Protocol):
    """What the specialiser reads from the renderer it serves."""

    gl_renderer: str
    has_compute: bool
    path: str
    ctx: moderngl.Context
    building: bool
    stats: object

    def draw_state(self, spec: NetworkSpec, path: str, fmt: str) -> dict: ...

    def warm_up(self, prog, spec: NetworkSpec, fmt: str) -> None: ...


SPECIALIZE_AFTER = 3  # frames the weights must stay put before a baked program is built
# A takeover slower than this, and than MISS_FRACTION of the child's whole build, means the
# driver's cache missed (a miss costs the compile again; a hit tens of ms): stop trying. Relative
# to the child's time too, so a machine busy with other work does not read as a miss. A miss
# costs the render thread no more than compiling in place would, so giving up only saves the
# children's CPU: a generous budget. (0.25 s misread hits: a soak whose children found every
# architecture in the cache (0.4 s each) saw 0.66 s takeovers while its encoders held the cores.)
HIT_BUDGET_S = 1.0
MISS_FRACTION = 0.3
# Slow takeovers in a row that turn a child's work off: one alone can be a busy moment; a cache
# that is not shared misses every time.
MISSES_IN_A_ROW = 2
# llvmpipe compiles a baked W32 D4 (3.3k multiply-adds per pixel) in ~1 s, W64 D8 (29k) in ~10 s
# of one core (one pixel per compute invocation; 2.5 and 55 s as a fragment shader); the baked
# program then runs 2-4x faster than the uniform one. Builds above
# LLVMPIPE_QUICK_MACS only start once the weights have held still for a while (settle_seconds),
# and none above LLVMPIPE_MAX_MACS (W64 D16 is 62k).
LLVMPIPE_QUICK_MACS = 16384
LLVMPIPE_MAX_MACS = 65536
SETTLE_SECONDS_PER_QUICK = 5.0


def warm_size(size: tuple[int, int]) -> tuple[int, int]:
    """A tiny target that a driver compiles the same variant for as ``size``: llvmpipe keys
    compute variants on whether the image's sides are powers of two (16 is, 24 is not)."""
    return tuple(16 if n & (n - 1) == 0 else 24 for n in size)


class ChildCompile:
    """One background compile: a child process compiles a shader and draws with it once.

    moderngl holds the GIL while the driver compiles, so a worker thread would freeze the window;
    a child process in its own headless context does not. Drivers keep compiled shaders in a disk
    cache (Mesa, NVIDIA), so the render thread's own compile of the same text afterwards is a
    cache hit. llvmpipe compiles a variant per target format and bound sampler state at the
    first draw: the child draws with the state the renderer will (``Renderer.draw_state``), or the
    render thread would still pay the full compile at its first frame.
    """

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.key: tuple | None = None
        self.source = ""
        self.started = 0.0
        self.seconds = 0.0  # how long the last finished child took, start-up included
        self.misses = 0  # slow takeovers in a row

    def start(self, key: tuple, source: str, state: dict) -> None:
        self.stop()
        self.key, self.source = key, source
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "realtime_cppn.rendering.background", "--warm", json.dumps(state)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(source.encode())
            self.proc.stdin.close()
        except OSError:  # the child died at once (no GL there): poll() reports it
            pass

    @property
    def busy(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def poll(self, key: tuple) -> str:
        """'idle' (nothing started for ``key``), 'running', or once finished 'done' / 'failed'
        (reported once; the child is then forgotten)."""
        if self.proc is None or self.key != key:
            return "idle"
        code = self.proc.poll()
        if code is None:
            return "running"
        self.proc = None
        self.seconds = time.monotonic() - self.started
        return "done" if code == 0 else "failed"

    def missed(self, takeover_s: float) -> bool:
        """Whether the render thread's takeovers compile the children's builds again: the
        MISSES_IN_A_ROW-th slow takeover in a row says the driver's cache is not shared."""
        slow = takeover_s > max(HIT_BUDGET_S, MISS_FRACTION * self.seconds)
        self.misses = self.misses + 1 if slow else 0
        return self.misses >= MISSES_IN_A_ROW

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


class Specializer:
    """Swaps in a constants-baked program for weights that stay put, without a hitch.

    Baked constants run up to 2-4x faster than runtime weights on llvmpipe (benchmarks/), but
    every weight set is a new program. A child process compiles it first (``ChildCompile``)
    and the render thread then takes it over from the driver's cache (llvmpipe: 2-3 s cold,
    tens of ms warm). If that takeover is still slow, the cache is not shared between the two
    contexts here, and specialising switches itself off. Reseeds and morphs never wait for it:
    the uniform-fed program draws until the baked one is ready. ``sync`` compiles in place
    (offline renders, tests); ``off`` never specialises.
    """

    def __init__(self, mode: str, release: Callable[[object], None]) -> None:
        self.mode = mode
        self.weights_id = b""
        self.stable_frames = 0
        self.stable_since = 0.0
        # (architecture, weights, path, fmt) -> program: the current and the previous weights
        # (a morph back); ``release`` frees an evicted one with its VAO.
        self.programs: LRU[tuple, object] = LRU(
            MAX_SPECIAL_PROGRAMS, on_evict=lambda _key, prog: release(prog))
        self.child = ChildCompile()

    def weights_changed(self, data: bytes) -> None:
        wid = hashlib.blake2b(data, digest_size=16).digest()
        if wid != self.weights_id:
            self.weights_id = wid
            self.stable_frames = 0
            # Wall time, not the show's clock: it only schedules a build that draws the same
            # pixels, so frame-exact takes are unaffected.
            self.stable_since = time.monotonic()

    def program(self, r: Host, spec: NetworkSpec, fmt: str):
        """The baked program for the current weights if ready, else None (use the uniform one)."""
        if self.mode == "off":
            return None
        path = self.path_for(r, spec)
        if path is None:
            return None
        key = (spec.architecture, self.weights_id, path, "" if path == "fragment" else fmt)
        prog = self.programs.get(key)
        if prog is not None:
            return prog
        self.stable_frames += 1
        if self.mode == "sync":
            return self._build(r, spec, key, self._source(path, spec, fmt), fmt)
        status = self.child.poll(key)
        if status == "done":
            return self._build(r, spec, key, self.child.source, fmt)
        if status == "failed":  # no GL in a child here, or a driver refusing the baked text
            self.mode = "off"
            return None
        if status == "idle" and self.child.busy:
            self.child.stop()  # the weights moved on (a morph, a reseed): that build is stale
        if (status == "idle" and self.stable_frames >= SPECIALIZE_AFTER
                and time.monotonic() - self.stable_since >= self.settle_seconds(r, spec)
                and not r.building):  # a new architecture's compile comes first
            self.child.start(key, self._source(path, spec, fmt), r.draw_state(spec, path, fmt))
        return None

    @staticmethod
    def path_for(r: Host, spec: NetworkSpec) -> str | None:
        """Which baked program to build, or None when it would not pay.

        Measured on llvmpipe (benchmarks/README.md): a baked compute program evaluating one
        pixel per invocation runs as fast as the baked fragment program and compiles 2-2.4x
        faster (llvmpipe builds two functions per fragment shader). Above ~50k multiply-adds
        per pixel a baked compile takes several minutes of CPU the live frames share.
        Elsewhere the renderer's own path (``DriverProfile.specializes`` keeps it off on GPUs).
        """
        if "llvmpipe" in r.gl_renderer:
            if spec.macs_per_pixel > LLVMPIPE_MAX_MACS:
                return None
            return "compute" if r.has_compute else "fragment"
        return r.path

    @staticmethod
    def settle_seconds(r: Host, spec: NetworkSpec) -> float:
        """How long the weights must hold still before a baked build starts.

        A build that takes a core for a minute (llvmpipe, big networks) only pays if the weights
        then stay, and a performer reseeding every few seconds would otherwise keep a child
        compiling for nothing: wait in proportion to the network's size. GPU drivers compile in
        well under a second: no wait beyond SPECIALIZE_AFTER frames.
        """
        macs = spec.macs_per_pixel
        if "llvmpipe" not in r.gl_renderer or macs <= LLVMPIPE_QUICK_MACS:
            return 0.0
        return SETTLE_SECONDS_PER_QUICK * macs / LLVMPIPE_QUICK_MACS

    @staticmethod
    def _source(path: str, spec: NetworkSpec, fmt: str) -> str:
        return bake.source(spec, None, path, fmt, latent="uniform")

    def _build(self, r: Host, spec: NetworkSpec, key: tuple, source: str, fmt: str):
        t0 = time.perf_counter()
        try:
            prog = link(r.ctx, source, compute=key[2] != "fragment")
            if key[2] != "fragment":
                prog.extra = glsl.GROUP_PIXELS[key[2]]  # how _execute dispatches it
            if self.mode == "async":  # the variant too, so the takeover is timed whole
                r.warm_up(prog, spec, fmt)
        except Exception:  # a driver that rejects the baked text keeps the uniform program
            self.mode = "off"
            return None
        if self.mode == "async":
            r.stats.last_takeover_s = time.perf_counter() - t0
            if self.child.missed(r.stats.last_takeover_s):
                self.mode = "off"  # no shared cache: this one was a hitch; no more of them
        self.programs.put(key, prog)  # beyond MAX_SPECIAL_PROGRAMS the oldest is released
        r.stats.special_compiles += 1  # apart from stats.compiles: those are the hitches
        return prog

    def release(self) -> None:
        self.child.stop()
        self.programs.clear()


def warm_main(state_json: str) -> int:
    """Child process: compile the shader on stdin and draw with it once in the renderer's state
    (``Renderer.draw_state``), filling the driver's cache for the render thread."""
    state = json.loads(state_json)
    source = sys.stdin.read()
    # EGL only, never the GLX fallback: a child is headless by design, and GLX would open
    # whatever X display happens to be around (its own driver, its own cache).
    ctx = moderngl.create_standalone_context(backend="egl")
    # A power-of-two float texture like the renderer's weights (llvmpipe keys a variant on the
    # sampler state and whether sizes are powers of two, not on the sizes).
    weights = ctx.texture((glsl.TEXTURE_WIDTH, 1), 4, dtype="f4")
    weights.filter = (moderngl.NEAREST, moderngl.NEAREST)
    weights.use(WEIGHT_UNIT)
    storage, size, block = state.get("weights") or ("texture", 0, None)
    if storage in ("ubo", "ssbo"):  # zeros, at least as large as every block the program reads
        bind_weights(ctx.buffer(reserve=16 * size), storage, size, block)
    if state.get("texture"):
        w, h, components, nearest = state["texture"]
        image = ctx.texture((w, h), components)
        image.repeat_x = image.repeat_y = False
        f = moderngl.NEAREST if nearest else moderngl.LINEAR
        image.filter = (f, f)
        image.use(TEXTURE_UNIT)
    target = ctx.texture(tuple(state["size"]), 4,
                         dtype="f4" if state["target"] == "rgba32f" else "f1")
    prog = link(ctx, source, compute=state["path"] != "fragment")
    for name, unit in (("u_weights", WEIGHT_UNIT), ("u_texture", TEXTURE_UNIT)):
        if name in prog:
            prog[name].value = unit
    set_block_bindings(prog, size, block)
    first_draw(ctx, prog, target, compute=state["path"] != "fragment")
    flush_shader_cache()
    return 0


def flush_shader_cache() -> None:
    """Terminate this process's EGL display before it exits. Mesa writes its shader disk cache
    from a background queue and waits for that queue only when the display goes; glcontext never
    terminates it, so a child that just exited lost entries now and then (half the time on a busy
    machine) and the render thread compiled the whole program again."""
    import ctypes
    import ctypes.util

    try:
        egl = ctypes.CDLL(ctypes.util.find_library("EGL") or "libEGL.so.1")
    except OSError:
        return  # not EGL (a GLX or CGL context): nothing known to flush
    egl.eglGetCurrentDisplay.restype = ctypes.c_void_p
    egl.eglMakeCurrent.argtypes = [ctypes.c_void_p] * 4
    egl.eglTerminate.argtypes = [ctypes.c_void_p]
    display = egl.eglGetCurrentDisplay()
    if display:
        egl.eglMakeCurrent(display, None, None, None)
        egl.eglTerminate(display)


if __name__ == "__main__":  # python -m realtime_cppn.rendering.background --warm STATE (see ChildCompile)
    if len(sys.argv) == 3 and sys.argv[1] == "--warm":
        sys.exit(warm_main(sys.argv[2]))
    sys.exit(2)
