"""The CPU path: the network evaluated with numpy on the host's cores, for software OpenGL.

Where OpenGL is a software rasterizer (Mesa llvmpipe: no GPU), a shader runs on the same CPU
cores this does, but its JIT reaches about a quarter of their float32 peak: it vectorises 8
pixels wide with every weight a broadcast, and keeps no register blocking. Matrix products
through BLAS reach more than half of it, and numpy's vectorised tanh, sin and exp are a few
times cheaper than the shader's. So on such a machine the renderer evaluates the network here,
chunk by chunk on a thread pool: 1.06-3x faster than even a constants-baked shader across
the width/depth sweep (benchmarks/README.md), with nothing to compile when the architecture
changes. Frames in the raw and rgb colour modes are finished here too (``frame``)
and uploaded as they are; the other modes upload the raw outputs (``evaluate``) for a small
colour pass, ``shaders/outputs.frag``.

Plain numpy, no GL: the renderer owns the upload. Rows come in OpenGL's order (bottom row
first), so they go to a texture as they are.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..core import activations
from ..core.errors import CPPNError
from ..core.spec import NetworkSpec, View, check_size, coords
from .driver import SOFTWARE_RENDERERS, DriverProfile  # noqa: F401  (SOFTWARE_RENDERERS: re-exported)

# Floats per chunk activation array: 1 MiB each, so a chunk's working set stays in a core's L2
# (W64: 4096 pixels; measured 3-10% faster than a half or double of it, W16-W64, 2 cores).
CHUNK_FLOATS = 1 << 18
MIN_CHUNK = 1024
MAX_GRIDS = 3
BIAS_ROW = 256  # floats per row when adding a bias (see _add_bias)

# Names GL_RENDERER gives software rasterizers (Mesa, Windows' GDI fallback and WARP through
# Mesa's D3D12 driver, Apple, SwiftShader).
def is_software(gl_renderer: str) -> bool:
    """Whether an OpenGL renderer string names a CPU rasterizer rather than a GPU."""
    return DriverProfile(gl_renderer).software


def _threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _tiled(bias: np.ndarray) -> np.ndarray:
    """A bias repeated to a row of at least BIAS_ROW floats (see ``_add_bias``)."""
    reps = 1 << max(0, (BIAS_ROW // bias.size - 1).bit_length()) if bias.size < BIAS_ROW else 1
    return np.tile(bias.astype(np.float32), reps)


def _add_bias(h: np.ndarray, tiled: np.ndarray) -> None:
    """h += bias, for h (n, width) contiguous. numpy broadcasts a row of 16-32 floats with a
    short inner loop per row, 4-5x slower than adding one long row (measured: 227 vs 45 us for
    32768 x 16), so h is viewed as rows of the tiled bias's length where that divides it."""
    reps = tiled.size // h.shape[1]
    if h.shape[0] % reps == 0:
        rows = h.reshape(-1, tiled.size)  # a view: adding to it adds to h
        rows += tiled
    else:  # a last, odd-sized chunk
        h += tiled[:h.shape[1]]


def _frame_columns(channels: int, mode: str) -> tuple[int | None, ...] | None:
    """Which output feeds each of a frame's r, g, b (None: 0), as colorize() picks them; None
    where frame() does not make that picture."""
    if mode == "rgb" and channels != 2:  # uv networks sample a texture: the colour pass's job
        return (0, 0, 0) if channels == 1 else (0, 1, 2)
    if mode == "raw":  # a texel fetch fills the channels a texture lacks with 0
        return 0, (1 if channels > 1 else None), (2 if channels > 2 else None)
    return None


def can_frame(channels: int, mode: str) -> bool:
    """Whether CpuEvaluator.frame makes the picture of colour mode ``mode`` (else: evaluate
    and the colour pass)."""
    return _frame_columns(channels, mode) is not None


class CpuEvaluator:
    """Evaluates a NetworkSpec for every pixel of an image with numpy; reuses what it can.

    The coordinate grid is kept per size and view, the transposed weights per network, and the
    z-folded first bias is all a new latent changes. Not thread-safe itself: call it from one
    thread (the renderer's).
    """

    def __init__(self, threads: int | None = None) -> None:
        self.threads = max(1, threads or _threads())
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="cppn-cpu")
        # Start every worker now (they meet at a barrier): a pool that grows on first use would
        # add a thread mid-show, whenever a frame first has enough chunks to keep two busy.
        barrier = threading.Barrier(self.threads)
        for f in [self._pool.submit(barrier.wait) for _ in range(self.threads)]:
            f.result()
        self._blas = None  # threadpoolctl controller, made on first use
        # (w, h, view...) -> (H * W, inputs) float32, bottom row first. A few, not one: the uv
        # probe and the liveliness check draw other sizes between a window's frames.
        self._grids: dict[tuple, np.ndarray] = {}
        self._spec: NetworkSpec | None = None
        # (in, out) weight, tiled bias, activation; layer 0's bias is _first_bias (z folded in)
        self._layers: list[tuple[np.ndarray, np.ndarray | None, object]] = []
        self._first_bias: np.ndarray | None = None
        # Two hidden-layer buffers per worker, reused every frame: allocating them per chunk
        # costs page faults (measured: 1-3% of a frame on two threads, 25% on one). Keyed by
        # their size in floats.
        self._buffers: queue.SimpleQueue = queue.SimpleQueue()
        self._buffer_floats = 0

    def set_network(self, spec: NetworkSpec, z: np.ndarray | None) -> None:
        first_bias = _tiled(spec.first_bias(z))  # a bad z raises before anything changes
        if spec is not self._spec:
            n_in = len(spec.inputs)
            self._layers = [
                (np.ascontiguousarray(lay.weight[:, :n_in].T if i == 0 else lay.weight.T),
                 _tiled(lay.bias) if i else None, activations.get(lay.activation).numpy)
                for i, lay in enumerate(spec.layers)
            ]
            self._spec = spec
        self._first_bias = first_bias

    def set_latent(self, z: np.ndarray | None) -> None:
        self._first_bias = _tiled(self._need_spec().first_bias(z))

    def _need_spec(self) -> NetworkSpec:
        if self._spec is None:
            raise CPPNError("no network set: call set_network first")
        return self._spec

    def grid(self, size: tuple[int, int], view: View) -> np.ndarray:
        """The network's input features per pixel: (H * W, inputs) float32, bottom row first."""
        spec = self._need_spec()
        w, h = check_size(size)
        key = (w, h, spec.inputs, spec.scale, view.zoom, tuple(view.center), view.symmetry)
        grid = self._grids.pop(key, None)
        if grid is None:
            while len(self._grids) >= MAX_GRIDS:  # a 4K grid is 100 MB: old ones go first
                self._grids.pop(next(iter(self._grids)))
            g = coords((w, h), spec.inputs, spec.scale, view)[::-1]  # (H, W, inputs), GL order
            grid = np.ascontiguousarray(g.reshape(-1, len(spec.inputs)), dtype=np.float32)
        self._grids[key] = grid  # most recently used last
        return grid

    def evaluate(self, size: tuple[int, int], view: View | None = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        """The raw outputs of every pixel: (H * W, out_channels) float32, bottom row first.

        ``out``, if given, is filled and returned: a caller drawing every frame keeps one, since
        a fresh 4K array is 100 MB of page faults a frame.
        """
        spec = self._need_spec()
        return self._run(size, view, out, spec.out_channels, self._current_layers())

    def frame(self, size: tuple[int, int], view: View | None = None, mode: str = "rgb",
              out: np.ndarray | None = None) -> np.ndarray:
        """The picture colorize() makes in colour mode ``mode`` ("raw": outputs as they are,
        "rgb": clamped to 0..1, mono as grey): (H * W, 4) RGBA float32, bottom row first.

        The last layer is widened to the four channels (a picked or zero column each), so the
        workers finish each chunk in place. On llvmpipe this saves the colour pass: a full-screen
        pass writing rgba32f costs 9.7 ms at 1080p before it colours anything, and uploading the
        finished frame is a 2.5 ms copy.
        """
        channels = self._need_spec().out_channels
        cols = _frame_columns(channels, mode)
        if cols is None:
            raise CPPNError(f"no cpu frame for colour mode {mode!r} with {channels} outputs")
        layers = self._current_layers()
        weight, bias, act = layers[-1]
        n_out = weight.shape[1]
        pick = [n_out if c is None else c for c in cols] + [n_out]  # n_out: a zero column
        weight = np.pad(weight, ((0, 0), (0, 1)))[:, pick]
        bias = _tiled(np.append(bias[:n_out], 0.0)[pick])
        zeros = tuple(i for i, c in enumerate(cols) if c is None)

        def finish(rgba: np.ndarray) -> None:
            # NaN and infinity (a tan pole, an overflow) are 0 in every mode, before the clamp,
            # as colorize() makes them. A sum is one pass: it is not finite if any value is not
            # (or if finite ones overflow it, which only costs the exact check).
            if not np.isfinite(rgba.sum()):
                rgba[~np.isfinite(rgba)] = 0.0
            if mode == "rgb":
                np.clip(rgba, 0.0, 1.0, out=rgba)
            for i in zeros:
                rgba[:, i] = 0.0
            rgba[:, 3] = 1.0

        layers[-1] = (weight, bias, act)
        return self._run(size, view, out, 4, layers, finish)

    def _current_layers(self) -> list[tuple[np.ndarray, np.ndarray, object]]:
        """(weight, tiled bias, activation) per layer, layer 0's bias with the latent folded in."""
        weight, _, act = self._layers[0]
        return [(weight, self._first_bias, act), *self._layers[1:]]

    def _run(self, size: tuple[int, int], view: View | None, out: np.ndarray | None,
             channels: int, layers: list, finish: Callable[[np.ndarray], None] | None = None,
             ) -> np.ndarray:
        """Every chunk through ``layers`` into ``out`` (n, channels), the last layer writing
        there directly; ``finish`` then runs on each chunk's rows of ``out``."""
        spec = self._need_spec()
        grid = self.grid(size, view or View())
        n = grid.shape[0]
        if out is None:
            out = np.empty((n, channels), np.float32)
        elif out.shape != (n, channels) or out.dtype != np.float32:
            raise CPPNError(f"out must be float32 {(n, channels)}, got {out.dtype} {out.shape}")
        widest = max(lay.weight.shape[0] for lay in spec.layers)
        chunk = max(MIN_CHUNK, CHUNK_FLOATS // widest)
        buffers = self._take_buffers(chunk * widest)

        def run(start: int) -> None:
            a, b = buffers.get()
            # An overflowing network gives inf and NaN silently, as a shader does, where numpy
            # would warn for every chunk. errstate is per thread, so it is set here.
            try:
                with np.errstate(all="ignore"):
                    h = grid[start:start + chunk]
                    m = h.shape[0]
                    for i, (weight, bias, act) in enumerate(layers):
                        if i == len(layers) - 1:
                            dst = out[start:start + m]
                        else:
                            dst = a[:m * weight.shape[1]].reshape(m, weight.shape[1])
                            a, b = b, a
                        np.matmul(h, weight, out=dst)
                        _add_bias(dst, bias)
                        act(dst)
                        h = dst
                    if finish is not None:
                        finish(h)
            finally:
                buffers.put((a, b))

        starts = range(0, n, chunk)
        # One BLAS thread per worker: the pool already uses every core, and a multi-threaded
        # BLAS inside each worker oversubscribes them (measured 2x slower on 2 cores). Also with
        # one worker: OpenBLAS splits a product over its threads with other edge tiles, so a
        # chunk would not be the same computation (the same bits) on every evaluator.
        with self._blas_limit():
            if self.threads == 1 or len(starts) == 1:
                for s in starts:
                    run(s)
            else:
                for f in [self._pool.submit(run, s) for s in starts]:
                    f.result()  # re-raises a worker's exception here
        return out

    def _take_buffers(self, floats: int) -> queue.SimpleQueue:
        if floats != self._buffer_floats:  # another widest layer or chunk: new buffers
            self._buffers = queue.SimpleQueue()
            for _ in range(self.threads):  # one pair per worker: a chunk never waits for one
                self._buffers.put((np.empty(floats, np.float32), np.empty(floats, np.float32)))
            self._buffer_floats = floats
        return self._buffers

    def _blas_limit(self):
        if self._blas is None:  # imported here: a GPU machine never needs it
            from threadpoolctl import ThreadpoolController

            self._blas = ThreadpoolController()
        return self._blas.limit(limits=1, user_api="blas")

    def release(self) -> None:
        # Queued chunks are a frame nobody will see: dropped, not computed.
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._grids.clear()
        self._buffers, self._buffer_floats = queue.SimpleQueue(), 0
