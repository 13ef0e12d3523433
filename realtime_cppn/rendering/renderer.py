"""The renderer: the only module that talks to OpenGL (moderngl).

It compiles one program per network architecture (cached; reseeds and morphs only upload data),
keeps the packed weights in std140 uniform blocks (ranges of one buffer), a storage buffer or a
float texture, evaluates the network for every pixel of a target (one pixel per invocation: a
fragment pass over a full-screen triangle, or a compute pass), and shows or reads back the
result. What suits the driver (path, storage, whether baking pays) comes from its
``driver.DriverProfile``. Where OpenGL is a software rasterizer, the "cpu" path evaluates with
numpy instead (cpu.py) and only colours here.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import moderngl
import numpy as np

from ..core import cost
from ..core.errors import CPPNError
from ..core.lru import LRU
from ..core.spec import PALETTES, NetworkSpec, View, check_size
from . import cpu, driver, gl, parallel
from .background import ChildCompile, Specializer, warm_size
from .codegen import bake, glsl

_DTYPES = {"f4": "rgba32f", "f1": "rgba8"}
_FRAME_UNIT = 1
# present()'s filters for a frame smaller than its viewport (a reduced render scale):
# bilinear, one tap (shaders/blit.frag); catmull-rom, a sharper bicubic in 9 bilinear taps
# (shaders/blit_bicubic.frag).
UPSCALE_FILTERS = ("bilinear", "catmull-rom")
_OVERLAY_UNIT = 2
_OUTPUTS_UNIT = 4
# Where a network can be evaluated: the two shader paths, or numpy on the host (cpu.py).
PATHS = (*glsl.PATHS, "cpu")
# Frame targets and readback pools kept per size. A window dragged through a hundred sizes (or
# takes recorded at many sizes) must not keep a hundred of each: the least recently used go.
# A live window uses a few at once (window x render scale, the liveliness probe, a screenshot).
MAX_TARGETS = 8
MAX_READ_POOLS = 4
# Uniform-fed programs kept, one per architecture, so going back to a recent width, depth or
# activation set is free; a show that explores hundreds must not keep hundreds (llvmpipe holds
# megabytes of JIT code each).
MAX_PROGRAMS = 16


def create_headless_context() -> moderngl.Context:
    """A standalone OpenGL context through EGL: no window or display needed."""
    try:
        return moderngl.create_standalone_context(backend="egl")
    except Exception as exc:  # moderngl raises bare Exception for a missing libEGL or driver
        try:
            with _native_stderr_silenced():  # Mesa's libGL prints its own failure lines
                return moderngl.create_standalone_context()
        except Exception:
            raise CPPNError(
                f"no headless OpenGL context (EGL): {exc}; install Mesa "
                "(apt-get install libegl1 libgl1) or a GPU driver"
            ) from None


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null for the block: drivers write their diagnostics
    there from C, where Python's sys.stderr cannot catch them."""
    try:
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def auto_path(gl_renderer: str, has_compute: bool) -> str:
    """The render path ``path="auto"`` picks for a context (``DriverProfile.auto_path``): the
    cpu path on a software rasterizer, else the fragment shader unless pixel shaders reach only
    part of the chip (compute, GL 4.3)."""
    return driver.DriverProfile(gl_renderer, version_code=430 if has_compute else 330).auto_path()


@functools.cache
def _gl_flush_function():
    """glFlush from the process's GL library (moderngl has none), or None where not found."""
    import ctypes
    import ctypes.util

    for name in (ctypes.util.find_library("GL"), "libGL.so.1", "opengl32",
                 ctypes.util.find_library("OpenGL")):
        if not name:
            continue
        try:
            return ctypes.CDLL(name).glFlush
        except (OSError, AttributeError):
            continue
    return None


def _gl_flush() -> None:
    """Send what is queued to the GPU as its own submission (tiled draws), without waiting."""
    fn = _gl_flush_function()
    if fn is not None:
        fn()


def _release_all(objects) -> None:
    for obj in objects:
        obj.release()


def default_texture(size: int = 256) -> np.ndarray:
    """A colourful grid to remap when the user gave no texture: uint8 (size, size, 3)."""
    t = (np.arange(size) + 0.5) / size
    u, v = np.meshgrid(t, t)
    check = ((u * 8).astype(int) + (v * 8).astype(int)) % 2
    rgb = np.stack([u, v, 1.0 - 0.5 * (u + v)], axis=-1) * (0.55 + 0.45 * check[..., None])
    return (rgb * 255 + 0.5).astype(np.uint8)


@dataclass
class Stats:
    compiles: int = 0  # uniform-fed programs: one per architecture, on the render thread
    special_compiles: int = 0  # baked programs swapped in (cache hits when async)
    compile_seconds: float = 0.0
    uploads: int = 0
    background_compiles: int = 0  # architectures compiled in a child first (Renderer.prepare)
    parallel_compiles: int = 0  # architectures compiled on the driver's threads first (same)
    # The render thread's cost of taking over a program a child compiled: link + first draw
    # (llvmpipe JITs at the first draw). A cache hit is tens of ms; a miss is the cold compile.
    last_takeover_s: float = 0.0


class PendingRead:
    """A frame on its way from the GPU (``Renderer.read_async``); ``result()`` maps it once."""

    def __init__(self, buf: moderngl.Buffer, size: tuple[int, int], dtype: str, channels: int,
                 give_back: Callable[[moderngl.Buffer], None]) -> None:
        self._buf = buf
        self._give_back = give_back
        self.size = size
        self.dtype = dtype
        self.channels = channels

    def result(self) -> np.ndarray:
        """(H, W, channels), top row first, float32 or uint8 like ``Renderer.read``."""
        if self._buf is None:
            raise CPPNError("this readback was already collected")
        w, h = self.size
        np_dtype = np.float32 if self.dtype == "f4" else np.uint8
        data = np.frombuffer(self._buf.read(), dtype=np_dtype).reshape(h, w, 4)[::-1]
        out = np.ascontiguousarray(data[:, :, : self.channels])
        self.release()
        return out

    def release(self) -> None:
        """Give the buffer back to the pool without reading it (idempotent)."""
        if self._buf is not None:
            self._give_back(self._buf)  # reused by the next readback of this size
            self._buf = None


# Estimated work (multiply-add equivalents) one submission may hold on a GPU: ~50 ms at
# cost.PRIORS' conservative shader throughput. Software rasterizers run a dispatch on the CPU
# with no watchdog: no tiling there. Bands are whole work groups of rows.
TILE_WORK = 0.05 * cost.PRIORS["compute"]
TILE_ALIGN = 16


class Renderer:
    """Evaluates NetworkSpecs on the GPU. Not thread-safe: use it from the GL context's thread."""

    def __init__(
        self,
        ctx: moderngl.Context | None = None,
        path: str = "auto",
        storage: str = "auto",
        specialize: str = "off",
        background: bool = False,
        profile: driver.DriverProfile | None = None,
    ) -> None:
        self.ctx = ctx or create_headless_context()
        info = self.ctx.info
        # What suits this driver; a test may pass one with smaller limits (multi-block networks).
        self.profile = profile or driver.profile(info, self.ctx.version_code, self.ctx.extensions)
        self._read_limits(info)
        self.path = self._checked_path(path)
        self.storage_pref = self._checked_storage(storage)
        if specialize not in ("off", "async", "sync"):
            raise CPPNError(f"unknown specialize mode {specialize!r}; valid: off, async, sync")
        self.stats = Stats()
        self.spec: NetworkSpec | None = None
        self._init_network_objects()
        self._init_presenting()
        self._init_compiles(specialize, background)
        self._init_cpu()

    def _read_limits(self, info: dict) -> None:
        self.gl_renderer: str = info.get("GL_RENDERER", "?")
        self.max_texture: int = int(info.get("GL_MAX_TEXTURE_SIZE", 4096))
        vp = info.get("GL_MAX_VIEWPORT_DIMS", (self.max_texture, self.max_texture))
        self.max_size = min(self.max_texture, *vp)
        self.max_ubo: int = self.profile.max_ubo
        self.has_compute = self.ctx.version_code >= 430

    def _checked_path(self, path: str) -> str:
        if path == "auto":
            path = self.profile.auto_path()
        if path not in PATHS:
            raise CPPNError(f"unknown render path {path!r}; valid: auto, {', '.join(PATHS)}")
        if path == "compute" and not self.has_compute:
            raise CPPNError(f"the compute path needs OpenGL 4.3; this context is {self.ctx.version_code}")
        return path

    def _checked_storage(self, storage: str) -> str:
        if storage not in ("auto", *glsl.STORAGES):
            raise CPPNError(f"unknown weight storage {storage!r}; valid: auto, "
                            f"{', '.join(glsl.STORAGES)}")
        if storage == "ssbo" and not self.profile.has_ssbo:
            raise CPPNError(f"storage buffers need OpenGL 4.3; this context is {self.ctx.version_code}")
        return storage

    def _init_network_objects(self) -> None:
        """The per-network and per-size GL objects: programs, weights, targets, readback."""
        self._programs: LRU[tuple, moderngl.Program | moderngl.ComputeShader] = LRU(
            MAX_PROGRAMS, on_evict=lambda _key, prog: self._release_program(prog))
        self._weights: moderngl.Texture | moderngl.Buffer | None = None
        self._weights_key: tuple | None = None
        self._targets: LRU[tuple, tuple[moderngl.Texture, moderngl.Framebuffer]] = LRU(
            MAX_TARGETS, on_evict=lambda _key, entry: self._release_target(*entry))
        self._captures: list[tuple[moderngl.Texture, moderngl.Framebuffer]] = []
        self._vao_cache: dict[int, moderngl.VertexArray] = {}
        self._texture: moderngl.Texture | None = None
        self._texture_nearest = False
        self._last_size = (16, 16)
        self._z: np.ndarray | None = None
        # bytes -> free PBOs; an evicted size's buffers are freed (ones in flight come back
        # into a new pool of their size)
        self._read_buffers: LRU[int, list[moderngl.Buffer]] = LRU(
            MAX_READ_POOLS, on_evict=lambda _nbytes, pool: _release_all(pool))

    def _init_presenting(self) -> None:
        """What draws a frame onto a window: the blit, the upscalers and the overlay."""
        self._blit = gl.link(self.ctx, glsl.load("blit.frag"))
        self._blit_vao = self._fullscreen(self._blit)
        self.upscale = "bilinear"  # how present() scales a frame up (see UPSCALE_FILTERS)
        self._bicubic: tuple[moderngl.Program, moderngl.VertexArray] | None = None  # on first use
        self._default_fbo = self.ctx.detect_framebuffer(0)  # the window's, or none (headless)
        self._overlay: moderngl.Program | None = None  # built on first draw_overlay
        self._overlay_vao: moderngl.VertexArray | None = None
        self._overlay_tex: moderngl.Texture | None = None
        self._overlay_src: np.ndarray | None = None

    def _init_compiles(self, specialize: str, background: bool) -> None:
        """Baked programs, background compiles and how work is split into submissions."""
        # The cpu path compiles nothing per network: nothing to bake or build in the background;
        # on GPUs baking gains nothing (DriverProfile.specializes).
        self._special = Specializer(specialize if self.profile.specializes(self.path) else "off",
                                     self._release_program)
        self._zero_weights: tuple[tuple, object] | None = None  # warm-up draws bind these
        self.tile_work = 0.0 if self.profile.software else TILE_WORK  # 0: one submission
        # Renderer.prepare compiles new architectures in a child first (the live window).
        self.background = background
        self._arch_child = ChildCompile()
        # Or on the driver's own threads where it has them (GPUs; rendering/parallel.py).
        self._parallel = (parallel.ParallelCompile.for_current_context()
                          if self.profile.compiles_in_parallel and self.path != "cpu" else None)

    def _init_cpu(self) -> None:
        """The cpu path's evaluator and its per-size outputs (bounded: a window resized many
        times)."""
        self._cpu = cpu.CpuEvaluator() if self.path == "cpu" else None
        # (w, h, channels) -> the cpu path's outputs: a texture and the array it is filled from
        self._outputs: LRU[tuple, tuple[moderngl.Texture, np.ndarray]] = LRU(
            MAX_READ_POOLS, on_evict=lambda _key, entry: entry[0].release())
        self._outputs_progs: dict[int, moderngl.Program] = {}  # channels -> colour pass
        # (w, h) -> the cpu path's RGBA
        self._frames: LRU[tuple[int, int], np.ndarray] = LRU(MAX_READ_POOLS)

    @classmethod
    def from_current_context(cls, **kw) -> Renderer:
        """A renderer on the OpenGL context current on this thread (a window's); needs GL 3.3."""
        try:
            ctx = moderngl.create_context(require=330)
        except Exception as exc:  # moderngl raises bare Exception for a missing or old context
            raise CPPNError(f"the window has no usable OpenGL 3.3 context: {exc}") from None
        return cls(ctx, **kw)

    # --- network ------------------------------------------------------------------------------

    def storage_for(self, spec: NetworkSpec) -> str:
        if self._cpu is not None:
            return "host"  # numpy arrays in main memory: no GL weight storage
        size = glsl.layout(spec).size
        if self.storage_pref != "auto":
            blocks = -(-size // self.profile.block_vec4s())
            if (self.storage_pref == "ubo" and 16 * size > self.max_ubo
                    and blocks > self.profile.max_blocks(self.path)):
                raise CPPNError(
                    f"the network needs {16 * size} bytes of uniform blocks; this GPU allows "
                    f"{self.profile.max_blocks(self.path)} of {self.max_ubo} bytes (use the "
                    "ssbo or texture storage)"
                )
            return self.storage_pref
        # Uniform blocks (constant-cache operands), several where one is too small, then a
        # storage buffer, then the texture; on llvmpipe the texture (DriverProfile.storage).
        return self.profile.storage(size, self.path)

    def block_for(self, spec: NetworkSpec) -> int | None:
        """vec4s per uniform block where ``spec`` needs several (None: one, or none)."""
        return self.profile.block(glsl.layout(spec).size, self.storage_for(spec))

    def path_text(self, spec: NetworkSpec | None) -> str:
        """Where the network runs, for the info overlay: 'compute path, texture weights'."""
        if self._cpu is not None:
            return f"cpu path (numpy, {self._cpu.threads} threads)"
        return f"{self.path} path, {self.storage_for(spec) if spec else '?'} weights"

    def _check_fits(self, spec: NetworkSpec) -> None:
        rows = -(-glsl.layout(spec).size // glsl.TEXTURE_WIDTH)
        if rows > self.max_texture:
            raise CPPNError(
                f"the network's {glsl.layout(spec).size} weight texels exceed this GPU's "
                f"{glsl.TEXTURE_WIDTH}x{self.max_texture} texture limit"
            )

    def ready(self, spec: NetworkSpec, dtype: str = "f4") -> bool:
        """Whether ``spec``'s architecture is compiled: set_network then only uploads."""
        if self._cpu is not None:
            return True
        return self._program_key(spec, _DTYPES[dtype]) in self._programs

    @property
    def building(self) -> bool:
        """A new architecture is compiling in the background (see ``prepare``)."""
        return self._arch_child.busy or (self._parallel is not None and self._parallel.pending)

    def prepare(self, spec: NetworkSpec, dtype: str = "f4") -> bool:
        """Get ``spec``'s architecture compiled without freezing the caller.

        True when it is ready (``set_network`` then only uploads). With ``background`` on and a
        network already shown, a new architecture is first compiled by a child process and this
        returns False until that is done: keep drawing the current network and ask again next
        frame; the render thread then takes the program over from the driver's cache. Otherwise,
        or when the child failed (the in-place compile then raises the driver's CPPNError), it
        compiles here and now. A network too big for this GPU is refused at once.
        """
        self._check_fits(spec)
        if self._cpu is not None:
            return True
        fmt = _DTYPES[dtype]
        key = self._program_key(spec, fmt)
        if key in self._programs:
            if self._arch_child.key != key:
                self._arch_child.stop()  # the performer went back: that build is not wanted
            if self._parallel is not None and self._parallel.key != key:
                self._parallel.stop()
            return True
        if not self.background or self.spec is None:
            self._program(spec, fmt)
            return True
        if self._parallel is not None:
            return self._prepare_parallel(spec, fmt, key)
        status = self._arch_child.poll(key)
        if status == "running":
            return False
        if status == "idle":
            self._special.child.stop()  # its weights are about to be stale; the cores are needed
            storage = self.storage_for(spec)
            self._arch_child.start(
                key, driver.program_source(self.profile, spec, self.path, storage, fmt)[0],
                self.draw_state(spec, self.path, fmt))
            self.stats.background_compiles += 1
            return False
        t0 = time.perf_counter()
        prog = self._program(spec, fmt)  # cold when the child failed: the driver's error, here
        if status == "failed":
            self.background = False  # it compiles here, so the child is what fails: stop trying
            return True
        self.warm_up(prog, spec, fmt)
        self.stats.last_takeover_s = time.perf_counter() - t0
        if self._arch_child.missed(self.stats.last_takeover_s):
            self.background = False  # the cache is not shared here: it only delayed the hitch
        return True

    def _prepare_parallel(self, spec: NetworkSpec, fmt: str, key: tuple) -> bool:
        """``prepare`` on a driver that compiles on its own threads: the program is handed to
        it, each call asks once (without blocking) whether it is done, and once it is the
        renderer's own program is built from the same text, out of the driver's cache. A
        rebuild that compiled again twice in a row turns this off (the child path then)."""
        job = self._parallel
        assert job is not None
        status = job.poll(key)
        if status == "running":
            return False
        if status == "idle":
            source = driver.program_source(self.profile, spec, self.path,
                                           self.storage_for(spec), fmt)[0]
            stages = ([(parallel.GL_COMPUTE_SHADER, source)] if self.path == "compute" else
                      [(parallel.GL_VERTEX_SHADER, glsl.load("fullscreen.vert")),
                       (parallel.GL_FRAGMENT_SHADER, source)])
            job.start(key, stages)
            self.stats.parallel_compiles += 1
            return False
        t0 = time.perf_counter()
        prog = self._program(spec, fmt)  # failed: the driver's error, raised here as CPPNError
        if status == "done":
            self.warm_up(prog, spec, fmt)
            self.stats.last_takeover_s = time.perf_counter() - t0
        if status == "failed" or job.missed(self.stats.last_takeover_s):
            self._parallel = None
        return True

    def draw_state(self, spec: NetworkSpec, path: str, fmt: str) -> dict:
        """What a child must draw with to build the variant the renderer will use."""
        state: dict = {"path": path, "target": fmt, "texture": None,
                       "size": warm_size(self._last_size),
                       "weights": [self.storage_for(spec), glsl.layout(spec).size,
                                   self.block_for(spec)]}
        if spec.out_channels == 2:
            tex = self._uv_texture()
            state["texture"] = [*tex.size, tex.components, self._texture_nearest]
        return state

    def warm_up(self, prog, spec: NetworkSpec, fmt: str) -> None:
        """One tiny draw with ``prog`` in the live state: the driver builds its variant now."""
        dtype = "f4" if fmt == "rgba32f" else "f1"
        size = warm_size(self._last_size)
        tex = self.target(size, dtype)
        if "u_texture" in prog:
            prog["u_texture"].value = gl.TEXTURE_UNIT
            self._uv_texture().use(gl.TEXTURE_UNIT)
        self._bind_zero_weights(spec)
        self._execute(prog, tex, self._targets[(*size, dtype)][1])

    def _bind_zero_weights(self, spec: NetworkSpec) -> None:
        """Bind zeros at least as large as every block ``spec``'s program reads: a warm-up
        draw of a new architecture would otherwise read the previous, smaller network's
        buffer past its end (undefined behaviour on GPUs)."""
        storage, size = self.storage_for(spec), glsl.layout(spec).size
        if storage == "host":
            return
        key = (storage == "texture", size)
        if self._zero_weights is None or self._zero_weights[0] != key:
            if self._zero_weights is not None:
                self._zero_weights[1].release()
            self._zero_weights = (key, self._weight_object(storage, size, zero=True)[0])
        gl.bind_weights(self._zero_weights[1], storage, size, self.block_for(spec))

    def set_network(self, spec: NetworkSpec, z: np.ndarray | None = None) -> None:
        """Make ``spec`` current: compiles only for a new architecture, else uploads weights."""
        self._check_fits(spec)
        if self._cpu is not None:
            self._cpu.set_network(spec, z)  # raises on a bad z before changing anything
        else:
            self._program(spec, "rgba32f")  # compile (or fetch) before touching state
        self.spec = spec
        self._z = spec.check_z(z) if spec.z_dim else None
        if self._cpu is not None:
            self.stats.uploads += 1
            return
        data = glsl.pack(spec, z)
        self._upload(data)
        # Everything but the z-folded first bias identifies the weights a baked program holds.
        self._special.weights_changed(data[glsl.layout(spec).first_bias_blocks:].tobytes())

    def set_latent(self, z: np.ndarray | None) -> None:
        """Fold a new z into the first layer's bias: a few texels, every frame."""
        spec = self._need_spec()
        self._z = spec.check_z(z) if spec.z_dim else None
        if self._cpu is not None:
            self._cpu.set_latent(z)
            return
        block = glsl.first_bias_block(spec, z)
        if isinstance(self._weights, moderngl.Texture):
            self._weights.write(block.tobytes(), viewport=(0, 0, block.shape[0], 1))
        else:
            self._weights.write(block.tobytes(), offset=0)

    def _need_spec(self) -> NetworkSpec:
        if self.spec is None:
            raise CPPNError("no network set: call set_network first")
        return self.spec

    def _upload(self, data: np.ndarray) -> None:
        spec = self._need_spec()
        storage = self.storage_for(spec)
        n = data.shape[0]
        key = (storage == "texture", n if storage != "texture" else self._texture_rows(n))
        if self._weights_key != key:
            self._release_weights()
            self._weights, _ = self._weight_object(storage, n)
            self._weights_key = key
        if storage == "texture":
            padded = np.zeros((key[1] * glsl.TEXTURE_WIDTH, 4), np.float32)
            padded[:n] = data
            data = padded
        self._weights.write(data.tobytes())  # one upload, whatever the blocks
        self._weights_storage = (storage, n, self.block_for(spec))
        self.stats.uploads += 1

    def _texture_rows(self, n: int) -> int:
        # A power of two: llvmpipe builds a shader variant per power-of-two-ness of a bound
        # texture, and a background compile (prepare) must hit the variant drawn here.
        rows = -(-n // glsl.TEXTURE_WIDTH)
        return min(1 << (rows - 1).bit_length(), self.max_texture)

    def _weight_object(self, storage: str, n: int, zero: bool = False):
        """A weight texture or buffer for ``n`` vec4s (zeros when ``zero``), and its rows."""
        if storage == "texture":
            rows = self._texture_rows(n)
            tex = self.ctx.texture((glsl.TEXTURE_WIDTH, rows), 4, dtype="f4")
            tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
            if zero:
                tex.write(bytes(16 * glsl.TEXTURE_WIDTH * rows))
            return tex, rows
        buf = self.ctx.buffer(reserve=16 * n)  # GL zero-fills a reserved buffer (moderngl)
        if zero:
            buf.write(bytes(16 * n))
        return buf, 0

    def _release_weights(self) -> None:
        if self._weights is not None:
            self._weights.release()
        self._weights = None
        self._weights_key = None

    def _program_key(self, spec: NetworkSpec, image_format: str) -> tuple:
        fmt = image_format if self.path == "compute" else ""
        return (spec.architecture, self.path, self.storage_for(spec), self.block_for(spec), fmt)

    def _program(self, spec: NetworkSpec, image_format: str):
        storage = self.storage_for(spec)
        key = self._program_key(spec, image_format)
        prog = self._programs.get(key)
        if prog is not None:
            return prog
        source = driver.program_source(self.profile, spec, self.path, storage, image_format)[0]
        t0 = time.perf_counter()
        try:
            prog = gl.link(self.ctx, source, compute=self.path == "compute")
        except Exception as exc:  # moderngl reports compile and link errors as plain Exception
            first = str(exc).strip().splitlines()
            raise CPPNError(
                f"the GPU could not compile this network ({self.path} path): "
                f"{' '.join(first[:3])[:300]}"
            ) from None
        self.stats.compiles += 1
        self.stats.compile_seconds += time.perf_counter() - t0
        if storage == "texture":
            prog["u_weights"].value = gl.WEIGHT_UNIT
        elif storage == "ubo":
            gl.set_block_bindings(prog, glsl.layout(spec).size, self.block_for(spec))
        self._programs.put(key, prog)  # beyond MAX_PROGRAMS the least recently used goes
        return prog

    def _release_program(self, prog) -> None:
        vao = self._vao_cache.pop(prog.glo, None)
        if vao is not None:
            vao.release()
        prog.release()

    def forget_programs(self) -> None:
        """Release every compiled network program (the next draw recompiles)."""
        self._programs.clear()
        for vao in self._vao_cache.values():
            vao.release()
        self._vao_cache.clear()

    # --- drawing ------------------------------------------------------------------------------

    def _fullscreen(self, prog) -> moderngl.VertexArray:
        vao = self.ctx.vertex_array(prog, [])
        vao.vertices = 3
        return vao

    def target(self, size: tuple[int, int], dtype: str = "f4") -> moderngl.Texture:
        """An offscreen frame texture of ``size`` (cached; rgba32f for 'f4', rgba8 for 'f1')."""
        w, h = check_size(size, self.max_size)
        if dtype not in _DTYPES:
            raise CPPNError(f"unknown target dtype {dtype!r}; valid: {', '.join(_DTYPES)}")
        def make() -> tuple[moderngl.Texture, moderngl.Framebuffer]:
            tex = self.ctx.texture((w, h), 4, dtype=dtype)
            tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            # Every target is also a framebuffer: specialised programs may be fragment programs
            # even when the uniform-fed one is a compute shader (see Specializer.path_for).
            return tex, self.ctx.framebuffer(color_attachments=[tex])

        return self._targets.get_or_make((w, h, dtype), make)[0]

    def release_targets(self, keep: tuple[int, int] | None = None) -> None:
        """Free cached frame textures (all, or all but those of size ``keep``)."""
        for key in list(self._targets):
            if keep is None or key[:2] != tuple(keep):
                self._release_target(*self._targets.pop(key))

    def capture_target(self, size: tuple[int, int]) -> tuple[moderngl.Texture, moderngl.Framebuffer]:
        """A fixed-size 8-bit RGBA texture and its framebuffer, for recordings and video out to
        ``present`` into; held until ``release_capture`` (or this renderer's ``release``)."""
        tex = self.ctx.texture((int(size[0]), int(size[1])), 4, dtype="f1")
        entry = (tex, self.ctx.framebuffer(color_attachments=[tex]))
        self._captures.append(entry)
        return entry

    def release_capture(self, tex: moderngl.Texture, fbo: moderngl.Framebuffer) -> None:
        """Free a ``capture_target``; one already freed (here or by ``release``) is left be."""
        for i, (t, f) in enumerate(self._captures):
            if t is tex and f is fbo:
                del self._captures[i]
                self._release_target(tex, fbo)
                return

    def screen(self, fb_size: tuple[int, int] | None = None,
               clear: tuple[float, float, float, float] | None = None) -> moderngl.Framebuffer:
        """The window's framebuffer, bound; with ``fb_size`` its viewport covers it all, and
        with ``clear`` it is cleared to that RGBA colour."""
        screen = self.ctx.screen
        if fb_size is not None or clear is not None:
            screen.use()
        if fb_size is not None:
            screen.viewport = (0, 0, *fb_size)
        if clear is not None:
            screen.clear(*clear)
        return screen

    def finish(self) -> None:
        """Wait until the GPU has done everything submitted so far."""
        self.ctx.finish()

    def _release_target(self, tex: moderngl.Texture, fbo: moderngl.Framebuffer) -> None:
        # moderngl rebinds the current framebuffer after creating one: a released but still
        # bound one would make the next ctx.framebuffer() fail with GL_INVALID_OPERATION.
        if self.ctx.fbo is fbo:
            self._default_fbo.use()
        fbo.release()
        tex.release()

    def draw(
        self,
        size: tuple[int, int],
        view: View | None = None,
        dtype: str = "f4",
        display: bool = False,
    ) -> moderngl.Texture:
        """Evaluate the current network into an offscreen texture and return it.

        ``display`` maps outputs to colour (mono -> grey, clamped); otherwise the texture holds
        the raw outputs in its first ``out_channels`` channels.
        """
        spec = self._need_spec()
        view = view or View()
        tex = self.target(size, dtype)
        w, h = tex.size
        self._last_size = (w, h)  # background compiles warm a variant for sizes like it
        if self._cpu is not None:
            mode = view.color if display else "raw"
            if dtype == "f4" and cpu.can_frame(spec.out_channels, mode):
                # Coloured by the workers (cpu.CpuEvaluator.frame): an upload, no colour pass.
                tex.write(self._cpu.frame((w, h), view, mode, out=self._cpu_frame((w, h))))
                return tex
            prog = self._evaluate_on_cpu(spec, (w, h), view)
        else:
            prog = (self._special.program(self, spec, _DTYPES[dtype])
                    or self._program(spec, _DTYPES[dtype]))
        uniforms = {
            "u_resolution": (float(w), float(h)),
            "u_center": tuple(float(c) for c in view.center),
            "u_scale": float(spec.scale / view.zoom),
            "u_symmetry": view.symmetry_code,
            "u_kaleido": view.kaleido,
            "u_color_mode": view.color_code if display else 0,
            "u_palette": PALETTES[view.palette],
            "u_wrap": view.wrap_code,
            "u_uv_range": self._uv_range(view, (w, h)) if display else (0.0, 0.0, 1.0, 1.0),
            "u_texture": gl.TEXTURE_UNIT,
        }
        for name, value in uniforms.items():
            if name in prog:  # the compiler drops uniforms a network does not use
                prog[name].value = value
        if bake.LATENT_UNIFORM in prog:  # a specialised program takes the z-folded bias here
            prog[bake.LATENT_UNIFORM].write(glsl.first_bias_block(spec, self._z).tobytes())
        if spec.out_channels == 2 and display:
            self._uv_texture().use(gl.TEXTURE_UNIT)
        if self._weights is not None:
            self._bind_weights()
        self._execute(prog, tex, self._targets[(w, h, dtype)][1], self.tile_rows(spec, (w, h)))
        if self._special.stable_frames == 1:
            # The settle time counts from the first frame drawn with these weights: that frame
            # may have waited seconds for a software JIT, which is not the weights holding still.
            self._special.stable_since = time.monotonic()
        return tex

    def _evaluate_on_cpu(self, spec: NetworkSpec, size: tuple[int, int], view: View):
        """The cpu path: numpy evaluates every pixel, the outputs go up as a float texture, and
        the returned colour-pass program turns them into the frame."""
        c = spec.out_channels

        def make() -> tuple[moderngl.Texture, np.ndarray]:
            tex = self.ctx.texture(size, c, dtype="f4")
            tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
            return tex, np.empty((size[0] * size[1], c), np.float32)

        tex, outputs = self._outputs.get_or_make((*size, c), make)
        self._cpu.evaluate(size, view, out=outputs)  # (H * W, channels), bottom row first
        tex.write(outputs)
        tex.use(_OUTPUTS_UNIT)
        prog = self._outputs_progs.get(c)
        if prog is None:
            prog = self._outputs_progs[c] = gl.link(self.ctx, glsl.outputs_source(c))
            self.stats.compiles += 1
        prog["u_outputs"].value = _OUTPUTS_UNIT
        return prog

    def _cpu_frame(self, size: tuple[int, int]) -> np.ndarray:
        """The cpu path's RGBA array for frames of ``size``: kept, a 4K one is 133 MB."""
        return self._frames.get_or_make(
            size, lambda: np.empty((size[0] * size[1], 4), np.float32))

    def tile_rows(self, spec: NetworkSpec, size: tuple[int, int]) -> int:
        """Rows of pixels per submission so that none holds more than ``tile_work`` estimated
        work (cost.spec_work_per_pixel): one long dispatch can pass a desktop's GPU watchdog
        (Windows resets a GPU after 2 s; W64 D12 at 4K is ~0.75 TFLOP)."""
        w, h = size
        if not self.tile_work:
            return h
        per_row = w * cost.spec_work_per_pixel(spec)
        rows = int(self.tile_work // per_row) // TILE_ALIGN * TILE_ALIGN
        return max(TILE_ALIGN, min(h, rows))

    def _execute(self, prog, tex: moderngl.Texture, fbo: moderngl.Framebuffer,
                 rows: int | None = None) -> None:
        """Draw ``prog`` into ``tex`` in bands of ``rows`` rows, each its own submission."""
        w, h = tex.size
        rows = rows or h
        if isinstance(prog, moderngl.ComputeShader):
            tex.bind_to_image(0, read=False, write=True)
            n = prog.extra or glsl.GROUP_PIXELS["compute"]  # pixels per work group side
            for y0 in range(0, h, rows):
                if "u_tile" in prog:
                    prog["u_tile"].value = (0, y0)
                elif y0:  # a program without the offset (the older four-pixel one): one pass
                    break
                prog.run(-(-w // n), -(-min(rows, h - y0) // n) if "u_tile" in prog else -(-h // n))
                if rows < h:
                    _gl_flush()
            self.ctx.memory_barrier()
        else:
            fbo.use()
            fbo.viewport = (0, 0, w, h)
            vao = self._vao(prog)
            if rows >= h:
                vao.render()
                return
            for y0 in range(0, h, rows):
                fbo.scissor = (0, y0, w, min(rows, h - y0))
                vao.render()
                _gl_flush()
            fbo.scissor = None

    # --- uv remap -----------------------------------------------------------------------------

    def set_texture(self, image: np.ndarray | None, nearest: bool = False) -> None:
        """The texture uv networks sample: uint8 (H, W, 3 or 4), top row first; None = default."""
        if self._texture is not None:
            self._texture.release()
            self._texture = None
        if image is None:
            return
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
            raise CPPNError("a texture must be uint8 (H, W, 3) or (H, W, 4)")
        h, w = image.shape[:2]
        check_size((w, h), self.max_texture)
        rgba = np.ascontiguousarray(image[::-1])  # GL's first row is the bottom one
        self._texture = self.ctx.texture((w, h), image.shape[2], rgba.tobytes())
        self._texture.repeat_x = self._texture.repeat_y = False  # wrap_uv does the wrapping
        f = moderngl.NEAREST if nearest else moderngl.LINEAR
        self._texture.filter = (f, f)
        self._texture_nearest = nearest

    def _uv_texture(self) -> moderngl.Texture:
        if self._texture is None:
            self.set_texture(default_texture())
        return self._texture

    def _uv_range(self, view: View, size: tuple[int, int]) -> tuple[float, float, float, float]:
        """Stable: uv are the outputs. Normalised: stretched by the frame's min and max (the
        seed's way), estimated on a 64-pixel probe of the same view to stay cheap per frame."""
        if not view.uv_normalize or self.spec is None or self.spec.out_channels != 2:
            return (0.0, 0.0, 1.0, 1.0)
        w, h = size
        k = 64 / max(w, h)
        probe = self.read(self.draw((max(1, round(w * k)), max(1, round(h * k))), view), 2)
        lo, hi = probe.reshape(-1, 2).min(axis=0), probe.reshape(-1, 2).max(axis=0)
        inv = 1.0 / np.maximum(hi - lo, 1e-6)
        return (float(lo[0]), float(lo[1]), float(inv[0]), float(inv[1]))

    def _vao(self, prog) -> moderngl.VertexArray:
        vao = self._vao_cache.get(prog.glo)
        if vao is None:
            vao = self._vao_cache[prog.glo] = self._fullscreen(prog)
        return vao

    def _bind_weights(self) -> None:
        gl.bind_weights(self._weights, *self._weights_storage)

    def read(self, tex: moderngl.Texture, channels: int | None = None) -> np.ndarray:
        """A frame texture as (H, W, channels), top row first: float32 or uint8 by its dtype."""
        w, h = tex.size
        np_dtype = np.float32 if tex.dtype == "f4" else np.uint8
        data = np.frombuffer(tex.read(), dtype=np_dtype).reshape(h, w, 4)[::-1]
        c = channels or (self.spec.out_channels if self.spec else 4)
        return np.ascontiguousarray(data[:, :, :c])

    def read_async(self, tex: moderngl.Texture, channels: int | None = None) -> PendingRead:
        """Start copying a frame texture into a pixel buffer; ``.result()`` collects it later.

        The copy goes GPU-side into a buffer (a PBO), so the call returns without waiting for the
        frame to finish; mapping it one or two frames later finds the pixels ready and the render
        loop never stalls on a readback. Buffers are pooled per size; collect every handle.
        """
        w, h = tex.size
        nbytes = w * h * 4 * (4 if tex.dtype == "f4" else 1)
        pool = self._read_buffers.get_or_make(nbytes, list)  # beyond MAX_READ_POOLS sizes the
        buf = pool.pop() if pool else self.ctx.buffer(reserve=nbytes)  # oldest size is freed
        tex.read_into(buf)
        c = channels or (self.spec.out_channels if self.spec else 4)
        return PendingRead(buf, (w, h), tex.dtype, c, self._read_buffer_back)

    def _read_buffer_back(self, buf: moderngl.Buffer) -> None:
        # Back into its size's pool, even when that pool was dropped meanwhile (a new one).
        if buf.size in self._read_buffers:  # a peek: handing back is not a use
            self._read_buffers[buf.size].append(buf)
        else:
            self._read_buffers.put(buf.size, [buf])

    def present(self, tex: moderngl.Texture, fbo: moderngl.Framebuffer,
                viewport: tuple[int, int, int, int]) -> None:
        """Draw a frame texture onto ``fbo`` (the window) inside ``viewport``, upscaled with
        ``self.upscale`` (UPSCALE_FILTERS) where the sizes differ, texel for texel where not."""
        fbo.use()
        fbo.viewport = viewport
        tex.use(_FRAME_UNIT)
        prog, vao = self._blit, self._blit_vao
        if self.upscale == "catmull-rom" and tuple(tex.size) != tuple(viewport[2:]):
            if self._bicubic is None:
                bicubic = gl.link(self.ctx, glsl.load("blit_bicubic.frag"))
                self._bicubic = (bicubic, self._fullscreen(bicubic))
            prog, vao = self._bicubic
        prog["u_frame"].value = _FRAME_UNIT
        vao.render()

    def draw_overlay(self, rgba: np.ndarray, fbo: moderngl.Framebuffer,
                     viewport: tuple[int, int, int, int]) -> None:
        """Blend an RGBA uint8 image ((H, W, 4), top row first, straight alpha) over ``fbo``
        inside ``viewport``. Uploads only when given a different array object than last time."""
        if self._overlay is None:
            self._overlay = gl.link(self.ctx, glsl.load("overlay.frag"))
            self._overlay_vao = self._fullscreen(self._overlay)
        h, w = rgba.shape[:2]
        if self._overlay_tex is None or self._overlay_tex.size != (w, h):
            if self._overlay_tex is not None:
                self._overlay_tex.release()
            self._overlay_tex = self.ctx.texture((w, h), 4, dtype="f1")
            self._overlay_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            self._overlay_src = None
        if rgba is not self._overlay_src:
            self._overlay_tex.write(np.ascontiguousarray(rgba[::-1], dtype=np.uint8).tobytes())
            self._overlay_src = rgba
        fbo.use()
        fbo.viewport = viewport
        self._overlay_tex.use(_OVERLAY_UNIT)
        self._overlay["u_overlay"].value = _OVERLAY_UNIT
        self.ctx.enable(moderngl.BLEND)
        # Keep the destination alpha: the window must stay opaque under a compositor.
        self.ctx.blend_func = (moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA,
                               moderngl.ZERO, moderngl.ONE)
        self._overlay_vao.render()
        self.ctx.disable(moderngl.BLEND)

    def gl_objects(self) -> dict[str, int]:
        """Counts of the GL objects this renderer holds, and of the cpu path's per-size frame
        arrays (for soak tests: they must stay flat)."""
        return {
            "programs": len(self._programs),
            "special_programs": len(self._special.programs),
            "targets": len(self._targets),
            "vaos": len(self._vao_cache),
            "weights": int(self._weights is not None),
            "read_pools": len(self._read_buffers),
            "read_buffers": sum(len(p) for p in self._read_buffers.values()),
            "texture": int(self._texture is not None),
            "overlay": sum(o is not None for o in (self._overlay, self._overlay_vao,
                                                    self._overlay_tex)),
            "special_procs": int(self._special.child.proc is not None),
            "arch_procs": int(self._arch_child.proc is not None),
            "parallel_programs": int(self._parallel is not None and self._parallel.pending),
            "cpu_outputs": len(self._outputs) + len(self._outputs_progs),
            "cpu_frames": len(self._frames),
            # the zeros warm-up draws bind: made at the first new architecture, then one
            "zero_weights": int(self._zero_weights is not None),
            "captures": len(self._captures),
        }

    def cache_stats(self) -> dict[str, dict[str, int]]:
        """Hits, misses and evictions of each LRU cache (they grow: not for soak comparisons)."""
        caches = {"programs": self._programs, "special_programs": self._special.programs,
                  "targets": self._targets, "read_pools": self._read_buffers,
                  "cpu_outputs": self._outputs, "cpu_frames": self._frames}
        return {name: {"hits": c.hits, "misses": c.misses, "evictions": c.evictions}
                for name, c in caches.items()}

    def release(self) -> None:
        if self._cpu is not None:
            self._cpu.release()
        self._outputs.clear()
        for prog in self._outputs_progs.values():
            prog.release()
        self._outputs_progs.clear()
        self._frames.clear()
        self._special.release()
        self._arch_child.stop()
        if self._parallel is not None:
            self._parallel.stop()
        self.forget_programs()
        self.release_targets()
        while self._captures:
            self._release_target(*self._captures.pop())
        self._release_weights()
        if self._zero_weights is not None:
            self._zero_weights[1].release()
            self._zero_weights = None
        self.set_texture(None)
        self._read_buffers.clear()
        self._blit_vao.release()
        self._blit.release()
        if self._bicubic is not None:
            self._bicubic[1].release()
            self._bicubic[0].release()
        for obj in (self._overlay_vao, self._overlay, self._overlay_tex):
            if obj is not None:
                obj.release()
