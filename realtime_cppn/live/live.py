"""The show without a window: ``Live`` owns the ``AppState``, takes actions from any source
(``dispatch``, thread-safe; ``press`` for key names), advances time from an injected clock, keeps
the renderer's network and latent in step with the state (reseeds and morphs upload weights, only
a new architecture compiles), and draws a frame plus its overlay into any framebuffer. Benchmarks
and ``replay`` drive it headless; the window (``window.window``) shows it.

Recording (the ``record`` action, Ctrl+R) is a frame hook plus a listener: each frame's picture,
before any overlay, is scaled into a fixed-size 8-bit target and read back asynchronously into
``take.LiveRecorder`` (encoding on its own thread; frames it cannot take are dropped and
counted), and every action goes into the performance log (``perflog``) beside the video, with the
state at the first recorded frame in its header, so ``replay`` can render the take again at any
size and frame rate. ``--video-out`` sends the same picture to a virtual camera, Syphon, Spout or
NDI (``videoout``). The auto scale mode (``autoscale``) measures each frame's own cost, up to
the GPU being done, and picks the render scale that holds the target fps.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..core import activations, cost, liveliness, safeio
from ..core.animation import LatentPath, blend
from ..core.autoscale import LADDER, AutoScale
from ..core.errors import CPPNError
from ..core.lru import LRU
from ..core.spec import NetworkSpec
from ..instrument import instrument
from ..show import actions, keys
from ..show.actions import Action, AppState
from ..show.clock import Clock, FixedClock, WallClock
from . import hud as overlay
from .hooks import Recording, RecordSettings, VideoOutHook

UPSCALE_FILTERS = ("bilinear", "catmull-rom")  # renderer.UPSCALE_FILTERS (no GL import here)

log = logging.getLogger(__name__)

TITLE = "realtime-cppn"
DEFAULT_SIZE = (1280, 720)
SPEC_CACHE = 16  # networks kept built: history, morph ends and undo stay instant
# ... and at most this many bytes of them (a 1024 x 64 network alone is 268 MB); the networks a
# frame draws (a morph's two ends) are always kept.
SPEC_CACHE_BYTES = 512 << 20
# Actions applied per frame; a flood waits for the next frames (cheap ones apply as they come),
# and past MAX_BACKLOG waiting the newest are dropped with a notice.
ACTIONS_PER_FRAME = 256
MAX_BACKLOG = 16384
EXPORT_LIMIT = (8, 10.0)  # at most 8 shader exports (each writes a file) in 10 clock seconds
# Seconds a full-resolution screenshot may hold the frame; beyond, the picture as shown is saved.
SCREENSHOT_S = 0.5
# Actions whose value, when left out, is a liveliness search: a burst of them in one frame
# becomes its last (each later seed change makes an earlier search's result moot).
_SEARCHED = ("reseed", "morph")
_SEED_SETTERS = ("reseed", "morph", "seed", "previous_seed", "recall")

Listener = Callable[[float, Action, AppState], None]
TEXTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# Actions resolved before they are applied and logged: whatever they would draw at random or
# look up (a seed, a path, activations, the next texture) becomes a concrete value, so the
# performance log replays without the GPU's liveliness checks or the file system.
_RESOLVED = ("new_path", "random_activations", "texture")
# Key steps that change the picture's network or colours: resolved to the value they set and
# judged for a lively picture first (Live._lively_change).
_JUDGED = ("next_activation", "previous_activation", "random_activations", "width_up",
           "width_down", "depth_up", "depth_down", "output_mode", "color_mode")
GRID_LABEL_SECONDS = 5.0  # the grid names each cell's width x depth this long, then with I
SEARCH = 4  # seeds (or activation draws) tried per candidate change: a key press stays quick
NOTE_SECONDS = 4.0  # how long a badge note (a skipped activation) stays


# --- the show, without a window -----------------------------------------------------------------


class _Builds:
    """Network specs built on one worker thread (torch draws the weights), one at a time.

    ``get(key, make)`` answers a finished spec or None (asked again next frame); a request
    replaces an earlier one still waiting, so a performer flicking through networks builds only
    the one in progress and the latest. Finished specs wait here (two at most: a morph's ends)
    until asked for; a build that failed raises its CPPNError once, when asked for. The worker
    starts with the first build and stays (a daemon: it never holds up the exit).
    """

    KEEP = 2

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running: str | None = None
        self._waiting: tuple[str, Callable[[], NetworkSpec]] | None = None
        self._done: LRU[str, NetworkSpec | BaseException] = LRU(self.KEEP)
        self._thread: threading.Thread | None = None
        self.started = 0  # builds begun

    @property
    def busy(self) -> bool:
        return self._running is not None or self._waiting is not None

    def get(self, key: str, make: Callable[[], NetworkSpec]) -> NetworkSpec | None:
        with self._cond:
            if key in self._done:
                result = self._done.pop(key)
                if isinstance(result, CPPNError):
                    raise result
                if isinstance(result, BaseException):
                    raise CPPNError(f"building the network failed: "
                                    f"{result or type(result).__name__}")
                return result
            if self._running != key and (self._waiting is None or self._waiting[0] != key):
                self._waiting = (key, make)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._work, name="cppn-build",
                                                    daemon=True)
                    self._thread.start()
                self._cond.notify()
        return None

    def _work(self) -> None:
        while True:
            with self._cond:
                while self._waiting is None:
                    self._cond.wait()
                (key, make), self._waiting = self._waiting, None
                self._running = key
                self.started += 1
            try:
                result: NetworkSpec | BaseException = make()
            except BaseException as exc:  # reported to the render thread, which decides
                result = exc
            with self._cond:
                self._done.put(key, result)
                self._running = None


class Live:
    """The live show on a renderer: state, actions, time, and drawing a frame.

    Args:
        renderer: the ``Renderer`` frames are drawn with (its GL context current on this thread).
        state: the show's first ``AppState`` (``actions.initial_state``).
        keymap: key names -> actions (``keys.DEFAULT``, or a TOML file's).
        clock: where time comes from (a ``WallClock`` when omitted; a ``FixedClock`` for
            frame-exact takes and tests).
        screenshot_dir: the folder screenshots and shader exports are written to.
        font_size: the overlay's text size in pixels.
        record: how the record action records (folder, codec, fps); the defaults when omitted.
        instrument_: OSC, MIDI, audio, tempo and the bank; an empty instrument when omitted.
    """

    def __init__(self, renderer, state: AppState, keymap: keys.KeyMap = keys.DEFAULT,
                 clock: Clock | None = None, screenshot_dir: Path | str = ".",
                 font_size: int = 14, record: RecordSettings | None = None,
                 instrument_: instrument.Instrument | None = None) -> None:
        self.renderer = renderer
        # OSC, MIDI, audio, tempo and the bank; an empty one still keeps tempo and the bank.
        self.instrument = instrument_ or instrument.Instrument()
        self.poll = instrument.Poll([], None)  # what the instrument added to the latest frame
        self.state = state
        self.keymap = keymap
        self.clock = clock or WallClock()
        self.screenshot_dir = check_screenshot_dir(screenshot_dir)
        self.font_size = font_size
        overlay.font(font_size)  # loaded before the show, not on the frame of the first badge
        self._init_frames()
        self._init_networks(renderer)
        self._init_overlay(state)
        self._init_outputs(record)
        self._init_pacing()

    def _init_frames(self) -> None:
        """Who hears of each action and frame, and what the latest frames said."""
        self.listeners: list[Listener] = []  # called with (time, action, new state): the log
        # Called with (frame texture, state) after the network is drawn and before the overlay:
        # a recorder reads the picture here, so overlays (help, info, REC) are never recorded.
        self.frame_hooks: list[Callable[[object, AppState], None]] = []
        self.error = ""  # the latest refused action, shown in the info overlay for a while
        self.note: tuple[str, float] | None = None  # (badge note, since): a skipped activation
        self.error_at = 0.0
        self.frames = 0
        self.frame_seconds = 0.0  # smoothed wall time per frame
        self.last_screenshot: Path | None = None
        self._queue: queue.SimpleQueue[Action] = queue.SimpleQueue()

    def _init_networks(self, renderer) -> None:
        """The network cache, what the renderer holds, and the background builds."""
        # At most spec_cache networks and spec_cache_bytes of weights, never dropping the two
        # latest (a morph's ends); both bounds are read at each insertion.
        self._specs: LRU[str, NetworkSpec] = LRU(keep=2, full=lambda specs: (
            len(specs) > self.spec_cache
            or sum(_spec_bytes(sp) for sp in specs.values()) > self.spec_cache_bytes))
        self._uploaded: tuple | None = None  # what the renderer's weights currently are
        self._shown: dict | None = None  # the network config those weights belong to
        self.building: tuple[dict, float] | None = None  # (network, since): compiling meanwhile
        self._latent: tuple | None = None  # (path seed, phase) of the renderer's z
        self._paths: dict[tuple[int, int], LatentPath] = {}
        self._texture: str | None = None  # the texture file the renderer holds
        self.pinned: dict[str, NetworkSpec] = {}  # networks with no config (fitted): never evicted
        self.spec_cache = SPEC_CACHE
        self.spec_cache_bytes = SPEC_CACHE_BYTES
        # The cost model: networks this renderer cannot draw within a frame limit are refused.
        self.budget = cost.Budget()
        # Weights built by torch on a worker thread while the current network plays on (as
        # the renderer compiles in the background); a fixed-step show builds in place instead.
        self.background_builds = bool(getattr(renderer, "background", False))
        self._builds = _Builds()

    def _init_overlay(self, state: AppState) -> None:
        self._screenshots = state.screenshots
        self._wall = time.perf_counter()
        self._overlay_key: tuple | None = None
        self._overlay_img: np.ndarray | None = None
        self._info_rows: list[tuple[str, str]] = []
        self._info_at = -1.0

    def _init_outputs(self, record: RecordSettings | None) -> None:
        """Takes, video out and shader exports."""
        self.record_settings: RecordSettings | None = record or RecordSettings()
        self.recording: Recording | None = None
        self.last_recording: dict | None = None  # the summary of the latest finished take
        self.video_out: VideoOutHook | None = None
        self.last_export: Path | None = None
        self._exports: deque[float] = deque()  # clock times of recent exports (rate-limited)

    def _init_pacing(self) -> None:
        """Frame size, auto scale, and how many actions a frame applies."""
        self.fb_size: tuple[int, int] = (0, 0)  # the latest frame's framebuffer size
        self.autoscale: AutoScale | None = None
        self.frame_cost = 0.0  # seconds of the latest frame's own work (auto scale measures it)
        self.actions_per_frame: int | None = ACTIONS_PER_FRAME  # None: no cap (offline replay)
        self._backlog: deque[Action] = deque()
        self._follow: list[Action] = []  # applied right after the current action (_follow_with)
        self.backlog_dropped = 0
        self._drawn: tuple[int, float, int, int] | None = None  # (frames, wall, work, width)

    # --- input ----------------------------------------------------------------------------------

    def dispatch(self, action: Action | str) -> None:
        """Queue an action for the next frame (any thread: keys now, OSC and MIDI later)."""
        self._queue.put(action if isinstance(action, Action) else actions.parse(action))

    def press(self, key: str) -> Action | None:
        """A key name from the window: its bound action is queued (unbound keys do nothing)."""
        action = self.keymap.action_for(key)
        if action is not None and not self.instrument.handle_key_action(action):
            self._queue.put(action)
        return action

    # --- networks -------------------------------------------------------------------------------

    def spec_for(self, network: dict) -> NetworkSpec:
        """The NetworkSpec of a network config (built in torch once, then cached), after the
        cost model allowed it (a CPPNError says why not)."""
        key = json.dumps(network, sort_keys=True)
        if key in self.pinned:
            return self.pinned[key]
        # Cached or not: a network allowed at a smaller render size may come back after the
        # scale or the window grew (live soak: width 1024 cached at half scale, drawn at full
        # scale for 5.8 s). The check is arithmetic; the network on screen passes at once.
        self.check_cost(network)
        spec = self._specs.get(key)
        if spec is None:
            spec = self._cache(key, self._builder(network)())
        return spec

    def _spec_soon(self, network: dict) -> NetworkSpec | None:
        """The spec if it is built; else, in a show that builds in the background, None while a
        worker builds it (nothing on screen yet: built here and now)."""
        key = json.dumps(network, sort_keys=True)
        if not self.background_builds or self.renderer.spec is None or key in self.pinned \
                or key in self._specs:
            return self.spec_for(network)
        self.check_cost(network)
        spec = self._builds.get(key, self._builder(network))
        return None if spec is None else self._cache(key, spec)

    def _builder(self, network: dict) -> Callable[[], NetworkSpec]:
        from ..nn.build import scene_network

        scene = replace(self.state.scene, network=network)
        return lambda: scene_network(scene)

    def _cache(self, key: str, spec: NetworkSpec) -> NetworkSpec:
        """Keep ``spec``: the cache holds at most ``spec_cache`` networks and
        ``spec_cache_bytes`` of weights, never dropping the two latest (a morph's ends)."""
        self._specs.put(key, spec)
        return spec

    def check_cost(self, network: dict) -> None:
        """Refuse a network this renderer cannot draw in time at the current render size (the
        cost model, ``cost.Budget``); one of the architecture on screen costs what it does now."""
        shown = self._shown
        if shown is not None and _architecture(shown) == _architecture(network):
            return
        if self.autoscale is not None:
            self._scale_to_fit(network)
        self.budget.check(network, self._pixels(), self.cost_path)

    def _scale_to_fit(self, network: dict) -> None:
        """Under auto scale a network too slow at the current scale starts at the largest rung
        of the ladder that holds the frame limit; only one no rung holds is refused."""
        fits = self.budget.pixels_within(network, self.cost_path)
        if fits is None or self._pixels() <= fits:
            return
        full = self._pixels() / self.state.render_scale ** 2
        rungs = [k for k in LADDER if full * k * k <= fits and k < self.state.render_scale]
        if rungs:
            self.state = replace(self.state, render_scale=rungs[0])
            self.autoscale.reset()  # the costs it saw were of another network and scale

    @property
    def cost_path(self) -> str:
        """The render path as the cost model knows it: a shader path on a software rasterizer
        (llvmpipe) is its own, far slower than the same path on a GPU."""
        from ..rendering.cpu import is_software

        path = self.renderer.path
        return "software" if path != "cpu" and is_software(self.renderer.gl_renderer) else path

    def _pixels(self) -> int:
        """Pixels a frame draws: the render size, the default window's before the first frame."""
        size = self.fb_size if min(self.fb_size) > 0 else DEFAULT_SIZE
        w, h = self.render_size(size)
        return w * h

    def latent(self, path_seed: int, z_dim: int, phase: float) -> np.ndarray:
        path = self._paths.pop((path_seed, z_dim), None)
        if path is None:
            path = LatentPath(path_seed, z_dim)
            while len(self._paths) >= SPEC_CACHE:  # every new_path adds one: keep the latest
                self._paths.pop(next(iter(self._paths)))
        self._paths[(path_seed, z_dim)] = path  # most recently used last
        return path(phase)

    def lively_seed(self, candidates) -> int:
        net = self.state.scene.network
        candidates = list(candidates)
        if not self._can_judge(net):
            return candidates[0]  # its architecture is still compiling: judging would freeze
        seed, _ = liveliness.choose(
            candidates, lambda sd: self.render_candidate({**net, "seed": sd}))
        return seed

    def _can_judge(self, network: dict) -> bool:
        """Whether a candidate of ``network`` renders now (the cpu path, or a shader path with
        its architecture compiled); else judging would compile in place and freeze the show."""
        return self.renderer.spec is None or self.renderer.ready(self.spec_for(network))

    def render_candidate(self, network: dict, view=None) -> np.ndarray:
        spec = self.spec_for(network)
        s = self.state.scene
        self.renderer.set_network(spec, self.latent(s.path_seed, spec.z_dim, s.phase))
        self._uploaded = None
        tex = self.renderer.draw(liveliness.SIZE, view or s.view, dtype="f4", display=True)
        return self.renderer.read(tex, 3)

    def make_lively(self) -> None:
        """Start on a lively network: the current seed if it is, else the next lively draw."""
        state = self.state
        seed = self.lively_seed([state.seed, *(actions.draw_seed(state, i)
                                               for i in range(liveliness.TRIES - 1))])
        if seed != state.seed:
            self.state = replace(state, scene=replace(
                state.scene, network={**state.scene.network, "seed": seed}))

    def pin(self, network: dict, spec: NetworkSpec) -> None:
        """Show ``spec`` for ``network`` (weights with no config to build them from: a fit)."""
        self.pinned[json.dumps(network, sort_keys=True)] = spec

    def resolve(self, action: Action) -> Action:
        """Fill in what needs the GPU or is drawn at random: a random reseed becomes a concrete,
        lively seed, a new path its seed, the next texture its file (so the performance log
        replays exactly). A key's change of activation, width, depth or colour becomes the
        concrete change, checked for a lively picture (``_lively_change``)."""
        if action.value is not None:
            return action
        if action.name in ("reseed", "morph"):
            seed = self.lively_seed(actions.draw_seed(self.state, i)
                                    for i in range(liveliness.TRIES))
            return Action(action.name, seed)
        if action.name in _RESOLVED or action.name in _JUDGED:
            after = actions.apply(self.state, action)
            if action.name == "texture":
                if after.scene.texture == self.state.scene.texture:
                    return action  # nothing listed to cycle: stays a no-op
                return Action(action.name, after.scene.texture or None)
            if action.name == "new_path":
                return Action(action.name, after.scene.path_seed)
            return self._lively_change(action)
        return action

    def _concrete(self, action: Action, state: AppState | None = None) -> Action:
        """``action`` (a key's step: next activation, width up, ...) as the value it sets."""
        state = state or self.state
        after = actions.apply(state, action)
        name = action.name
        if name in ("next_activation", "previous_activation", "random_activations"):
            acts = after.net("activation")
            return Action("random_activations" if name == "random_activations" else "activation",
                          tuple(acts) if isinstance(acts, list) else (acts,))
        if name.startswith(("width", "depth")):
            field_name = name.split("_")[0]
            return Action(field_name, int(after.net(field_name)))
        if name == "output_mode":
            return Action(name, "mono" if after.net("out_channels") == 1 else "colour")
        return Action(name, after.scene.view.color)  # color_mode

    def _lively_change(self, action: Action) -> Action:
        """The concrete change of a key's ``action``, judged at 32x32 like a reseed: kept when
        lively with the current seed; else the first lively of a few seeds in the new
        architecture (queued as a ``seed`` action right after, so the log replays it); for the
        activation keys, else the next activation that passes (the skipped ones are named in
        a badge). Where nothing passes, the change stands and the badge says so."""
        state = self.state
        if action.name in ("next_activation", "previous_activation"):
            step = 1 if action.name == "next_activation" else -1
            names = activations.NAMES
            current = state.hidden_activations[0]
            i = names.index(current) if current in names else 0
            options = [Action("activation", (names[(i + k * step) % len(names)],))
                       for k in range(1, len(names))]
        elif action.name == "random_activations":
            options = [self._concrete(action, replace(state, draws=state.draws + k))
                       for k in range(SEARCH)]
        else:
            options = [self._concrete(action)]
        skipped: list[str] = []
        for option in options:
            after = actions.apply(state, option)
            if not cost.searchable(after.scene.network):
                # Judging builds and draws up to SEARCH candidates of each option on the
                # render thread: for a 1024-wide network that held one frame 14.5 s (live
                # soak). The change stands, as the key asked, like a reseed of such a network.
                return options[0]
            if not self._can_judge(after.scene.network):
                # A shader path would compile it in place to judge it: the first change
                # stands, as the key asked (it builds in the background; see README).
                return options[0]
            seed, lively = self._lively_seed_of(after)
            if lively:
                self._note(skipped, option)
                if seed != after.seed:
                    self._follow_with(Action("seed", seed))
                return option
            skipped.append(str(option.value[0]) if option.name == "activation" else str(option))
        self.note = (f"no lively picture for {options[0]}: try R", state.time)
        return options[0]

    def _lively_seed_of(self, after: AppState) -> tuple[int, bool]:
        """The first lively seed for ``after``'s network and view (its own seed first, then
        SEARCH - 1 draws), and whether one was."""
        net, view = after.scene.network, after.scene.view
        seeds = [after.seed, *(actions.draw_seed(after, k) for k in range(SEARCH - 1))]
        seed, m = liveliness.choose(
            seeds, lambda sd: self.render_candidate({**net, "seed": sd}, view), tries=SEARCH)
        return seed, m.lively

    def _note(self, skipped: list[str], option: Action) -> None:
        if skipped:
            self.note = (f"skipped {', '.join(skipped)} (no lively picture)", self.state.time)

    def _follow_with(self, action: Action) -> None:
        """Apply ``action`` right after the one being applied, in this same frame (a searched
        seed follows its key's change before anything is drawn)."""
        self._follow.append(action)

    # --- time and state -------------------------------------------------------------------------

    def update(self) -> AppState:
        """One frame of time and input: tick the clock, apply queued actions (a bounded batch,
        searches coalesced), sync the GPU."""
        t, dt = self.clock.tick()
        self._observe_frame()
        self.poll = self.instrument.poll(t, self.state)
        # Audio speeds time up or slows it: only the rate changes, so the picture never jumps.
        self.state = actions.advance(self.state, t, dt * self.poll.speed_factor)
        for action in self.poll.actions:
            self._queue.put(action)
        for action in self._batch():
            self._apply(action)
            while self._follow:
                self._apply(self._follow.pop(0))
        try:
            self._sync()
        except CPPNError as exc:  # a background compile the driver refused in the end
            self._refused(exc)
        self._note_frame()
        return self.state

    def _batch(self) -> list[Action]:
        """This frame's actions: what arrived, oldest first, at most ``actions_per_frame`` (the
        rest wait for the next frames); a reseed or morph searching for a lively seed is left
        out when a later one in the batch sets the seed anyway (a burst: one search)."""
        while True:
            try:
                action = self._queue.get_nowait()
            except queue.Empty:
                break
            if len(self._backlog) >= MAX_BACKLOG:
                self.backlog_dropped += 1
                self.error = f"input flood: {self.backlog_dropped} actions dropped"
                self.error_at = self.state.time
                continue
            self._backlog.append(action)
        n = len(self._backlog) if self.actions_per_frame is None else self.actions_per_frame
        batch = [self._backlog.popleft() for _ in range(min(n, len(self._backlog)))]
        later_seed = False
        kept: list[Action] = []
        for action in reversed(batch):
            if action.name in _SEARCHED and action.value is None and later_seed:
                continue
            later_seed = later_seed or action.name in _SEED_SETTERS
            kept.append(action)
        return kept[::-1]

    def _observe_frame(self) -> None:
        """Tell the cost model how long the frame drawn since the last update took."""
        drawn, self._drawn = self._drawn, None
        if drawn is not None and self.frames == drawn[0] + 1:
            self.budget.observe(self.cost_path, drawn[2], time.perf_counter() - drawn[1],
                                drawn[3])  # (frames, wall, work, width)

    def _note_frame(self) -> None:
        spec = self.renderer.spec
        if spec is not None and min(self.fb_size) > 0:
            pixels = self._pixels()
            self._drawn = (self.frames, time.perf_counter(),
                           cost.spec_work_per_pixel(spec) * pixels, spec.layers[0].weight.shape[0])

    def _refused(self, exc: CPPNError) -> None:
        """Back to the network on screen, with the driver's reason in the info overlay."""
        if self._shown is None:
            raise exc
        s = self.state
        self.state = replace(s, morph=None, scene=replace(s.scene, network=self._shown))
        self.building, self._uploaded = None, None
        self.error, self.error_at = f"network refused: {exc}", s.time
        self._sync()

    def _apply(self, action: Action) -> None:
        before = self.state
        try:
            if action.value is None and action.name in _SEARCHED and \
                    not cost.searchable(before.scene.network):
                # a dozen candidate builds of a big network would hold the frame: no search
                action = Action(action.name, actions.draw_seed(before))
            action = self.resolve(action)
            self.state = actions.apply(before, action)
            self._effects(before)
        except Exception as exc:  # a refused value, a full disk, an encoder: the show goes on
            self.state = before
            self._uploaded = None
            self.failed(str(action), exc)
            return
        for listener in list(self.listeners):
            try:
                listener(self.state.time, action, self.state)
            except Exception as exc:  # the take's log could not be written
                if self.recording is not None and listener == self.recording.on_action:
                    self.recording_failed(exc)
                else:
                    self.failed("listener", exc)

    def failed(self, what: str, exc: Exception) -> None:
        """The one guard of the show's effects: ``what`` failed with ``exc``; say so in one line
        (the info overlay's error row and the log) and go on. A CPPNError is a refused action
        (its message is for the performer); anything else is logged as a fault."""
        why = str(exc) or type(exc).__name__
        if not isinstance(exc, CPPNError):
            why = f"{why} ({type(exc).__name__})"
        text = f"{what}: {why}"
        if text != self.error:  # a flood of one refusal is one log line
            log.warning("%s", text)
        self.error, self.error_at = text, self.state.time

    def guard(self, what: str, fn: Callable[..., object], *args: object) -> object:
        """``fn(*args)``, or None when it failed (said by ``failed``): effects outside an
        action (the screenshot a frame takes) use the same guard as actions."""
        try:
            return fn(*args)
        except Exception as exc:
            self.failed(what, exc)
            return None

    def _effects(self, before: AppState) -> None:
        """What an action asks of the GPU or the disk; an exception here undoes the action."""
        s = self.state
        if s.scene.network != before.scene.network or s.scene.texture != before.scene.texture:
            self._sync()  # a network the GPU or the cost model refuses must not become the state
        if s.render_scale > before.render_scale:
            self.budget.check(s.scene.network, self._pixels(), self.cost_path)
        if s.recording != before.recording:
            if s.recording:
                if self.record_settings is None:
                    raise CPPNError("this window does not record (replay could not render it)")
                self.recording = Recording(self, self.record_settings)
            else:
                self.stop_recording(end=s.time)
        if s.exports != before.exports:
            count, window = EXPORT_LIMIT
            while self._exports and s.time - self._exports[0] >= window:
                self._exports.popleft()
            if len(self._exports) >= count:
                raise CPPNError(f"at most {count} exports in {window:g} s; try again shortly")
            self._exports.append(s.time)
            self.export(s.export_format)
        if s.auto_scale and (self.autoscale is None or self.autoscale.target_fps != s.target_fps):
            self.autoscale = AutoScale(s.target_fps)
        elif not s.auto_scale:
            self.autoscale = None

    def stop_recording(self, end: float | None = None) -> dict | None:
        """Finish the take (video and log) and say what it holds; never raises (a show goes on)."""
        rec, self.recording = self.recording, None
        if rec is None:
            return None
        try:
            summary = rec.stop(end)
        except Exception as exc:  # the encoder or the disk failed at the end: the show goes on
            kept = rec.rec.encoder.kept if rec.rec is not None else None
            self.error = f"recording: {exc}" + (f"; {rec.rec.writer.frames} frames kept in "
                                                 f"{kept}" if kept is not None else "")
            self.error_at = self.state.time
            log.warning("%s", self.error)
            return None
        if rec.rec is None:
            # stopped in the frame it started (live soak: two presses in one frame): the video
            # opens at the first frame, so there is none to name; the log stays, and replays
            print(f"nothing recorded: the take stopped before its first frame; performance log "
                  f"{summary['log']}", flush=True)
            return summary
        self.last_recording = summary
        print(f"recorded {summary['path']}: {summary['seconds']:.2f} s at {rec.fps:g} fps, "
              f"{summary['drawn']} frames drawn, {summary['frames']} written "
              f"({summary['duplicated']} duplicated, {summary['skipped']} skipped, "
              f"{summary['dropped']} dropped"
              + (f", {summary['held']} held by longer frames" if summary.get("held") else "")
              + f"); performance log {summary['log']}", flush=True)
        return summary

    def recording_failed(self, exc: Exception) -> None:
        """The encoder or the disk failed mid-take: stop, keep what can be kept, say so once
        (the info overlay's error row and one log line)."""
        rec, self.recording = self.recording, None
        why = str(exc) or type(exc).__name__
        kept = None
        if rec is not None:
            kept = rec.abort(why)
        self.state = replace(self.state, recording=False)
        if kept is not None:
            what = f"{rec.rec.writer.frames} frames kept in {kept}"
        elif rec is not None:
            what = f"the video is lost; replay {rec.log_path} renders the take again"
        else:
            what = "nothing recorded"
        self.error, self.error_at = f"recording stopped: {why}; {what}", self.state.time
        log.warning("%s", self.error)

    def export(self, fmt: str) -> Path:
        """The current scene as a shader file (``exports``) in the screenshot folder."""
        from ..exports import formats as exports

        s = self.state
        spec = self._spec_soon(s.scene.network)
        if spec is None:  # building it here would hold the frame for the whole build
            raise CPPNError("the network is still building; export once it is on screen")
        text = exports.export(s.scene, spec, fmt, speed=s.speed)
        path = _free_path(self.screenshot_dir, f"cppn-{s.seed}", exports.SUFFIXES[fmt])
        _write_claimed(path, text)
        self.last_export = path
        print(f"exported {path}", flush=True)
        return path

    def close(self) -> None:
        """End of the show: finish a running take, the video out and the instrument's ports."""
        self.instrument.close()
        if self.recording is not None:
            self.stop_recording()
            self.state = replace(self.state, recording=False)
        if self.video_out is not None:
            self.video_out.close()
            self.video_out = None

    def _sync(self) -> None:
        """Make the renderer's weights and z match the state: uploads, compiles only on a new
        architecture."""
        s = self.state
        if s.scene.texture != self._texture:
            self._load_texture(s.scene.texture)
        network = s.scene.network
        morph = s.morph
        if morph is not None:
            t = morph.progress(s.time)
            key = (json.dumps(network, sort_keys=True), morph, t)
        else:
            key = (json.dumps(network, sort_keys=True), None, 1.0)
        offset = actions.z_offset(s, self.poll.z_offset)
        latent_key = (s.scene.path_seed, s.scene.phase,
                      None if offset is None else offset.tobytes())
        if key != self._uploaded:
            spec = self._spec_soon(network)
            if spec is not None and morph is not None:
                old = self._spec_soon({**network, "seed": morph.from_seed})
                spec = None if old is None else blend(old, spec, t)
            # Weights build on a worker and a new architecture compiles in a child process
            # (Renderer.prepare): the network on screen plays on, its z still moving, instead
            # of the show freezing.
            if spec is None or not self.renderer.prepare(spec):
                if self.building is None or self.building[0] != network:
                    self.building = (network, s.time)
                if self.renderer.spec is not None and latent_key != self._latent:
                    self.renderer.set_latent(self._z(self.renderer.spec))
                    self._latent = latent_key
                return
            self.building = None
            self.renderer.set_network(spec, self._z(spec))
            self._uploaded = key
            self._shown = network
            self._latent = latent_key
        elif latent_key != self._latent:
            self.renderer.set_latent(self._z(self.renderer.spec))
            self._latent = latent_key

    def _z(self, spec: NetworkSpec) -> np.ndarray:
        """z on the loop, plus the state's latent offsets (OSC / MIDI) and the audio's."""
        s = self.state
        z = self.latent(s.scene.path_seed, spec.z_dim, s.scene.phase)
        offset = actions.z_offset(s, self.poll.z_offset)
        return z if offset is None else z + offset[: spec.z_dim]

    def _load_texture(self, name: str) -> None:
        from ..media.images import load_texture

        self.renderer.set_texture(load_texture(name) if name else None)
        self._texture = name

    # --- drawing --------------------------------------------------------------------------------

    def render_size(self, fb_size: tuple[int, int]) -> tuple[int, int]:
        w, h = fb_size
        k = self.state.render_scale
        return max(1, round(w * k)), max(1, round(h * k))

    def render(self, fbo, fb_size: tuple[int, int]) -> None:
        """Draw the frame (at the render scale, upscaled) and the overlays into ``fbo``."""
        start = time.perf_counter()
        w, h = fb_size
        if fb_size != self.fb_size and self.autoscale is not None:
            self.autoscale.reset()  # another window size: earlier costs say nothing
        self.fb_size = fb_size
        size = self.render_size(fb_size)
        # rgba32f, the format set_network compiles for: an 8-bit target would need a second
        # compute program per architecture (a second compile on every width/depth change).
        tex = self.renderer.draw(size, self.view(), dtype="f4", display=True)
        for hook in list(self.frame_hooks):
            hook(tex, self.state)
        self.renderer.present(tex, fbo, (0, 0, w, h))
        img = self.overlay_image(fb_size)
        if img is not None:
            oh, ow = img.shape[:2]
            self.renderer.draw_overlay(img, fbo, (0, h - oh, ow, oh))
        if self.state.screenshots != self._screenshots:
            self._screenshots = self.state.screenshots
            # a full disk: a notice, no stop
            self.guard("screenshot", self.screenshot, fb_size, tex)
        if self.autoscale is not None and self.state.auto_scale:
            # The frame's own cost, GPU included: finish() waits for it. The wall time between
            # frames would include the vsync wait and never show the headroom to step up.
            self.renderer.finish()
            self.frame_cost = time.perf_counter() - start
            scale = self.autoscale.update(self.frame_cost, self.state.render_scale)
            if scale != self.state.render_scale:
                self.state = replace(self.state, render_scale=scale)
        self.count_frame()

    def view(self):
        """The scene's view with the instrument's zoom factor (audio) applied."""
        view = self.state.scene.view
        k = self.poll.zoom_factor
        return view if k == 1.0 else replace(view, zoom=view.zoom * k)

    def count_frame(self) -> None:
        """One frame shown: the frame counter and the smoothed frame time (fps)."""
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
            ("network", self.network_text()),
            ("activations", act_text),
            ("output", f"{'mono' if s.net('out_channels') == 1 else 'colour'}   "
                       f"symmetry {view.symmetry}   zoom {view.zoom:.3g}"),
            ("time", f"speed {s.speed:g}{'  paused' if s.paused else ''}   "
                     f"phase {s.scene.phase % 1.0:.3f} of {s.scene.loop:g} s"),
            ("fps", f"{self.fps:.1f}   frame {1000 * self.frame_seconds:.2f} ms"),
            ("render", f"scale {s.render_scale:.3g} {self.scale_text()}"
                       + f"   {r.path_text(spec)}   compiles {r.stats.compiles}"
                       + (f"   baked {r.stats.special_compiles}" if r.stats.special_compiles
                          else "")),
            ("record", self.record_text()),
            ("GL", r.gl_renderer),
            *self.instrument.info_rows(),
        ]
        auto = self.autoscale if s.auto_scale else None
        if auto is not None and (auto.short or auto.aim != auto.target_fps):
            rows.append(("limit", auto.why(s.render_scale)))
        if self.error and s.time - self.error_at < 10.0:
            rows.append(("error", self.error[:120]))
        return rows

    def scale_text(self) -> str:
        """Why the render scale is what it is: '(auto for 60 fps, 12.1 ms/frame)', '(chosen)'
        or '(frame-exact)'."""
        s = self.state
        if s.auto_scale and self.autoscale is not None:
            return (f"(auto for {self.autoscale.aim:g} fps, {1000 * self.frame_cost:.1f} "
                    f"ms/frame, upscaled {self.renderer.upscale})")
        if isinstance(self.clock, FixedClock) and s.render_scale == 1.0:
            return "(frame-exact: auto scale off)"
        return "(chosen: auto scale off)"

    def record_text(self) -> str:
        rec = self.recording
        if rec is not None:
            return (f"REC {rec.seconds(self.state.time):.1f} s   {rec.frames} frames   "
                    f"{rec.dropped} dropped   {rec.video.name}")
        last = self.last_recording
        if last is not None:
            return (f"off   last take {Path(last['path']).name}: {last['frames']} frames, "
                    f"{last['dropped']} dropped")
        return "off"

    def network_text(self) -> str:
        """The info overlay's network row: the state's width x depth and what the GPU shows
        (inputs, z, multiply-adds), or while a new architecture builds, what is shown meanwhile."""
        s, spec = self.state, self.renderer.spec
        text = f"{s.net('width')} x {s.net('depth')}"
        if spec is None:
            return text
        if self.building is not None:
            shown = f"{spec.layers[0].weight.shape[0]} x {len(spec.layers) - 1}"
            return f"{text}   {self.building_text()}, showing {shown} meanwhile"
        return (f"{text}   inputs {','.join(spec.inputs)}   z {spec.z_dim}   "
                f"{spec.macs_per_pixel} MAC/px")

    def _building_label(self) -> str:
        """'building 64x4': the architecture compiling in the background ('' when none)."""
        if self.building is None:
            return ""
        full = {**actions.NETWORK_DEFAULTS, **self.building[0]}
        return f"building {full['width']}x{full['depth']}"

    def building_text(self) -> str:
        """'building 64x4 2.1 s': what compiles in the background and for how long."""
        if self.building is None:
            return ""
        return f"{self._building_label()} {self.state.time - self.building[1]:.1f} s"

    def rec_badge(self) -> str | None:
        """The corner badge: REC while recording, 'building' while a network compiles; None
        when neither."""
        parts = []
        rec = self.recording
        if rec is not None:
            secs = int(rec.seconds(self.state.time))
            parts.append(f"REC {secs // 60}:{secs % 60:02d}"
                         + (f"  {rec.dropped} dropped" if rec.dropped else ""))
        if self.building is not None:
            parts.append(self._building_label())  # no seconds: the badge is not redrawn each frame
        note = self.note
        if note is not None and 0.0 <= self.state.time - note[1] < NOTE_SECONDS:
            parts.append(note[0])
        auto = self.autoscale if self.state.auto_scale else None
        if auto is not None and (self.state.render_scale < 1.0 or auto.short):
            parts.append(auto.why(self.state.render_scale))  # redrawn only when the scale changes
        return "   ".join(parts) or None

    def overlay_image(self, fb_size: tuple[int, int]) -> np.ndarray | None:
        """The help / info / REC overlay for this frame (re-rendered only when its text
        changes). Drawn over the window only: recordings and video out read the frame before."""
        s = self.state
        badge = self.rec_badge()
        if not (s.help or s.info or badge):
            return None
        if s.info and (s.time - self._info_at >= 0.5 or s.time < self._info_at):
            self._info_rows = self.info_rows()  # twice a second: fps readable, text cheap
            self._info_at = s.time
        key = (s.help, s.info, tuple(self._info_rows) if s.info else (), badge, fb_size,
               self.font_size)
        if key != self._overlay_key:
            panels = []
            if s.info:
                panels.append(overlay.panel(self._info_rows, "info (I)", self.font_size))
            if s.help:  # under the info panel, in what is left of the window (and a margin)
                left = fb_size[1] - sum(p.shape[0] + 8 for p in panels) - 8
                panels.append(overlay.fitted(self.keymap.help_rows(), "keys (H / F1)",
                                             self.font_size, (fb_size[0] - 8, left)))
            img = overlay.compose(overlay.stack(panels),
                                  overlay.badge(badge, self.font_size,
                                                overlay.REC if self.recording else
                                                overlay.BUSY if self.building else
                                                overlay.SCALE)
                                  if badge else None,
                                  fb_size[0])
            self._overlay_img = None if img is None else overlay.fit(img, fb_size)
            self._overlay_key = key
        return self._overlay_img

    def screenshot(self, fb_size: tuple[int, int], drawn=None) -> Path:
        """A PNG of the picture on screen at window resolution, with its scene for re-rendering.

        Rendered again at full resolution where the cost model and the measured frame cost both
        predict that takes at most SCREENSHOT_S; else the picture as the window shows it (the
        render size, upscaled), since a full-size render of a network the auto scale holds at
        1/8 would freeze the show for 64 frames' work. ``still --scene`` renders the PNG's scene
        at full size offline. ``drawn``: this frame's texture, read instead of drawing the
        same picture again where the screenshot is of the size it was drawn at.
        """
        from ..media.images import save_png, to_uint8

        # The picture is of the network on screen: while another builds, that is not the
        # state's (live soak: width 16 pending, width 1024 shown, drawn again full size: 17 s).
        scene = self.state.scene if self._shown is None else \
            replace(self.state.scene, network=self._shown)
        size = fb_size
        full = self.budget.frame_seconds(scene.network, fb_size[0] * fb_size[1],
                                         self.cost_path) or 0.0
        # The model's rate and the frame just measured, scaled to full size: the larger wins, so
        # a machine slower than the model predicts (a loaded CPU, a throttled GPU) holds too.
        shown = self.render_size(fb_size)
        full = max(full, self.frame_cost * fb_size[0] * fb_size[1] / max(shown[0] * shown[1], 1))
        if full > SCREENSHOT_S and self.state.render_scale < 1.0:
            size = shown
        if drawn is not None and tuple(drawn.size) == tuple(size) == tuple(shown):
            tex = drawn  # a second draw would double a slow frame (live soak: 4.7 s, not 2.4)
        else:
            tex = self.renderer.draw(size, self.view(), dtype="f4", display=True)
        frame = self.renderer.read(tex, 3)  # float, rounded by save_png exactly as `still` does
        if size != fb_size:
            from PIL import Image

            frame = np.asarray(Image.fromarray(to_uint8(frame)).resize(fb_size, Image.BILINEAR))
        seed = int(scene.network.get("seed", actions.NETWORK_DEFAULTS["seed"]))
        path = _free_path(self.screenshot_dir, f"cppn-{seed}", ".png")
        try:
            self.last_screenshot = save_png(path, frame, scene)
        except BaseException:
            _remove_claim(path)
            raise
        print(f"saved {path}", flush=True)
        return path

    def title(self) -> str:
        s = self.state
        scale = f"scale {s.render_scale:.2g}" + (" auto" if s.auto_scale else "")
        return (f"{TITLE} | seed {s.seed} | {self.fps:.1f} fps | {scale}"
                + (" | paused" if s.paused else "")
                + (" | REC" if self.recording is not None else ""))


def _spec_bytes(spec: NetworkSpec) -> int:
    return sum(lay.weight.nbytes + lay.bias.nbytes for lay in spec.layers)


def _architecture(network: dict) -> str:
    """A network config without its seed: configs equal here cost the same."""
    return json.dumps({k: v for k, v in network.items() if k != "seed"}, sort_keys=True)


def _free_path(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem-NNN.suffix`` with the first free number, claimed with exclusive creation
    (the folder is made; a dangling link holds its number and is never followed)."""
    return safeio.claim_numbered(folder, stem, suffix)


def _write_claimed(path: Path, data: str | bytes) -> None:
    """Fill a claimed name whole (atomically); a failed write gives the number back."""
    try:
        safeio.write_atomic(path, data)
    except BaseException:
        _remove_claim(path)
        raise


def _remove_claim(path: Path) -> None:
    """Remove the empty placeholder of a name that was claimed but never written."""
    with suppress(OSError):
        if path.stat().st_size == 0:
            path.unlink()


def check_screenshot_dir(folder: Path | str) -> Path:
    """The screenshot folder, refused at startup when it names something other than a folder."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CPPNError(f"--screenshot-dir {folder} is a file, not a folder")
    return folder


