"""The live window: a glfw window (the only module that imports glfw) showing a ``Live`` show.

The GL context, key events turned into key names, fullscreen and monitors, and the frame loop.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from ..core.errors import CPPNError
from ..live import hud as overlay
from ..live.live import TITLE, Live
from ..show import actions, keys


def no_window(why: str) -> CPPNError:
    return CPPNError(
        f"cannot open the live window: {why}; render headless instead, e.g. "
        f"`{TITLE} still -o cppn.png`"
    )


def display_problem() -> str | None:
    """Why no live window can open here (one line), or None when glfw finds a display."""
    if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY is not set)"
    try:
        import glfw
    except (ImportError, OSError) as exc:  # OSError: the wheel's bundled library did not load
        return f"glfw did not load: {exc}"
    errors: list[str] = []
    glfw.set_error_callback(lambda code, msg: errors.append(
        msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg)))
    try:
        if not glfw.init():
            return errors[-1] if errors else "glfw could not initialise"
        return None
    finally:
        glfw.terminate()
        glfw.set_error_callback(None)


class Window:
    """A glfw window with a GL context (4.3 core where possible for the compute path, else 3.3)."""

    def __init__(self, size: tuple[int, int], vsync: bool = True, fullscreen: bool = False,
                 monitor: int | None = None) -> None:
        import glfw

        self.glfw = glfw
        self._errors: list[str] = []
        glfw.set_error_callback(lambda code, msg: self._errors.append(
            msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg)))
        if sys.platform.startswith("linux") and not (
                os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise no_window("no display (DISPLAY is not set)")
        if not glfw.init():
            raise no_window(self._last_error("glfw could not initialise"))
        try:
            self.monitors = list(glfw.get_monitors() or [])
            if monitor is not None and not 0 <= monitor < len(self.monitors):
                listed = "; ".join(f"{i}: {self.describe(m)}" for i, m in enumerate(self.monitors))
                raise CPPNError(f"monitor {monitor} out of range; monitors: {listed or 'none'}")
            self.monitor_index = monitor or 0
            self.handle = self._create(size, fullscreen)
            glfw.make_context_current(self.handle)
            glfw.swap_interval(1 if vsync else 0)
            self.windowed = (*glfw.get_window_pos(self.handle), *size)
            self.fullscreen = False
            if fullscreen:
                self.set_fullscreen(True)
            elif monitor is not None:
                self.move_to_monitor(monitor)
            self.key_names = {getattr(glfw, "KEY_" + n.upper()): n for n in keys.KEY_NAMES
                              if hasattr(glfw, "KEY_" + n.upper())}
            self.pressed: list[str] = []
            glfw.set_key_callback(self.handle, self._on_key)
        except BaseException:
            glfw.terminate()
            raise

    def _last_error(self, default: str) -> str:
        return self._errors[-1] if self._errors else default

    def describe(self, m) -> str:
        g = self.glfw
        mode = g.get_video_mode(m)
        name = g.get_monitor_name(m)
        name = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
        return f"{name} {mode.size.width}x{mode.size.height}" if mode else name

    def _create(self, size: tuple[int, int], fullscreen: bool):
        g = self.glfw
        for major, minor in ((4, 3), (3, 3)):  # 4.3 gives the compute path; 3.3 is the floor
            g.default_window_hints()
            g.window_hint(g.CONTEXT_VERSION_MAJOR, major)
            g.window_hint(g.CONTEXT_VERSION_MINOR, minor)
            g.window_hint(g.OPENGL_PROFILE, g.OPENGL_CORE_PROFILE)
            g.window_hint(g.OPENGL_FORWARD_COMPAT, True)
            g.window_hint(g.RESIZABLE, True)
            g.window_hint(g.SCALE_TO_MONITOR, True)
            handle = g.create_window(size[0], size[1], TITLE, None, None)
            if handle:
                return handle
        raise no_window(f"no OpenGL 3.3 core context ({self._last_error('window creation failed')})")

    def _on_key(self, handle, key, scancode, action, mods) -> None:
        g = self.glfw
        if action != g.PRESS:  # repeats would flood reseeds; one press, one action
            return
        base = self.key_names.get(key)
        if base is None:
            return
        self.pressed.append(keys.key_name(
            base, ctrl=bool(mods & g.MOD_CONTROL), alt=bool(mods & g.MOD_ALT),
            shift=bool(mods & g.MOD_SHIFT), super_=bool(mods & g.MOD_SUPER)))

    def take_keys(self) -> list[str]:
        pressed, self.pressed = self.pressed, []
        return pressed

    @property
    def should_close(self) -> bool:
        return bool(self.glfw.window_should_close(self.handle))

    @property
    def iconified(self) -> bool:
        return bool(self.glfw.get_window_attrib(self.handle, self.glfw.ICONIFIED))

    def framebuffer_size(self) -> tuple[int, int]:
        return tuple(self.glfw.get_framebuffer_size(self.handle))

    def content_scale(self) -> float:
        try:
            return float(max(self.glfw.get_window_content_scale(self.handle)))
        except Exception:  # older GLFW without content scale: assume a normal-DPI screen
            return 1.0

    def set_fullscreen(self, on: bool) -> None:
        g = self.glfw
        if on == self.fullscreen or not self.monitors:
            return
        if on:
            self.windowed = (*g.get_window_pos(self.handle), *g.get_window_size(self.handle))
            m = self.monitors[self.monitor_index % len(self.monitors)]
            mode = g.get_video_mode(m)
            g.set_window_monitor(self.handle, m, 0, 0, mode.size.width, mode.size.height,
                                 mode.refresh_rate)
        else:
            x, y, w, h = self.windowed
            g.set_window_monitor(self.handle, None, x, y, w, h, 0)
        self.fullscreen = on

    def move_to_monitor(self, index: int) -> None:
        g = self.glfw
        self.monitors = list(g.get_monitors() or [])
        if not self.monitors:
            return
        self.monitor_index = index % len(self.monitors)
        m = self.monitors[self.monitor_index]
        if self.fullscreen:
            mode = g.get_video_mode(m)
            g.set_window_monitor(self.handle, m, 0, 0, mode.size.width, mode.size.height,
                                 mode.refresh_rate)
        else:
            x, y, _, _ = g.get_monitor_workarea(m)
            g.set_window_pos(self.handle, x + 40, y + 40)

    def set_title(self, title: str) -> None:
        self.glfw.set_window_title(self.handle, title)

    def refresh_rate(self) -> float:
        """The refresh rate of the window's monitor (60 where the display does not say)."""
        g = self.glfw
        try:
            m = g.get_window_monitor(self.handle) or (
                self.monitors[self.monitor_index % len(self.monitors)] if self.monitors
                else g.get_primary_monitor())
            mode = g.get_video_mode(m) if m else None
            rate = float(mode.refresh_rate) if mode else 0.0
        except Exception:  # a display without modes (some virtual ones): the common rate
            rate = 0.0
        return rate if 1.0 <= rate <= actions.TARGET_FPS_RANGE[1] else actions.DEFAULT_TARGET_FPS

    def close(self) -> None:
        self.glfw.destroy_window(self.handle)
        self.glfw.terminate()


def warm_torch() -> threading.Thread:
    """Import torch (through the modules that use it) on a thread while the window and its GL
    context open: the import is most of the time to the first frame (2-4 s here)."""
    import importlib

    def load() -> None:
        with suppress(Exception):  # a broken install fails where the network is built instead
            importlib.import_module(f"{__package__}.export")

    thread = threading.Thread(target=load, name="cppn-import", daemon=True)
    thread.start()
    return thread


def starting_frame(window: Window, renderer, font_size: int) -> None:
    """A dark frame saying the show is starting, so the window is never empty meanwhile."""
    fb = window.framebuffer_size()
    if fb[0] <= 0 or fb[1] <= 0:
        return
    screen = renderer.screen(fb, clear=(0.05, 0.05, 0.05, 1.0))
    img = overlay.fit(overlay.panel([("", "drawing the first network ...")],
                                    f"{TITLE} starting", font_size), fb)
    oh, ow = img.shape[:2]
    x, y = max((fb[0] - ow) // 2, 0), max((fb[1] - oh) // 2, 0)
    renderer.draw_overlay(img, screen, (x, y, ow, oh))
    window.glfw.swap_buffers(window.handle)
    window.glfw.poll_events()


def exit_now(rc: int) -> int:
    """Leave at once once the show has closed everything it wrote (takes, logs, ports): the
    interpreter's own teardown would unload torch, a second or more here, for nobody."""
    with suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    logging.shutdown()
    os._exit(rc)


class FrameTrace:
    """A line per loop iteration and event (``--trace-frames FILE``, for tests and
    benchmarks): seconds on the perf counter, then what happened. Off without a path."""

    def __init__(self, path: Path | None) -> None:
        self.file = None
        if path is not None:
            try:
                self.file = open(path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115
            except OSError as exc:
                raise CPPNError(f"cannot write the frame trace {path}: {exc.strerror}") from None

    def event(self, what: str, detail: str = "") -> None:
        if self.file is not None:
            self.file.write(f"{time.perf_counter():.6f} {what} {detail}".rstrip() + "\n")

    def frame(self, live: Live, fb: tuple[int, int]) -> None:
        if self.file is not None:
            self.event("draw", f"{live.frames} {live.state.render_scale:.6g} {fb[0]}x{fb[1]}")

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def show(live: Live, window: Window, max_frames: int | None = None,
         draw: Callable[[object, tuple[int, int]], None] | None = None,
         trace: FrameTrace | None = None) -> int:
    """The frame loop: events, time, state, effects, draw, swap. Returns the exit status.
    ``draw(fbo, fb_size)`` draws a frame (default ``live.render``; the grid and fit windows
    draw their own)."""
    draw = draw or live.render
    trace = trace or FrameTrace(None)
    g = window.glfw
    screen = live.renderer.screen()
    last_title, title_at = "", -1.0
    prev = live.state
    while not window.should_close and not live.state.quit:
        g.poll_events()
        for key in window.take_keys():
            trace.event("key", key)
            live.press(key)
        fb = window.framebuffer_size()
        if window.iconified:  # X11 and macOS keep the size when minimised: draw nothing
            fb = (0, 0)
        live.update()
        s = live.state
        if s.quit:
            break  # nobody would see the frame
        if s.fullscreen != prev.fullscreen:
            window.set_fullscreen(s.fullscreen)
        if s.monitor != prev.monitor:
            window.move_to_monitor(window.monitor_index + (s.monitor - prev.monitor))
        prev = s
        if fb[0] <= 0 or fb[1] <= 0:  # minimised: nothing to draw; sleep until events
            trace.event("wait")
            g.wait_events_timeout(0.1)
            continue
        draw(screen, fb)
        g.swap_buffers(window.handle)
        trace.frame(live, fb)
        now = time.perf_counter()
        title = live.title()
        if now - title_at >= 0.5 or title.split(" | ")[:2] != last_title.split(" | ")[:2]:
            window.set_title(title)  # at 2 Hz (fps), and at once when the seed changes
            last_title, title_at = title, now
        if max_frames is not None and live.frames >= max_frames:
            break
    return 0


