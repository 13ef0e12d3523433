"""Compiles on the driver's own threads (GL_KHR_parallel_shader_compile / the ARB one).

moderngl's ``ctx.program`` and ``ctx.compute_shader`` ask for the compile and link status at
once, which waits for the whole compile, and it cannot wrap a GL program made elsewhere. So a
new architecture's program is first compiled here through raw GL calls on the current context
(ctypes), never asking for a status that blocks: ``poll`` reads only COMPLETION_STATUS_KHR,
which the extension defines never to block. Once the driver reports it done, the renderer
builds its moderngl program from the same text: the driver's shader cache then holds it (an
in-memory cache in Mesa's GPU drivers and NVIDIA's, the disk cache besides), and ``missed``
says when that rebuild was not a cache hit.

On llvmpipe (Mesa 22.3) the extension is advertised but the link runs in the calling thread
and COMPLETION_STATUS is true at the first query; its JIT runs at the first draw. There the
renderer keeps its child-process compiles (``DriverProfile.compiles_in_parallel``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import time
from collections.abc import Callable

# A rebuild slower than HIT_BUDGET_S, and than MISS_FRACTION of the driver's own compile,
# compiled the program again (a cache hit costs milliseconds): the child compiles' rule.
from .background import HIT_BUDGET_S, MISS_FRACTION, MISSES_IN_A_ROW

GL_FRAGMENT_SHADER = 0x8B30
GL_VERTEX_SHADER = 0x8B31
GL_COMPUTE_SHADER = 0x91B9
GL_LINK_STATUS = 0x8B82
GL_INFO_LOG_LENGTH = 0x8B84
GL_COMPLETION_STATUS = 0x91B1  # the KHR and ARB extensions share the value
ALL_THREADS = 0xFFFFFFFF  # glMaxShaderCompilerThreadsKHR: the implementation's maximum

_u = ctypes.c_uint
_SIGNATURES: dict[str, tuple] = {
    "glCreateShader": (_u, [_u]),
    "glShaderSource": (None, [_u, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p), ctypes.c_void_p]),
    "glCompileShader": (None, [_u]),
    "glCreateProgram": (_u, []),
    "glAttachShader": (None, [_u, _u]),
    "glDeleteShader": (None, [_u]),
    "glLinkProgram": (None, [_u]),
    "glGetProgramiv": (None, [_u, _u, ctypes.POINTER(ctypes.c_int)]),
    "glGetProgramInfoLog": (None, [_u, ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p]),
    "glDeleteProgram": (None, [_u]),
}


def _proc_address_lookup() -> Callable[[bytes], int] | None:
    """The current context's GetProcAddress: EGL's, GLX's or WGL's, whichever has a context
    current on this thread (None where none does). GLVND's entry points dispatch to it."""
    candidates = []
    if sys.platform == "win32":
        candidates.append(("opengl32", "wglGetCurrentContext", "wglGetProcAddress"))
    else:
        candidates += [(ctypes.util.find_library("EGL") or "libEGL.so.1",
                        "eglGetCurrentContext", "eglGetProcAddress"),
                       (ctypes.util.find_library("GL") or "libGL.so.1",
                        "glXGetCurrentContext", "glXGetProcAddressARB")]
    for lib, current, lookup in candidates:
        try:
            dll = ctypes.CDLL(lib)
            get_current, get_proc = getattr(dll, current), getattr(dll, lookup)
        except (OSError, AttributeError):
            continue
        get_current.restype = ctypes.c_void_p
        if not get_current():
            continue
        get_proc.restype = ctypes.c_void_p
        get_proc.argtypes = [ctypes.c_char_p]
        return lambda name, f=get_proc: f(name) or 0
    return None


class _GL:
    """The few GL entry points a parallel compile needs, from the current context."""

    def __init__(self, lookup: Callable[[bytes], int]) -> None:
        factory = ctypes.WINFUNCTYPE if sys.platform == "win32" else ctypes.CFUNCTYPE
        for name, (res, args) in _SIGNATURES.items():
            addr = lookup(name.encode())
            if not addr:
                raise OSError(f"no {name}")
            setattr(self, name, factory(res, *args)(addr))
        addr = lookup(b"glMaxShaderCompilerThreadsKHR") or lookup(b"glMaxShaderCompilerThreadsARB")
        if not addr:
            raise OSError("no glMaxShaderCompilerThreadsKHR")
        self.glMaxShaderCompilerThreads = factory(None, _u)(addr)

    def program_int(self, prog: int, pname: int) -> int:
        value = ctypes.c_int(0)
        self.glGetProgramiv(prog, pname, ctypes.byref(value))
        return value.value

    def info_log(self, prog: int) -> str:
        n = self.program_int(prog, GL_INFO_LOG_LENGTH)
        buf = ctypes.create_string_buffer(max(n, 1))
        self.glGetProgramInfoLog(prog, len(buf), None, buf)
        return buf.value.decode(errors="replace")


class ParallelCompile:
    """One program at a time compiling on the driver's threads, keyed like the renderer's
    program cache. Use it from the thread whose context is current (the render thread)."""

    def __init__(self, gl: _GL) -> None:
        self._gl = gl
        self.key: tuple | None = None
        self.program = 0  # the raw GL program name while one is pending
        self.started = 0.0
        self.seconds = 0.0  # how long the last one took to complete, as polled
        self.log = ""  # the driver's link log of the last failure
        self.misses = 0

    @classmethod
    def for_current_context(cls) -> ParallelCompile | None:
        """One for the context current on this thread, or None where the driver's entry
        points cannot be found (the renderer then compiles the way it did)."""
        lookup = _proc_address_lookup()
        if lookup is None:
            return None
        try:
            gl = _GL(lookup)
        except OSError:
            return None
        gl.glMaxShaderCompilerThreads(ALL_THREADS)  # this context's: the driver's own choice
        return cls(gl)

    @property
    def pending(self) -> bool:
        return self.program != 0

    def start(self, key: tuple, stages: list[tuple[int, str]]) -> None:
        """Compile and link ``stages`` ((GL shader type, source), ...) without waiting."""
        self.stop()
        gl = self._gl
        self.key, self.started = key, time.monotonic()
        prog = gl.glCreateProgram()
        shaders = []
        for kind, text in stages:
            shader = gl.glCreateShader(kind)
            src = ctypes.c_char_p(text.encode())
            gl.glShaderSource(shader, 1, ctypes.byref(src), None)
            gl.glCompileShader(shader)
            gl.glAttachShader(prog, shader)
            shaders.append(shader)
        gl.glLinkProgram(prog)
        for shader in shaders:  # attached: freed with the program
            gl.glDeleteShader(shader)
        self.program = prog

    def poll(self, key: tuple) -> str:
        """'idle' (nothing pending for ``key``), 'running', or once complete 'done' / 'failed'
        (reported once; the raw program is then deleted). One non-blocking query a call."""
        if not self.program or self.key != key:
            return "idle"
        if not self._gl.program_int(self.program, GL_COMPLETION_STATUS):
            return "running"
        self.seconds = time.monotonic() - self.started
        linked = self._gl.program_int(self.program, GL_LINK_STATUS)
        self.log = "" if linked else self._gl.info_log(self.program)
        self.stop()
        self.key = key
        return "done" if linked else "failed"

    def missed(self, rebuild_s: float) -> bool:
        """Whether the rebuild from the same text compiles again (no shared cache): the
        MISSES_IN_A_ROW-th slow rebuild in a row."""
        slow = rebuild_s > max(HIT_BUDGET_S, MISS_FRACTION * self.seconds)
        self.misses = self.misses + 1 if slow else 0
        return self.misses >= MISSES_IN_A_ROW

    def stop(self) -> None:
        """Drop the pending program (the performer moved on, or the renderer goes)."""
        if self.program:
            self._gl.glDeleteProgram(self.program)
            self.program = 0
        self.key = None
