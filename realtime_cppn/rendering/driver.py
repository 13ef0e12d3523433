"""What the renderer knows about a GL driver: a DriverProfile built from its strings and limits.

Plain values only (no moderngl): ``profile`` takes what a context reports (``ctx.info``, its
version and extensions), so every decision here is unit-tested from strings without a GPU.
The decisions: which shader path a GPU runs the network on, whether specialising (baking the
weights into a program compiled by a child process) pays, whether new architectures compile
on the driver's own threads (GL_KHR_parallel_shader_compile), and how large a network's
uniform blocks can be.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# CPU rasterizers: the cpu path (numpy) outruns their shader JIT on the same cores.
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software rasterizer", "gdi generic",
                      "basic render driver", "swiftshader", "apple software renderer")
# Datacenter GPUs whose pixel shaders run on a few of their SMs only (H100/H200: 4 of 132 GPCs'
# worth of raster units): a compute shader reaches the whole chip.
COMPUTE_FIRST = ("h100", "h200", "h800", "gh200", "a100", "a800", "b100", "b200")
# GL's own minimums, used where a context does not report a limit.
GL_MIN_UBO = 16384
GL_MIN_BLOCKS = 12
GL_MIN_UBO_ALIGNMENT = 256  # the largest any driver asks for; 16 where the driver says so
PARALLEL_COMPILE = ("GL_KHR_parallel_shader_compile", "GL_ARB_parallel_shader_compile")


@dataclass(frozen=True)
class DriverProfile:
    renderer: str  # GL_RENDERER
    vendor: str = ""
    version_code: int = 330  # 330, 410, 430, 460...
    max_ubo: int = GL_MIN_UBO  # bytes per uniform block
    ubo_alignment: int = GL_MIN_UBO_ALIGNMENT  # bytes a bound block range must start at
    max_fragment_blocks: int = GL_MIN_BLOCKS
    max_compute_blocks: int = GL_MIN_BLOCKS
    parallel_compile: bool = False  # GL_KHR_parallel_shader_compile or the ARB one
    loop_macs: int = 0  # loop_above's value where set (tests); 0: by the kind of driver
    compute_pixels: int = 0  # pixels per compute invocation where set (tests); 0: by the kind
    parallel_forced: bool = False  # tests: compile on the driver's threads on software too

    @property
    def software(self) -> bool:
        """A CPU rasterizer rather than a GPU."""
        name = self.renderer.lower()
        return any(s in name for s in SOFTWARE_RENDERERS)

    @property
    def llvmpipe(self) -> bool:
        return "llvmpipe" in self.renderer.lower()

    @property
    def has_compute(self) -> bool:
        return self.version_code >= 430

    @property
    def has_ssbo(self) -> bool:
        return self.version_code >= 430

    @property
    def compute_preferred(self) -> bool:
        """Pixel shaders reach only part of this chip: run the network as a compute shader."""
        name = self.renderer.lower()
        return self.has_compute and any(g in name for g in COMPUTE_FIRST)

    @property
    def slow_compiles(self) -> bool:
        """Compiles take seconds (a software JIT): worth doing in a child process, and a baked
        program (2-4x faster there) is worth its own compile."""
        return self.software

    @property
    def compiles_in_parallel(self) -> bool:
        """A new architecture compiles on the driver's own threads while the current program
        draws (rendering/parallel.py): GPU drivers with GL_KHR_parallel_shader_compile. Not on
        llvmpipe, which advertises it but links in the calling thread (Mesa 22.3: complete at
        the first query) and JITs at the first draw; its child-process compiles stay."""
        return self.parallel_compile and (self.parallel_forced or not self.software)

    @property
    def loop_above(self) -> int:
        """Multiply-adds per pixel above which runtime programs loop over identical hidden
        layers (glsl.LOOP_MACS_*): software JITs compile long straight-line code slowly."""
        if self.loop_macs:
            return self.loop_macs
        return 8192 if self.software else 32768

    def pixels(self, path: str) -> int:
        """Pixels per invocation of the runtime program under ``path``. One on GPUs (four in
        vec4 lanes take every register and spill at W32); four under compute on a software
        rasterizer, whose SIMD lanes are the CPU's and where each weight fetch then serves four
        pixels (3.6-5.5x faster on llvmpipe, benchmarks/README.md)."""
        if path != "compute":
            return 1
        return self.compute_pixels or (4 if self.software else 1)

    def auto_path(self) -> str:
        """The path ``path="auto"`` runs: numpy on a software rasterizer (its BLAS outruns the
        shader JIT on the same cores); on GPUs the fragment shader (one pixel per invocation,
        the only path on macOS GL 4.1) unless compute reaches more of the chip."""
        if self.software:
            return "cpu"
        return "compute" if self.compute_preferred else "fragment"

    def specializes(self, path: str) -> bool:
        """Whether baking weights into a program of their own pays under ``path``: only where
        compiles are slow because the JIT is the machine (llvmpipe), whose baked programs run
        2-4x faster. On GPUs a baked program compiles to the same instructions as the one
        reading literal uniform indices, so it would only cost a process per reseed."""
        return self.llvmpipe and path in ("fragment", "compute")

    def max_blocks(self, path: str) -> int:
        return self.max_compute_blocks if path == "compute" else self.max_fragment_blocks

    def block_vec4s(self) -> int:
        """vec4s per uniform block of a network split over several: the largest block whose
        byte size is a multiple of the offset alignment, so block b starts at b * that size."""
        align = max(16, self.ubo_alignment)
        return max(align, self.max_ubo // align * align) // 16

    def storage(self, size: int, path: str) -> str:
        """Where ``size`` vec4s of weights live: one uniform block, or several (bound ranges of
        one buffer), then a storage buffer (GL 4.3), then the texture. On llvmpipe the texture:
        its JIT compiles uniform-block indexing ~30x slower than texel fetches."""
        if self.llvmpipe:
            return "texture"
        if 16 * size <= self.max_ubo:
            return "ubo"
        if -(-size // self.block_vec4s()) <= self.max_blocks(path):
            return "ubo"
        return "ssbo" if self.has_ssbo else "texture"

    def block(self, size: int, storage: str) -> int | None:
        """vec4s per uniform block for ``size`` vec4s in ``storage`` (None: one block, or no
        uniform block at all): part of the program's source and its cache key."""
        if storage != "ubo" or 16 * size <= self.max_ubo:
            return None
        return self.block_vec4s()


def _int(info: Mapping, key: str, default: int) -> int:
    try:
        value = info.get(key, default)
        return int(value[0] if isinstance(value, (tuple, list)) else value)
    except (TypeError, ValueError):
        return default


def profile(info: Mapping, version_code: int, extensions: Iterable[str] = ()) -> DriverProfile:
    """A DriverProfile from what a context reports (moderngl: ``ctx.info``,
    ``ctx.version_code``, ``ctx.extensions``)."""
    ext = set(extensions)
    return DriverProfile(
        renderer=str(info.get("GL_RENDERER", "?")),
        vendor=str(info.get("GL_VENDOR", "")),
        version_code=int(version_code),
        max_ubo=_int(info, "GL_MAX_UNIFORM_BLOCK_SIZE", GL_MIN_UBO),
        ubo_alignment=_int(info, "GL_UNIFORM_BUFFER_OFFSET_ALIGNMENT", GL_MIN_UBO_ALIGNMENT),
        max_fragment_blocks=_int(info, "GL_MAX_FRAGMENT_UNIFORM_BLOCKS", GL_MIN_BLOCKS),
        max_compute_blocks=_int(info, "GL_MAX_COMPUTE_UNIFORM_BLOCKS", GL_MIN_BLOCKS),
        parallel_compile=any(e in ext for e in PARALLEL_COMPILE),
    )


# A desktop GPU as NVIDIA's and AMD's drivers report one (64 KiB uniform blocks bound at 256-byte
# offsets, 14 blocks a stage): what `realtime-cppn shader` and benchmarks/bench_shaders.py write
# programs for, since neither has the GPU's context to ask.
DESKTOP_GPU = DriverProfile("a desktop GPU (NVIDIA, AMD)", version_code=460, max_ubo=65536,
                            ubo_alignment=256, max_fragment_blocks=14, max_compute_blocks=14)


def program_source(profile: DriverProfile, spec, path: str, storage: str | None = None,
                   image_format: str = "rgba32f", pixels: int | None = None) -> tuple[str, str]:
    """(source, storage): the runtime program a renderer with ``profile`` compiles for ``spec``
    under ``path``, in ``storage`` or the one the profile picks."""
    from .codegen import glsl

    size = glsl.layout(spec).size
    storage = storage or profile.storage(size, path)
    return glsl.source(spec, path, storage, image_format, pixels=pixels or profile.pixels(path),
                       block=profile.block(size, storage), loop_above=profile.loop_above), storage
