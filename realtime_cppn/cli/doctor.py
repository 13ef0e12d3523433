"""``realtime-cppn doctor``: what this machine can run, and why not where it cannot.

One line per capability: the OpenGL renderer and the render path the live window would take,
the display, the codecs, OSC, MIDI, audio and the video-out routes. Where something is missing
the line names what to install. Exit status 0 when OpenGL works (everything offline renders),
2 when it does not.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import platform
import sys
from collections.abc import Callable

from .. import __version__
from ..core.errors import CPPNError

Check = tuple[str, bool, str]  # (what, available, detail or why not)


def _install(debian: str, brew: str = "") -> str:
    """The system install command for this platform."""
    if sys.platform == "darwin":
        return f"brew install {brew}" if brew else "(nothing to install on macOS)"
    return f"apt-get install {debian}"


def _dist(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions() -> str:
    """One line: this package, Python and the libraries the show stands on."""
    torch = _dist("torch")
    return (f"realtime-cppn {__version__} (Python {platform.python_version()}; numpy "
            f"{_dist('numpy')}, torch {torch}, moderngl {_dist('moderngl')}, glfw {_dist('glfw')}, "
            f"PyAV {_dist('av')})")


def gl_check() -> Check:
    """The headless OpenGL context every render uses, and the live window's default path."""
    try:
        from ..rendering.renderer import auto_path, create_headless_context
    except (ImportError, OSError) as exc:  # moderngl's native module did not load
        return ("OpenGL", False, f"moderngl did not load: {exc}")
    try:
        ctx = create_headless_context()
    except CPPNError as exc:
        return ("OpenGL", False, f"{exc}")
    try:
        info = ctx.info
        name, version = info.get("GL_RENDERER", "?"), info.get("GL_VERSION", "?")
        path = auto_path(name, ctx.version_code >= 430)
    finally:
        ctx.release()
    why = {"cpu": "a software rasterizer: numpy on the CPU cores outruns its shaders",
           "compute": "a GPU with OpenGL 4.3", "fragment": "a GPU without compute shaders"}[path]
    return ("OpenGL", True, f"{name}, {version}; render path {path} ({why})")


def display_check() -> Check:
    from ..window.window import display_problem

    why = display_problem()
    if why is None:
        return ("display", True, "glfw opens windows here")
    return ("display", False, f"{why}; `realtime-cppn still -o art.png` renders without one")


def video_check() -> Check:
    try:
        import av
    except ImportError as exc:
        return ("video", False, f"PyAV did not load ({exc}): pip install av")
    have, missing = [], []
    for title, encoder in (("H.264", "libx264"), ("ProRes", "prores_ks"), ("PNG", "png")):
        try:
            av.codec.Codec(encoder, "w")
            have.append(title)
        except Exception:  # PyAV raises its own UnknownCodecError (a ValueError) or FFmpegError
            missing.append(title)
    from ..media.codecs import hap_available

    hap = hap_available()
    (missing if hap else have).append("HAP")
    detail = ", ".join(have) + (f"; missing {', '.join(missing)}" if missing else "")
    return ("video", not missing, detail + (f" ({hap})" if hap else ""))


def _module_check(what: str, module: str, hint: str) -> Check:
    try:
        importlib.import_module(module)
    except ImportError:
        return (what, False, hint)
    except OSError as exc:  # a wrapper present, its native library not
        return (what, False, f"{exc}; {hint}")
    return (what, True, f"{module} {_dist(module if module != 'pythonosc' else 'python-osc')}")


def osc_check() -> Check:
    return _module_check("OSC", "pythonosc", "pip install python-osc")


def midi_check() -> Check:
    what, ok, detail = _module_check("MIDI", "mido", "pip install 'realtime-cppn[vj]'")
    if not ok:
        return (what, ok, detail)
    what, ok, detail = _module_check(
        "MIDI", "rtmidi", "pip install 'realtime-cppn[vj]' (python-rtmidi needs "
        f"{_install('libasound2', 'nothing else')})")
    return (what, ok, detail)


def audio_check() -> Check:
    return _module_check("audio", "sounddevice",
                         "pip install 'realtime-cppn[vj]' and " + _install("libportaudio2",
                                                                            "portaudio"))


def video_out_checks() -> list[Check]:
    from ..media.videoout import ROUTES, unavailable

    out = []
    for name in ROUTES:
        why = unavailable(name)
        out.append((f"video out {name}", why is None, why or f"{ROUTES[name].package} loads"))
    return out


CHECKS: tuple[Callable[[], Check | list[Check]], ...] = (
    gl_check, display_check, video_check, osc_check, midi_check, audio_check, video_out_checks)


def report() -> list[Check]:
    """Every check, in order."""
    out: list[Check] = []
    for check in CHECKS:
        result = check()
        out.extend(result if isinstance(result, list) else [result])
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print(versions())
    checks = report()
    width = max(len(what) for what, _, _ in checks)
    for what, ok, detail in checks:
        print(f"  {'ok' if ok else '--'}  {what:<{width}}  {detail}")
    gl_ok = checks[0][1]
    if not gl_ok:
        raise CPPNError("no OpenGL here: nothing can render (see the OpenGL line above)")
    return 0
