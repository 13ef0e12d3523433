"""The live window: a glfw window showing the scene, animated by a clock and played from the keys.

Two parts. ``Live`` is the show without the window: it owns the ``AppState``, takes actions from
any source (``dispatch``, thread-safe; ``press`` for key names), advances time from an injected
clock, keeps the renderer's network and latent in step with the state (reseeds and morphs upload
weights, only a new architecture compiles), and draws a frame plus its overlay into any
framebuffer. ``Window`` is the glfw part (the only module that imports glfw): the GL context, key
events turned into key names, fullscreen and monitors, and the frame loop. Benchmarks drive
``Live`` headless; ``run`` joins the two for ``realtime-cppn [live]``.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import actions, keys, liveliness, overlay
from .actions import Action, AppState
from .animation import LatentPath, blend
from .clock import Clock, FixedClock, WallClock
from .errors import CPPNError
from .spec import NetworkSpec

TITLE = "realtime-cppn"
DEFAULT_SIZE = (1280, 720)
SPEC_CACHE = 16  # networks kept built: history, morph ends and undo stay instant

Listener = Callable[[float, Action, AppState], None]


# --- the show, without a window -----------------------------------------------------------------


class Live:
    """The live show on a renderer: state, actions, time, and drawing a frame."""

    def __init__(self, renderer, state: AppState, keymap: keys.KeyMap = keys.DEFAULT,
                 clock: Clock | None = None, screenshot_dir: Path | str = ".",
                 font_size: int = 14) -> None:
        self.renderer = renderer
        self.state = state
        self.keymap = keymap
        self.clock = clock or WallClock()
        self.screenshot_dir = Path(screenshot_dir)
        self.font_size = font_size
        self.listeners: list[Listener] = []  # called with (time, action, new state): the log
        # Called with (frame texture, state) after the network is drawn and before the overlay:
        # a recorder reads the picture here, so overlays (help, info, REC) are never recorded.
        self.frame_hooks: list[Callable[[object, AppState], None]] = []
        self.error = ""  # the latest refused action, shown in the info overlay for a while
        self.error_at = 0.0
        self.frames = 0
        self.frame_seconds = 0.0  # smoothed wall time per frame
        self.last_screenshot: Path | None = None
        self._queue: queue.SimpleQueue[Action] = queue.SimpleQueue()
        self._specs: OrderedDict[str, NetworkSpec] = OrderedDict()
        self._uploaded: tuple | None = None  # what the renderer's weights currently are
        self._latent: tuple | None = None  # (path seed, phase) of the renderer's z
        self._paths: dict[tuple[int, int], LatentPath] = {}
        self._screenshots = state.screenshots
        self._wall = time.perf_counter()
        self._overlay_key: tuple | None = None
        self._overlay_img: np.ndarray | None = None
        self._info_rows: list[tuple[str, str]] = []
        self._info_at = -1.0

    # --- input ----------------------------------------------------------------------------------

    def dispatch(self, action: Action | str) -> None:
        """Queue an action for the next frame (any thread: keys now, OSC and MIDI later)."""
        self._queue.put(action if isinstance(action, Action) else actions.parse(action))

    def press(self, key: str) -> Action | None:
        """A key name from the window: its bound action is queued (unbound keys do nothing)."""
        action = self.keymap.action_for(key)
        if action is not None:
            self._queue.put(action)
        return action

    # --- networks -------------------------------------------------------------------------------

    def spec_for(self, network: dict) -> NetworkSpec:
        """The NetworkSpec of a network config (built in torch once, then cached)."""
        from .build import scene_network

        key = json.dumps(network, sort_keys=True)
        spec = self._specs.get(key)
        if spec is None:
            spec = scene_network(replace(self.state.scene, network=network))
            self._specs[key] = spec
            while len(self._specs) > SPEC_CACHE:
                self._specs.popitem(last=False)
        else:
            self._specs.move_to_end(key)
        return spec

    def latent(self, path_seed: int, z_dim: int, phase: float) -> np.ndarray:
        path = self._paths.get((path_seed, z_dim))
        if path is None:
            path = self._paths[(path_seed, z_dim)] = LatentPath(path_seed, z_dim)
        return path(phase)

    def lively_seed(self, candidates) -> int:
        net = self.state.scene.network
        seed, _ = liveliness.choose(
            candidates, lambda sd: self.render_candidate({**net, "seed": sd}))
        return seed

    def render_candidate(self, network: dict) -> np.ndarray:
        spec = self.spec_for(network)
        s = self.state.scene
        self.renderer.set_network(spec, self.latent(s.path_seed, spec.z_dim, s.phase))
        self._uploaded = None
        tex = self.renderer.draw(liveliness.SIZE, s.view, dtype="f4", display=True)
        return self.renderer.read(tex, 3)

    def make_lively(self) -> None:
        """Start on a lively network: the current seed if it is, else the next lively draw."""
        state = self.state
        seed = self.lively_seed([state.seed, *(actions.draw_seed(state, i)
                                               for i in range(liveliness.TRIES - 1))])
        if seed != state.seed:
            self.state = replace(state, scene=replace(
                state.scene, network={**state.scene.network, "seed": seed}))

    def resolve(self, action: Action) -> Action:
        """Fill in what needs the GPU: a random reseed becomes a concrete, lively seed (so the
        performance log replays exactly)."""
        if action.name in ("reseed", "morph") and action.value is None:
            seed = self.lively_seed(actions.draw_seed(self.state, i)
                                    for i in range(liveliness.TRIES))
            return Action(action.name, seed)
        return action

    # --- time and state -------------------------------------------------------------------------

    def update(self) -> AppState:
        """One frame of time and input: tick the clock, apply queued actions, sync the GPU."""
        t, dt = self.clock.tick()
        self.state = actions.advance(self.state, t, dt)
        while True:
            try:
                action = self._queue.get_nowait()
            except queue.Empty:
                break
            self._apply(action)
        self._sync()
        return self.state

    def _apply(self, action: Action) -> None:
        before = self.state
        try:
            action = self.resolve(action)
            self.state = actions.apply(before, action)
            if self.state.scene.network != before.scene.network:
                self._sync()  # a network the GPU refuses must not become the state
        except CPPNError as exc:
            self.state = before
            self._uploaded = None
            self.error, self.error_at = f"{action}: {exc}", before.time
            return
        for listener in self.listeners:
            listener(self.state.time, action, self.state)

    def _sync(self) -> None:
        """Make the renderer's weights and z match the state: uploads, compiles only on a new
        architecture."""
        s = self.state
        network = s.scene.network
        morph = s.morph
        if morph is not None:
            t = morph.progress(s.time)
            key = (json.dumps(network, sort_keys=True), morph, t)
        else:
            key = (json.dumps(network, sort_keys=True), None, 1.0)
        latent_key = (s.scene.path_seed, s.scene.phase)
        if key != self._uploaded:
            spec = self.spec_for(network)
            if morph is not None:
                spec = blend(self.spec_for({**network, "seed": morph.from_seed}), spec, t)
            z = self.latent(s.scene.path_seed, spec.z_dim, s.scene.phase)
            self.renderer.set_network(spec, z)
            self._uploaded = key
            self._latent = latent_key
        elif latent_key != self._latent:
            spec = self.renderer.spec
            self.renderer.set_latent(self.latent(s.scene.path_seed, spec.z_dim, s.scene.phase))
            self._latent = latent_key

    # --- drawing --------------------------------------------------------------------------------

    def render_size(self, fb_size: tuple[int, int]) -> tuple[int, int]:
        w, h = fb_size
        k = self.state.render_scale
        return max(1, round(w * k)), max(1, round(h * k))

    def render(self, fbo, fb_size: tuple[int, int]) -> None:
        """Draw the frame (at the render scale, upscaled) and the overlays into ``fbo``."""
        w, h = fb_size
        size = self.render_size(fb_size)
        # rgba32f, the format set_network compiles for: an 8-bit target would need a second
        # compute program per architecture (a second compile on every width/depth change).
        tex = self.renderer.draw(size, self.state.scene.view, dtype="f4", display=True)
        for hook in self.frame_hooks:
            hook(tex, self.state)
        self.renderer.present(tex, fbo, (0, 0, w, h))
        img = self.overlay_image(fb_size)
        if img is not None:
            oh, ow = img.shape[:2]
            self.renderer.draw_overlay(img, fbo, (0, h - oh, ow, oh))
        if self.state.screenshots != self._screenshots:
            self._screenshots = self.state.screenshots
            self.screenshot(fb_size)
        now = time.perf_counter()
        dt, self._wall = now - self._wall, now
        self.frames += 1
        # Smoothed over ~20 frames: readable, yet follows a change within a second.
        self.frame_seconds = dt if self.frames <= 2 else 0.95 * self.frame_seconds + 0.05 * dt

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_seconds if self.frame_seconds > 0 else 0.0

    def info_rows(self) -> list[tuple[str, str]]:
        s = self.state
        spec = self.renderer.spec
        acts = s.hidden_activations
        act_text = acts[0] if len(set(acts)) == 1 else ", ".join(acts)
        view = s.scene.view
        r = self.renderer
        rows = [
            ("seed", f"{s.seed}   path {s.scene.path_seed}"
                     + (f"   morph from {s.morph.from_seed}" if s.morph else "")),
            ("network", f"{s.net('width')} x {s.net('depth')}   inputs "
                        f"{','.join(spec.inputs) if spec else '?'}   z {spec.z_dim if spec else '?'}"
                        f"   {spec.macs_per_pixel if spec else '?'} MAC/px"),
            ("activations", act_text),
            ("output", f"{'mono' if s.net('out_channels') == 1 else 'colour'}   "
                       f"symmetry {view.symmetry}   zoom {view.zoom:.3g}"),
            ("time", f"speed {s.speed:g}{'  paused' if s.paused else ''}   "
                     f"phase {s.scene.phase % 1.0:.3f} of {s.scene.loop:g} s"),
            ("fps", f"{self.fps:.1f}   frame {1000 * self.frame_seconds:.2f} ms"),
            ("render", f"scale {s.render_scale:g}   {r.path} path, {r.storage_for(spec) if spec else '?'}"
                       f" weights   compiles {r.stats.compiles}"),
            ("GL", r.gl_renderer),
        ]
        if self.error and s.time - self.error_at < 10.0:
            rows.append(("error", self.error[:120]))
        return rows

    def overlay_image(self, fb_size: tuple[int, int]) -> np.ndarray | None:
        """The help / info overlay for this frame (re-rendered only when its text changes)."""
        s = self.state
        if not (s.help or s.info):
            return None
        if s.info and (s.time - self._info_at >= 0.5 or s.time < self._info_at):
            self._info_rows = self.info_rows()  # twice a second: fps readable, text cheap
            self._info_at = s.time
        key = (s.help, s.info, tuple(self._info_rows) if s.info else (), fb_size, self.font_size)
        if key != self._overlay_key:
            panels = []
            if s.info:
                panels.append(overlay.panel(self._info_rows, "info (I)", self.font_size))
            if s.help:
                panels.append(overlay.panel(self.keymap.help_rows(), "keys (H / F1)",
                                            self.font_size))
            img = overlay.stack(panels)
            self._overlay_img = None if img is None else overlay.fit(img, fb_size)
            self._overlay_key = key
        return self._overlay_img

    def screenshot(self, fb_size: tuple[int, int]) -> Path:
        """A PNG of the current picture at window resolution, with its scene for re-rendering."""
        from .images import save_png

        tex = self.renderer.draw(fb_size, self.state.scene.view, dtype="f4", display=True)
        frame = self.renderer.read(tex, 3)  # float, rounded by save_png exactly as `still` does
        self.screenshot_dir.mkdir(parents=True, exist_ok=True)
        n = 0
        while True:
            path = self.screenshot_dir / f"cppn-{self.state.seed}-{n:03d}.png"
            if not path.exists():
                break
            n += 1
        self.last_screenshot = save_png(path, frame, self.state.scene)
        print(f"saved {path}", flush=True)
        return path

    def title(self) -> str:
        s = self.state
        return f"{TITLE} | seed {s.seed} | {self.fps:.1f} fps" + (" | paused" if s.paused else "")


# --- the window (glfw) -----------------------------------------------------------------------------


def _no_window(why: str) -> CPPNError:
    return CPPNError(
        f"cannot open the live window: {why}; render headless instead, e.g. "
        f"`{TITLE} still -o cppn.png`"
    )


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
            raise _no_window("no display (DISPLAY is not set)")
        if not glfw.init():
            raise _no_window(self._last_error("glfw could not initialise"))
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
        raise _no_window(f"no OpenGL 3.3 core context ({self._last_error('window creation failed')})")

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

    def close(self) -> None:
        self.glfw.destroy_window(self.handle)
        self.glfw.terminate()


def show(live: Live, window: Window, max_frames: int | None = None) -> int:
    """The frame loop: events, time, state, effects, draw, swap. Returns the exit status."""
    g = window.glfw
    screen = live.renderer.ctx.screen
    last_title, title_at = "", -1.0
    prev = live.state
    while not window.should_close and not live.state.quit:
        g.poll_events()
        for key in window.take_keys():
            live.press(key)
        fb = window.framebuffer_size()
        live.update()
        s = live.state
        if s.fullscreen != prev.fullscreen:
            window.set_fullscreen(s.fullscreen)
        if s.monitor != prev.monitor:
            window.move_to_monitor(window.monitor_index + (s.monitor - prev.monitor))
        prev = s
        if fb[0] <= 0 or fb[1] <= 0:  # minimised: nothing to draw; sleep until events
            g.wait_events_timeout(0.1)
            continue
        live.render(screen, fb)
        g.swap_buffers(window.handle)
        now = time.perf_counter()
        title = live.title()
        if now - title_at >= 0.5 or title.split(" | ")[:2] != last_title.split(" | ")[:2]:
            window.set_title(title)  # at 2 Hz (fps), and at once when the seed changes
            last_title, title_at = title, now
        if max_frames is not None and live.frames >= max_frames:
            break
    return 0


# --- command line ----------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .cli import _float, _int, _size, add_scene_arguments

    add_scene_arguments(p)
    w = p.add_argument_group("window")
    w.add_argument("--size", type=_size, default=DEFAULT_SIZE,
                   help=f"window size WxH (default {DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]})")
    w.add_argument("--fullscreen", action="store_true", help="start fullscreen")
    w.add_argument("--monitor", type=_int, help="monitor to open on (0 is the primary)")
    w.add_argument("--no-vsync", action="store_true", help="do not wait for the display refresh")
    w.add_argument("--render-scale", type=_float, default=1.0,
                   help="evaluate the network at this fraction of the window (1, 0.5, 0.25)")
    w.add_argument("--render-path", choices=("auto", "compute", "fragment"), default="auto",
                   help="GPU path (default: compute where GL 4.3 exists)")
    w.add_argument("--config", type=Path, help="TOML config file (a [keys] table rebinds keys)")
    w.add_argument("--screenshot-dir", type=Path, default=Path("."),
                   help="where the screenshot key writes PNGs (default: here)")
    t = p.add_argument_group("show")
    t.add_argument("--speed", type=_float, default=1.0, help="animation speed (default 1)")
    t.add_argument("--paused", action="store_true", help="start paused")
    t.add_argument("--help-overlay", action="store_true", help="start with the key help shown")
    t.add_argument("--info", action="store_true", help="start with the info overlay shown")
    t.add_argument("--action", dest="actions", action="append", default=[],
                   metavar="NAME[=VALUE]",
                   help="apply an action at start (repeatable), e.g. --action speed=2; the same "
                        "names keys, OSC and the performance log use")
    t.add_argument("--fixed-fps", type=_float,
                   help="advance time exactly 1/FPS per frame, paced to real time (frame-exact)")
    t.add_argument("--frames", type=_int, help=argparse.SUPPRESS)  # quit after N frames


def run(args: argparse.Namespace) -> int:
    from .cli import scene_from_args
    from .renderer import Renderer

    scene = scene_from_args(args)
    keymap = keys.load_config(args.config) if args.config else keys.DEFAULT
    start = [actions.parse(a) for a in args.actions]  # bad names fail before a window opens
    if not 0.0 < args.render_scale <= 1.0:
        raise CPPNError(f"--render-scale must be in (0, 1], got {args.render_scale}")
    clock = FixedClock(args.fixed_fps, pace=True) if args.fixed_fps else WallClock()
    state = actions.initial_state(
        scene, speed=args.speed, paused=args.paused, render_scale=args.render_scale,
        fullscreen=args.fullscreen, help=args.help_overlay, info=args.info,
        monitor=args.monitor or 0,
    )
    window = Window(args.size, vsync=not args.no_vsync, fullscreen=args.fullscreen,
                    monitor=args.monitor)
    renderer = None
    try:
        try:
            renderer = Renderer.from_current_context(path=args.render_path)
        except CPPNError as exc:
            raise _no_window(str(exc)) from None
        if scene.texture:
            from .images import load_texture

            renderer.set_texture(load_texture(scene.texture))
        live = Live(renderer, state, keymap, clock, args.screenshot_dir,
                    font_size=round(14 * window.content_scale()))
        # A scene the user pinned (--seed, --scene) is shown as is; the default one must live.
        if args.seed is None and args.scene is None:
            live.make_lively()
        for action in start:
            live.dispatch(action)
        window.set_title(live.title())
        return show(live, window, args.frames)
    finally:
        if renderer is not None:
            renderer.release()
        window.close()
