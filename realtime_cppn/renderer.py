"""The renderer: the only module that talks to OpenGL (moderngl).

It compiles one program per network architecture (cached; reseeds and morphs only upload data),
keeps the packed weights in a float texture or a std140 uniform block, evaluates the network for
every pixel of a target (a fragment pass over a full-screen triangle, or a compute pass that
writes four pixels per invocation), and shows or reads back the result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import moderngl
import numpy as np

from . import glsl
from .errors import CPPNError
from .spec import NetworkSpec, View, check_size

_DTYPES = {"f4": "rgba32f", "f1": "rgba8"}
_WEIGHT_UNIT = 0
_FRAME_UNIT = 1
_OVERLAY_UNIT = 2


def create_headless_context() -> moderngl.Context:
    """A standalone OpenGL context through EGL: no window or display needed."""
    try:
        return moderngl.create_standalone_context(backend="egl")
    except Exception as exc:  # moderngl raises bare Exception for a missing libEGL or driver
        try:
            return moderngl.create_standalone_context()
        except Exception:
            raise CPPNError(
                f"no headless OpenGL context (EGL): {exc}; install Mesa "
                "(apt-get install libegl1 libgl1) or a GPU driver"
            ) from None


@dataclass
class Stats:
    compiles: int = 0
    compile_seconds: float = 0.0
    uploads: int = 0


class Renderer:
    """Evaluates NetworkSpecs on the GPU. Not thread-safe: use it from the GL context's thread."""

    def __init__(
        self,
        ctx: moderngl.Context | None = None,
        path: str = "auto",
        storage: str = "auto",
    ) -> None:
        self.ctx = ctx or create_headless_context()
        info = self.ctx.info
        self.gl_renderer: str = info.get("GL_RENDERER", "?")
        self.max_texture: int = int(info.get("GL_MAX_TEXTURE_SIZE", 4096))
        vp = info.get("GL_MAX_VIEWPORT_DIMS", (self.max_texture, self.max_texture))
        self.max_size = min(self.max_texture, *vp)
        self.max_ubo: int = int(info.get("GL_MAX_UNIFORM_BLOCK_SIZE", 16384))
        self.has_compute = self.ctx.version_code >= 430
        if path == "auto":
            # Measured on llvmpipe and H200 (benchmarks/): four pixels per compute invocation
            # amortise each weight fetch; GL < 4.3 (macOS) has only the fragment path.
            path = "compute" if self.has_compute else "fragment"
        if path not in glsl.PATHS:
            raise CPPNError(f"unknown render path {path!r}; valid: auto, {', '.join(glsl.PATHS)}")
        if path == "compute" and not self.has_compute:
            raise CPPNError(f"the compute path needs OpenGL 4.3; this context is {self.ctx.version_code}")
        self.path = path
        if storage not in ("auto", "texture", "ubo"):
            raise CPPNError(f"unknown weight storage {storage!r}; valid: auto, texture, ubo")
        self.storage_pref = storage
        self.stats = Stats()
        self.spec: NetworkSpec | None = None
        self._programs: dict[tuple, moderngl.Program | moderngl.ComputeShader] = {}
        self._weights: moderngl.Texture | moderngl.Buffer | None = None
        self._weights_key: tuple | None = None
        self._targets: dict[tuple, tuple[moderngl.Texture, moderngl.Framebuffer | None]] = {}
        self._vao_cache: dict[int, moderngl.VertexArray] = {}
        self._blit = self.ctx.program(
            vertex_shader=glsl.load("fullscreen.vert"), fragment_shader=glsl.load("blit.frag")
        )
        self._blit_vao = self._fullscreen(self._blit)

    # --- network ------------------------------------------------------------------------------

    def storage_for(self, spec: NetworkSpec) -> str:
        if self.storage_pref != "auto":
            if self.storage_pref == "ubo" and 16 * glsl.layout(spec).size > self.max_ubo:
                raise CPPNError(
                    f"the network needs {16 * glsl.layout(spec).size} bytes of uniform block; "
                    f"this GPU allows {self.max_ubo} (use the texture storage)"
                )
            return self.storage_pref
        # llvmpipe compiles uniform-block indexing ~30x slower than texel fetches and runs it ~2x
        # slower (benchmarks/); elsewhere the uniform block is the constant-cache-friendly choice.
        if "llvmpipe" in self.gl_renderer or 16 * glsl.layout(spec).size > self.max_ubo:
            return "texture"
        return "ubo"

    def set_network(self, spec: NetworkSpec, z: np.ndarray | None = None) -> None:
        """Make ``spec`` current: compiles only for a new architecture, else uploads weights."""
        rows = -(-glsl.layout(spec).size // glsl.TEXTURE_WIDTH)
        if rows > self.max_texture:
            raise CPPNError(
                f"the network's {glsl.layout(spec).size} weight texels exceed this GPU's "
                f"{glsl.TEXTURE_WIDTH}x{self.max_texture} texture limit"
            )
        self._program(spec, "rgba32f")  # compile (or fetch) before touching state
        self.spec = spec
        self._upload(glsl.pack(spec, z))

    def set_latent(self, z: np.ndarray | None) -> None:
        """Fold a new z into the first layer's bias: a few texels, every frame."""
        spec = self._need_spec()
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
        if storage == "texture":
            rows = -(-n // glsl.TEXTURE_WIDTH)
            padded = np.zeros((rows * glsl.TEXTURE_WIDTH, 4), np.float32)
            padded[:n] = data
            key = ("texture", rows)
            if self._weights_key != key:
                self._release_weights()
                self._weights = self.ctx.texture((glsl.TEXTURE_WIDTH, rows), 4, dtype="f4")
                self._weights.filter = (moderngl.NEAREST, moderngl.NEAREST)
                self._weights_key = key
            self._weights.write(padded.tobytes())
        else:
            key = ("ubo", n)
            if self._weights_key != key:
                self._release_weights()
                self._weights = self.ctx.buffer(reserve=16 * n)
                self._weights_key = key
            self._weights.write(data.tobytes())
        self.stats.uploads += 1

    def _release_weights(self) -> None:
        if self._weights is not None:
            self._weights.release()
        self._weights = None
        self._weights_key = None

    def _program(self, spec: NetworkSpec, image_format: str):
        storage = self.storage_for(spec)
        fmt = image_format if self.path == "compute" else ""
        key = (spec.architecture, self.path, storage, fmt)
        prog = self._programs.get(key)
        if prog is not None:
            return prog
        source = glsl.source(spec, self.path, storage, image_format)
        t0 = time.perf_counter()
        try:
            if self.path == "compute":
                prog = self.ctx.compute_shader(source)
            else:
                prog = self.ctx.program(
                    vertex_shader=glsl.load("fullscreen.vert"), fragment_shader=source
                )
        except Exception as exc:  # moderngl reports compile and link errors as plain Exception
            first = str(exc).strip().splitlines()
            raise CPPNError(
                f"the GPU could not compile this network ({self.path} path): "
                f"{' '.join(first[:3])[:300]}"
            ) from None
        self.stats.compiles += 1
        self.stats.compile_seconds += time.perf_counter() - t0
        if storage == "texture":
            prog["u_weights"].value = _WEIGHT_UNIT
        elif "Weights" in prog:
            prog["Weights"].binding = 0
        self._programs[key] = prog
        return prog

    def forget_programs(self) -> None:
        """Release every compiled network program (the next draw recompiles)."""
        for prog in self._programs.values():
            prog.release()
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
        key = (w, h, dtype)
        if key not in self._targets:
            tex = self.ctx.texture((w, h), 4, dtype=dtype)
            tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            fbo = self.ctx.framebuffer(color_attachments=[tex]) if self.path == "fragment" else None
            self._targets[key] = (tex, fbo)
        return self._targets[key][0]

    def release_targets(self, keep: tuple[int, int] | None = None) -> None:
        """Free cached frame textures (all, or all but those of size ``keep``)."""
        for key in list(self._targets):
            if keep is None or key[:2] != tuple(keep):
                tex, fbo = self._targets.pop(key)
                if fbo is not None:
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
        prog = self._program(spec, _DTYPES[dtype])
        prog["u_resolution"].value = (float(w), float(h))
        prog["u_center"].value = tuple(float(c) for c in view.center)
        prog["u_scale"].value = float(spec.scale / view.zoom)
        prog["u_symmetry"].value = view.symmetry_code
        prog["u_color_mode"].value = 1 if display else 0
        self._bind_weights()
        if self.path == "compute":
            tex.bind_to_image(0, read=False, write=True)
            prog.run(-(-w // 16), -(-h // 16))
            self.ctx.memory_barrier()
        else:
            fbo = self._targets[(w, h, dtype)][1]
            fbo.use()
            fbo.viewport = (0, 0, w, h)
            self._vao(prog).render()
        return tex

    def _vao(self, prog) -> moderngl.VertexArray:
        vao = self._vao_cache.get(prog.glo)
        if vao is None:
            vao = self._vao_cache[prog.glo] = self._fullscreen(prog)
        return vao

    def _bind_weights(self) -> None:
        if isinstance(self._weights, moderngl.Texture):
            self._weights.use(_WEIGHT_UNIT)
        else:
            self._weights.bind_to_uniform_block(0)

    def read(self, tex: moderngl.Texture, channels: int | None = None) -> np.ndarray:
        """A frame texture as (H, W, channels), top row first: float32 or uint8 by its dtype."""
        w, h = tex.size
        np_dtype = np.float32 if tex.dtype == "f4" else np.uint8
        data = np.frombuffer(tex.read(), dtype=np_dtype).reshape(h, w, 4)[::-1]
        c = channels or (self.spec.out_channels if self.spec else 4)
        return np.ascontiguousarray(data[:, :, :c])

    def present(self, tex: moderngl.Texture, fbo: moderngl.Framebuffer,
                viewport: tuple[int, int, int, int]) -> None:
        """Draw a frame texture onto ``fbo`` (the window) with linear filtering."""
        fbo.use()
        fbo.viewport = viewport
        tex.use(_FRAME_UNIT)
        self._blit["u_frame"].value = _FRAME_UNIT
        self._blit_vao.render()

    def gl_objects(self) -> dict[str, int]:
        """Counts of the GL objects this renderer holds (for soak tests: they must stay flat)."""
        return {
            "programs": len(self._programs),
            "targets": len(self._targets),
            "vaos": len(self._vao_cache),
            "weights": int(self._weights is not None),
        }

    def release(self) -> None:
        self.forget_programs()
        self.release_targets()
        self._release_weights()
        self._blit_vao.release()
        self._blit.release()
