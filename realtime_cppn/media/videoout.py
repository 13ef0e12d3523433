"""Live video out: the program output (no overlays) to a virtual camera, Syphon, Spout or NDI.

Each route is an optional extra whose library is imported only when the route is opened, so the
package never needs them; a missing package, platform, driver or runtime is one CPPNError naming
what to install. Frames go in as the renderer reads them (``Renderer.read``: float32 in [0, 1] or
uint8, (H, W, 1|3|4), top row first) and are converted to the layout each library expects:

=============  ==================  =========================  ======  ==========================
route          package (import)    needs                      layout  alpha
=============  ==================  =========================  ======  ==========================
virtualcam     pyvirtualcam        v4l2loopback (Linux),      RGB     no (cameras carry none)
                                   OBS virtual camera (else)
syphon         syphon-python       macOS 11+ (Metal)          RGBA    yes
spout          SpoutGL             Windows, a current GL ctx  RGBA    yes
ndi            ndi-python (NDIlib) the NDI runtime            BGRA    yes
=============  ==================  =========================  ======  ==========================

Every layout is uint8, top row first, C-contiguous. The conversion and the calls made on each
library are tested against stand-in modules; the NDI route also end to end, with ndi-python's own
receiver on the same machine (NDI compresses every frame, so pixels arrive within a few levels).
virtualcam, Syphon and Spout have not been run on their platforms by the tests.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from ..core.errors import CPPNError

_GL_RGBA = 0x1908  # SpoutGL.sendImage takes a GL format enum; no PyOpenGL needed for one constant


@dataclass(frozen=True)
class Route:
    name: str
    package: str  # what to pip install
    modules: tuple[str, ...]  # what to import
    platforms: tuple[str, ...]  # sys.platform prefixes; () = any
    layout: str  # channel order handed to the library: rgb | rgba | bgra
    needs: str  # drivers / runtimes beyond the package, for the error message

    @property
    def alpha(self) -> bool:
        return "a" in self.layout


ROUTES: dict[str, Route] = {
    r.name: r
    for r in (
        Route("virtualcam", "pyvirtualcam", ("pyvirtualcam",), ("linux", "darwin", "win32"), "rgb",
              "a v4l2loopback device on Linux (sudo modprobe v4l2loopback), the OBS virtual "
              "camera on macOS and Windows"),
        Route("syphon", "syphon-python", ("syphon", "syphon.utils.numpy", "syphon.utils.raw"),
              ("darwin",), "rgba", "macOS 11 or later"),
        Route("spout", "SpoutGL", ("SpoutGL",), ("win32",), "rgba",
              "Windows with an OpenGL context current on the sending thread"),
        Route("ndi", "ndi-python", ("NDIlib",), (), "bgra",
              "a platform its wheels exist for (they carry the NDI runtime)"),
    )
}

_PLATFORM_NAMES = {"darwin": "macOS", "win32": "Windows", "linux": "Linux"}


def to_layout(frame: np.ndarray, layout: str) -> np.ndarray:
    """A rendered frame as uint8 (H, W, len(layout)) in ``layout`` order, top row first.

    ``frame`` is (H, W, C) with C = 1 (grey), 3 (rgb) or 4 (rgba), float in [0, 1] (clipped,
    rounded like ``images.to_uint8``) or uint8. Alpha is the frame's when it has one, else opaque.
    """
    if layout not in ("rgb", "rgba", "bgra"):
        raise CPPNError(f"unknown pixel layout {layout!r}; valid: rgb, rgba, bgra")
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] not in (1, 3, 4):
        raise CPPNError(f"a video-out frame must be (H, W, 1, 3 or 4), got {frame.shape}")
    if frame.dtype != np.uint8:
        frame = (np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    h, w, c = frame.shape
    rgb = np.repeat(frame, 3, axis=2) if c == 1 else frame[:, :, :3]
    alpha = frame[:, :, 3:4] if c == 4 else np.full((h, w, 1), 255, np.uint8)
    if layout == "rgb":
        out = rgb
    elif layout == "rgba":
        out = np.concatenate([rgb, alpha], axis=2)
    else:
        out = np.concatenate([rgb[:, :, ::-1], alpha], axis=2)
    return np.ascontiguousarray(out)


def _import(route: Route, platform: str) -> list[ModuleType]:
    if route.platforms and not any(platform.startswith(p) for p in route.platforms):
        where = " or ".join(_PLATFORM_NAMES.get(p, p) for p in route.platforms)
        raise CPPNError(f"the {route.name} output works on {where} only, not on "
                        f"{_PLATFORM_NAMES.get(platform, platform)}")
    try:
        return [importlib.import_module(m) for m in route.modules]
    except (ImportError, OSError) as exc:  # OSError: a wrapper present, its native library not
        raise CPPNError(
            f"the {route.name} output needs the {route.package} package (pip install "
            f"{route.package}) and {route.needs}: {exc}"
        ) from None


def unavailable(name: str, platform: str | None = None) -> str | None:
    """Why the route ``name`` cannot send here (a one-line reason), or None when it can."""
    try:
        _import(ROUTES[name], platform or sys.platform)
    except CPPNError as exc:
        return str(exc)
    return None


Sender = tuple[Callable[[np.ndarray], None], Callable[[], None]]  # (send, close)


def _virtualcam(mods: list[ModuleType], size: tuple[int, int], fps: float, name: str) -> Sender:
    (pyvirtualcam,) = mods
    w, h = size
    cam = pyvirtualcam.Camera(width=w, height=h, fps=fps, fmt=pyvirtualcam.PixelFormat.RGB)
    return cam.send, cam.close


def _syphon(mods: list[ModuleType], size: tuple[int, int], fps: float, name: str) -> Sender:
    syphon, sy_numpy, sy_raw = mods
    server = syphon.SyphonMetalServer(name)
    texture = sy_raw.create_mtl_texture(server.device, *size)

    def send(rgba: np.ndarray) -> None:
        sy_numpy.copy_image_to_mtl_texture(rgba, texture)  # Metal: row 0 is the top row
        server.publish_frame_texture(texture)

    return send, server.stop


def _spout(mods: list[ModuleType], size: tuple[int, int], fps: float, name: str) -> Sender:
    (spout,) = mods
    sender = spout.SpoutSender()
    sender.setSenderName(name)
    w, h = size

    def send(rgba: np.ndarray) -> None:
        # invert=False: our rows are top first already, as Spout's shared DirectX texture is.
        if not sender.sendImage(rgba, w, h, _GL_RGBA, False, 0):
            raise CPPNError("Spout refused the frame (is an OpenGL context current?)")

    return send, sender.releaseSender


def _ndi(mods: list[ModuleType], size: tuple[int, int], fps: float, name: str) -> Sender:
    (ndi,) = mods
    if not ndi.initialize():
        raise CPPNError("the NDI runtime did not start (CPU without SSE4.2, or no runtime)")
    settings = ndi.SendCreate()
    settings.ndi_name = name
    # The show paces itself: a clocked sender would block each send until its frame slot.
    settings.clock_video = False
    sender = ndi.send_create(settings)
    if sender is None:
        ndi.destroy()
        raise CPPNError("NDI could not create a sender")
    frame = ndi.VideoFrameV2()
    frame.FourCC = ndi.FOURCC_VIDEO_TYPE_BGRA
    frame.frame_rate_N, frame.frame_rate_D = round(fps * 1000), 1000

    def send(bgra: np.ndarray) -> None:
        frame.data = bgra  # ndi-python takes xres, yres and the stride from the array
        ndi.send_send_video_v2(sender, frame)  # synchronous: the frame is copied before return

    def close() -> None:
        ndi.send_destroy(sender)
        ndi.destroy()

    return send, close


_OPENERS: dict[str, Callable[..., Sender]] = {
    "virtualcam": _virtualcam, "syphon": _syphon, "spout": _spout, "ndi": _ndi,
}


class VideoOut:
    """One open route. ``send`` frames of the opened size; ``close`` (or ``with``) when done."""

    def __init__(self, route: Route, size: tuple[int, int], send: Callable[[np.ndarray], None],
                 close: Callable[[], None]) -> None:
        self.route = route
        self.size = size
        self._send = send
        self._close: Callable[[], None] | None = close
        self.frames = 0

    def send(self, frame: np.ndarray) -> None:
        if self._close is None:
            raise CPPNError(f"the {self.route.name} output is closed")
        data = to_layout(frame, self.route.layout)
        if (data.shape[1], data.shape[0]) != self.size:
            raise CPPNError(f"the {self.route.name} output was opened at {self.size[0]}x"
                            f"{self.size[1]}, got a {data.shape[1]}x{data.shape[0]} frame")
        try:
            self._send(data)
        except CPPNError:
            raise
        except Exception as exc:  # the libraries raise RuntimeError, OSError or their own types
            raise CPPNError(f"the {self.route.name} output failed: {exc}") from None
        self.frames += 1

    def close(self) -> None:
        close, self._close = self._close, None
        if close is not None:
            close()

    def __enter__(self) -> VideoOut:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_output(route: str, size: tuple[int, int], fps: float = 60.0,
                name: str = "realtime-cppn", platform: str | None = None) -> VideoOut:
    """Open video out ``route`` (see ROUTES) for frames of ``size`` = (width, height)."""
    info = ROUTES.get(route)
    if info is None:
        raise CPPNError(f"unknown video output {route!r}; valid: {', '.join(ROUTES)}")
    w, h = (int(v) for v in size)
    if w < 1 or h < 1:
        raise CPPNError(f"video out size must be at least 1x1, got {w}x{h}")
    if not fps > 0:
        raise CPPNError(f"video out fps must be positive, got {fps}")
    mods = _import(info, platform or sys.platform)
    try:
        send, close = _OPENERS[route](mods, (w, h), float(fps), name)
    except CPPNError:
        raise
    except Exception as exc:  # e.g. pyvirtualcam's RuntimeError for a missing v4l2loopback
        raise CPPNError(f"the {route} output could not start ({info.needs}): {exc}") from None
    return VideoOut(info, (w, h), send, close)
