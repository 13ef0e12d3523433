"""The action vocabulary and the reducer: every change to the live show, as plain data.

Keys (``keys.py``), the command line (``--action``) and later OSC, MIDI and the performance log
all speak this one vocabulary: an ``Action(name, value)`` whose name is a key of ``ACTIONS``.
``apply(state, action)`` is a pure function from one frozen ``AppState`` to the next, and
``advance(state, time, dt)`` is the only place time enters, from an injected clock. Effects that
need the GPU or the window (compile, upload, screenshot, fullscreen) are carried out by the app,
which compares the old and new state. Random choices (the next seed, a random activation mix) are
drawn from a generator seeded by the state itself, so a sequence of actions always gives the same
show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import activations
from .animation import Phase
from .errors import CPPNError
from .scene import Scene
from .spec import COLOR_MODES, KALEIDO_RANGE, MIRRORS, PALETTES, SYMMETRIES, WRAPS

MORPH_SECONDS = 1.0  # long enough to read as a transformation, short enough to stay responsive
SPEED_EASE = 0.08  # seconds: time constant of the rate easing to a new speed (keeps z C1 in time)
RENDER_SCALES = (1.0, 0.5, 0.25)  # fractions of the window the network is evaluated at
SPEED_RANGE = (1.0 / 64.0, 64.0)
ZOOM_STEP = 1.25
ZOOM_RANGE = (1.0 / 64.0, 64.0)
WIDTH_KEY_RANGE = (2, 256)  # width keys double / halve inside this; the setter allows model limits
DEPTH_KEY_RANGE = (1, 16)
WIDTH_RANGE = (1, 1024)  # model.MAX_WIDTH, MAX_DEPTH (mirrored: this module imports no torch)
DEPTH_RANGE = (1, 64)
HISTORY = 64  # seeds remembered for "previous seed"
DEFAULT_TARGET_FPS = 60.0  # what the auto scale key aims at unless --auto-scale says otherwise
TARGET_FPS_RANGE = (1.0, 1000.0)
SEED_RANGE = 2**31

# model.CPPNConfig defaults for the fields the reducer edits (tests check they agree).
NETWORK_DEFAULTS: dict[str, Any] = {
    "seed": 0, "width": 32, "depth": 4, "activation": "tanh", "out_channels": 3,
}


@dataclass(frozen=True)
class Action:
    name: str
    value: Any = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}={format_value(self.value)}"


@dataclass(frozen=True)
class ActionInfo:
    description: str
    value: str | None = None  # what the value is (None: takes none); "optional" ones toggle/cycle
    optional: bool = True  # the value may be left out


ACTIONS: dict[str, ActionInfo] = {
    # network
    "reseed": ActionInfo("new random weights, same architecture", "int seed"),
    "morph": ActionInfo("morph to new random weights over a second", "int seed"),
    "new_path": ActionInfo("new latent path", "int path seed"),
    "previous_seed": ActionInfo("back to the previous seed"),
    "next_activation": ActionInfo("next activation for the hidden layers"),
    "previous_activation": ActionInfo("previous activation for the hidden layers"),
    "random_activations": ActionInfo("a random activation per hidden layer", "names"),
    "width_up": ActionInfo("double the layer width"),
    "width_down": ActionInfo("halve the layer width"),
    "depth_up": ActionInfo("one more hidden layer"),
    "depth_down": ActionInfo("one hidden layer less"),
    "output_mode": ActionInfo("colour / mono output", "colour|mono"),
    "seed": ActionInfo("set the weight seed", "int", optional=False),
    "width": ActionInfo("set the layer width", "int", optional=False),
    "depth": ActionInfo("set the number of hidden layers", "int", optional=False),
    "activation": ActionInfo("set the hidden activation(s)", "names", optional=False),
    # view and time
    "symmetry": ActionInfo("cycle symmetry: none, mirror x, mirror y, both", "symmetry"),
    "zoom_in": ActionInfo("zoom in"),
    "zoom_out": ActionInfo("zoom out"),
    "zoom": ActionInfo("set the zoom", "float", optional=False),
    "speed_double": ActionInfo("double the speed"),
    "speed_half": ActionInfo("halve the speed"),
    "speed": ActionInfo("set the speed", "float", optional=False),
    "pause": ActionInfo("pause / resume", "bool"),
    # variations (uv remap, symmetry, colour)
    "kaleido_up": ActionInfo("kaleidoscope: one fold more (none, k2 .. k12, none)"),
    "kaleido_down": ActionInfo("kaleidoscope: one fold less (none, k12 .. k2, none)"),
    "color_mode": ActionInfo("cycle colour mode: rgb, hsv, palette", "|".join(COLOR_MODES)),
    "palette": ActionInfo("cycle the palette (colour mode palette)", "|".join(PALETTES)),
    "texture": ActionInfo("next texture from the texture's folder (uv networks)", "path"),
    "wrap": ActionInfo("cycle texture wrap: clamp, repeat, mirror", "|".join(WRAPS)),
    "uv_normalize": ActionInfo("uv map stretched by its per-frame min / max (flickers)", "bool"),
    # window
    "render_scale": ActionInfo("cycle render scale 1, 1/2, 1/4 (turns auto scale off)", "float"),
    "auto_scale": ActionInfo("auto render scale: hold the target fps (value: fps, 0 = off)",
                             "float fps"),
    "fullscreen": ActionInfo("toggle fullscreen", "bool"),
    "next_monitor": ActionInfo("move to the next monitor"),
    "help": ActionInfo("toggle this help", "bool"),
    "info": ActionInfo("toggle the info overlay", "bool"),
    "screenshot": ActionInfo("save a PNG screenshot (with its scene)"),
    "record": ActionInfo("start / stop recording the output (video + performance log)", "bool"),
    "export": ActionInfo("export the scene as a shader file (glsl, shadertoy, isf)",
                         "glsl|shadertoy|isf"),
    "escape": ActionInfo("hide overlays; twice in a row quits"),
    "quit": ActionInfo("quit"),
}


@dataclass(frozen=True)
class Morph:
    """A weight morph in progress: from ``from_seed`` to the scene's seed, by clock time."""

    from_seed: int
    start: float
    duration: float = MORPH_SECONDS

    def progress(self, time: float) -> float:
        return min(max((time - self.start) / self.duration, 0.0), 1.0)


@dataclass(frozen=True)
class AppState:
    scene: Scene = field(default_factory=Scene)
    speed: float = 1.0  # the rate the user asked for
    rate: float = 1.0  # the rate in effect: eases to ``speed`` (or 0 when paused)
    paused: bool = False
    time: float = 0.0  # clock seconds at the latest frame
    help: bool = False
    info: bool = False
    render_scale: float = 1.0
    fullscreen: bool = False
    monitor: int = 0  # index into the monitor list, taken modulo its length by the window
    history: tuple[int, ...] = ()  # earlier seeds, latest last
    morph: Morph | None = None
    esc_count: int = 0  # consecutive Esc presses
    draws: int = 0  # random draws so far: seeds the next draw
    screenshots: int = 0  # screenshots asked for; the app takes one when this grows
    recording: bool = False  # the app records while this is on (video + performance log)
    auto_scale: bool = False  # the app picks render_scale to hold target_fps
    target_fps: float = DEFAULT_TARGET_FPS
    textures: tuple[str, ...] = ()  # images the texture action cycles (the app lists the folder)
    exports: int = 0  # shader exports asked for; the app writes one when this grows
    export_format: str = "glsl"
    quit: bool = False

    def net(self, key: str) -> Any:
        return self.scene.network.get(key, NETWORK_DEFAULTS.get(key))

    @property
    def seed(self) -> int:
        return int(self.net("seed"))

    @property
    def hidden_activations(self) -> tuple[str, ...]:
        act = self.net("activation")
        return (act,) * int(self.net("depth")) if isinstance(act, str) else tuple(act)


def initial_state(scene: Scene, speed: float = 1.0, paused: bool = False, **fields: Any) -> AppState:
    """The state a show starts in: a paused show starts at rest (rate 0)."""
    speed = _clamp(finite_number(speed, "speed"), *SPEED_RANGE)
    return AppState(scene=scene, speed=speed, rate=0.0 if paused else speed, paused=paused,
                    **fields)


def state_header(state: AppState, start: float) -> dict:
    """What a performance log keeps of the state beyond its scene, as plain JSON values: all a
    replay needs to continue exactly (clock times made relative to ``start``, the first frame)."""
    morph = state.morph
    return {
        "speed": state.speed, "rate": state.rate, "paused": state.paused,
        "history": list(state.history), "draws": state.draws,
        "morph": None if morph is None else {
            "from_seed": morph.from_seed, "start": morph.start - start,
            "duration": morph.duration},
        "textures": list(state.textures), "render_scale": state.render_scale,
    }


def state_from_header(scene: Scene, doc: Any) -> AppState:
    """The state a replay starts in (clock time 0) from a log's scene and ``state_header``."""
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise CPPNError("the log's state must be an object")
    try:
        m = doc.get("morph")
        morph = None if m is None else Morph(_int(m["from_seed"], "morph seed"),
                                             finite_number(m["start"], "morph start"),
                                             _in_range(m.get("duration", MORPH_SECONDS),
                                                       "morph duration", 1e-6, 3600.0))
        speed = _clamp(finite_number(doc.get("speed", 1.0), "speed"), *SPEED_RANGE)
        history = doc.get("history", ())
        if not isinstance(history, (list, tuple)) or len(history) > HISTORY:
            raise CPPNError(f"the log's state: history must be a list of at most {HISTORY} seeds")
        return AppState(
            scene=scene, speed=speed,
            rate=_in_range(doc.get("rate", speed), "rate", 0.0, SPEED_RANGE[1]),
            paused=_bool(doc.get("paused", False), "paused"),
            history=tuple(_in_range(h, "history seed", 0, 2**63 - 1, integer=True)
                          for h in history),
            draws=_in_range(doc.get("draws", 0), "draws", 0, 2**63 - 1, integer=True),
            morph=morph, textures=tuple(str(t) for t in doc.get("textures", ())),
            render_scale=_in_range(doc.get("render_scale", 1.0), "render scale", 1e-3, 1.0),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise CPPNError(f"the log's state is malformed ({exc!r})") from None


# --- value parsing (keys, CLI, OSC) ------------------------------------------------------------


def format_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def parse(text: str) -> Action:
    """``'reseed'``, ``'speed=0.5'``, ``'activation=sin,tanh'`` -> a checked Action."""
    name, sep, raw = str(text).strip().partition("=")
    name = name.strip().replace("-", "_")
    info = _info(name)
    if not sep:
        if not info.optional:
            raise CPPNError(f"action {name!r} needs a value ({info.value}), e.g. {name}=...")
        return Action(name)
    if info.value is None:
        raise CPPNError(f"action {name!r} takes no value")
    return Action(name, _coerce(name, raw.strip()))


def _info(name: str) -> ActionInfo:
    info = ACTIONS.get(name)
    if info is None:
        raise CPPNError(f"unknown action {name!r}; valid: {', '.join(ACTIONS)}")
    return info


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool):
        raise CPPNError(f"{what} must be an integer, got {v!r}")
    try:
        f = float(v)
        if not math.isfinite(f) or f != int(f):
            raise ValueError
        return int(f)
    except (TypeError, ValueError):
        raise CPPNError(f"{what} must be an integer, got {v!r}") from None


def finite_number(v: Any, what: str) -> float:
    """``v`` as a finite float, or a CPPNError naming ``what`` (OSC, MIDI and the CLI share it)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise CPPNError(f"{what} must be a number, got {v!r}") from None
    if not math.isfinite(f):
        raise CPPNError(f"{what} must be finite, got {v!r}")
    return f


def _in_range(v: Any, what: str, lo: float, hi: float, integer: bool = False) -> Any:
    """``v`` as a number in [lo, hi] (an int when ``integer``), or a CPPNError naming ``what``."""
    f = _int(v, what) if integer else finite_number(v, what)
    if not lo <= f <= hi:
        raise CPPNError(f"{what} must be in {lo:g}..{hi:g}, got {v!r}")
    return f


def _bool(v: Any, what: str) -> bool:
    if isinstance(v, bool):
        return v
    text = str(v).strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    raise CPPNError(f"{what} must be true or false, got {v!r}")


def _names(v: Any) -> tuple[str, ...]:
    names = [n.strip() for n in v.split(",")] if isinstance(v, str) else [str(n) for n in v]
    names = [n for n in names if n]
    if not names:
        raise CPPNError("an activation name is needed")
    return tuple(activations.get(n).name for n in names)


def _coerce(name: str, v: Any) -> Any:
    """A value for action ``name`` from any source (text from the CLI or TOML, OSC numbers)."""
    kind = ACTIONS[name].value
    if kind is None:
        raise CPPNError(f"action {name!r} takes no value")
    if kind.startswith("int"):
        return _int(v, f"{name} value")
    if kind.startswith("float"):
        return finite_number(v, f"{name} value")
    if kind == "bool":
        return _bool(v, f"{name} value")
    if kind == "names":
        return _names(v)
    if kind == "path":
        text = str(v).strip()
        if not text:
            raise CPPNError(f"{name} needs a file name")
        return text
    choices = SYMMETRIES if kind == "symmetry" else kind.split("|")
    text = str(v).strip().lower().replace("color", "colour")
    if text not in choices:
        raise CPPNError(f"{name} must be one of {', '.join(choices)}, got {v!r}")
    return text


# --- the reducer -------------------------------------------------------------------------------


def _clamp(v: float, lo: float, hi: float) -> float:
    return min(max(v, lo), hi)


def draw_seed(state: AppState, attempt: int = 0) -> int:
    """The ``attempt``-th candidate for the next random seed (the app skips dead networks)."""
    rng = np.random.default_rng([0xC99, state.seed % SEED_RANGE, state.draws, attempt])
    return int(rng.integers(0, SEED_RANGE))


def _network(state: AppState, **changes: Any) -> AppState:
    network = {**state.scene.network, **changes}
    # A new architecture cannot morph from the old weights: the morph is dropped.
    morph = state.morph if set(changes) <= {"seed"} else None
    return replace(state, scene=replace(state.scene, network=network), morph=morph)


def _with_depth(state: AppState, depth: int) -> AppState:
    act = state.net("activation")
    if isinstance(act, str):
        return _network(state, depth=depth)
    acts = list(act)[:depth] + [act[-1]] * max(0, depth - len(act))
    return _network(state, depth=depth, activation=acts)


def _new_seed(state: AppState, seed: int, morph: bool) -> AppState:
    old = state.seed
    state = replace(state, history=(*state.history, old)[-HISTORY:], draws=state.draws + 1)
    state = _network(state, seed=int(seed) % SEED_RANGE)
    return replace(state, morph=Morph(old, state.time) if morph else None)


def _step_activation(state: AppState, step: int) -> AppState:
    names = activations.NAMES
    current = state.hidden_activations[0]
    i = names.index(current) if current in names else 0
    return _network(state, activation=names[(i + step) % len(names)])


def _view(state: AppState, **changes: Any) -> AppState:
    return replace(state, scene=replace(state.scene, view=replace(state.scene.view, **changes)))


def _toggle(state: AppState, name: str, value: Any) -> AppState:
    return replace(state, **{name: (not getattr(state, name)) if value is None else value})


def apply(state: AppState, action: Action) -> AppState:
    """The state after ``action``; an unknown action or a bad value is a CPPNError."""
    name, v = action.name, action.value
    _info(name)
    if v is not None:
        v = _coerce(name, v)
    elif not ACTIONS[name].optional:
        raise CPPNError(f"action {name!r} needs a value ({ACTIONS[name].value})")
    if name != "escape":
        state = replace(state, esc_count=0)

    if name in ("reseed", "morph", "seed"):
        return _new_seed(state, draw_seed(state) if v is None else v, morph=name == "morph")
    if name == "previous_seed":
        if not state.history:
            return state
        state = _network(state, seed=state.history[-1])
        return replace(state, history=state.history[:-1], morph=None)
    if name == "new_path":
        if v is None:
            rng = np.random.default_rng([0x9A7, state.scene.path_seed % SEED_RANGE, state.draws])
            v = int(rng.integers(0, SEED_RANGE))
        state = replace(state, draws=state.draws + 1)
        return replace(state, scene=replace(state.scene, path_seed=v % SEED_RANGE))
    if name == "next_activation":
        return _step_activation(state, 1)
    if name == "previous_activation":
        return _step_activation(state, -1)
    if name == "random_activations":
        if v is None:
            rng = np.random.default_rng([0xAC7, state.seed % SEED_RANGE, state.draws])
            names = activations.NAMES
            v = tuple(names[i] for i in rng.integers(0, len(names), int(state.net("depth"))))
            state = replace(state, draws=state.draws + 1)
        return _with_depth(_network(state, activation=list(v)), int(state.net("depth")))
    if name == "activation":
        if len(v) == 1:
            return _network(state, activation=v[0])
        return _network(state, activation=list(v), depth=len(v))
    if name in ("width_up", "width_down", "width"):
        w = int(state.net("width"))
        if name == "width":
            w = int(_clamp(v, *WIDTH_RANGE))
        else:
            lo, hi = WIDTH_KEY_RANGE
            w = min(w * 2, max(hi, w)) if name == "width_up" else max(w // 2, min(lo, w))
        return _network(state, width=w) if w != state.net("width") else state
    if name in ("depth_up", "depth_down", "depth"):
        d = int(state.net("depth"))
        if name == "depth":
            d = int(_clamp(v, *DEPTH_RANGE))
        else:
            lo, hi = DEPTH_KEY_RANGE
            d = min(d + 1, max(hi, d)) if name == "depth_up" else max(d - 1, min(lo, d))
        return _with_depth(state, d) if d != state.net("depth") else state
    if name == "output_mode":
        mono = state.net("out_channels") != 1 if v is None else v == "mono"
        return _network(state, out_channels=1 if mono else 3)
    if name == "symmetry":
        if v is None:  # the key cycles the mirrors; kaleidoscopes (kN) are set by value
            current = state.scene.view.symmetry
            v = MIRRORS[(MIRRORS.index(current) + 1) % len(MIRRORS)] if current in MIRRORS else "none"
        return _view(state, symmetry=v)
    if name in ("zoom_in", "zoom_out", "zoom"):
        z = state.scene.view.zoom
        z = v if name == "zoom" else z * (ZOOM_STEP if name == "zoom_in" else 1.0 / ZOOM_STEP)
        return _view(state, zoom=_clamp(z, *ZOOM_RANGE))
    if name in ("speed_double", "speed_half", "speed"):
        s = v if name == "speed" else state.speed * (2.0 if name == "speed_double" else 0.5)
        return replace(state, speed=_clamp(s, *SPEED_RANGE))
    if name == "pause":
        return _toggle(state, "paused", v)
    if name in ("kaleido_up", "kaleido_down"):
        # One cycle through none, k2 .. k12 in either direction: every press changes the view.
        cycle = ("none", *(f"k{n}" for n in KALEIDO_RANGE))
        current = state.scene.view.symmetry
        i = cycle.index(current) if current in cycle else 0
        return _view(state, symmetry=cycle[(i + (1 if name == "kaleido_up" else -1)) % len(cycle)])
    if name in ("color_mode", "palette", "wrap"):
        field_name, choices = {"color_mode": ("color", COLOR_MODES),
                               "palette": ("palette", tuple(PALETTES)),
                               "wrap": ("wrap", WRAPS)}[name]
        if v is None:
            current = getattr(state.scene.view, field_name)
            v = choices[(choices.index(current) + 1) % len(choices)]
        return _view(state, **{field_name: v})
    if name == "uv_normalize":
        on = not state.scene.view.uv_normalize if v is None else v
        return _view(state, uv_normalize=on)
    if name == "texture":
        if v is None:  # the next of the listed textures; the app resolves this before logging
            if not state.textures:
                return state
            current = state.scene.texture
            i = state.textures.index(current) if current in state.textures else -1
            v = state.textures[(i + 1) % len(state.textures)]
        return replace(state, scene=replace(state.scene, texture=v))
    if name == "auto_scale":
        if v is None:
            return replace(state, auto_scale=not state.auto_scale)
        if v <= 0:
            return replace(state, auto_scale=False)
        return replace(state, auto_scale=True, target_fps=_clamp(v, *TARGET_FPS_RANGE))
    if name == "record":
        return _toggle(state, "recording", v)
    if name == "export":
        return replace(state, exports=state.exports + 1, export_format=v or "glsl")
    if name == "render_scale":
        if v is None:
            i = min(range(len(RENDER_SCALES)),
                    key=lambda k: abs(RENDER_SCALES[k] - state.render_scale))
            v = RENDER_SCALES[(i + 1) % len(RENDER_SCALES)]
        if not 0.0 < v <= 1.0:
            raise CPPNError(f"render scale must be in (0, 1], got {v}")
        return replace(state, render_scale=v, auto_scale=False)  # a chosen scale is kept
    if name in ("fullscreen", "help", "info"):
        return _toggle(state, name, v)
    if name == "next_monitor":
        return replace(state, monitor=state.monitor + 1)
    if name == "screenshot":
        return replace(state, screenshots=state.screenshots + 1)
    if name == "escape":
        count = state.esc_count + 1
        return replace(state, help=False, info=False, esc_count=count, quit=count >= 2)
    if name == "quit":
        return replace(state, quit=True)
    raise AssertionError(f"action {name!r} is listed but not handled")  # pragma: no cover


def advance(state: AppState, time: float, dt: float) -> AppState:
    """Move the show to clock ``time`` (``dt`` seconds after the last frame).

    The rate eases exponentially to the target speed (0 when paused), and the phase integrates the
    rate exactly over the step, so the phase is C1 in time: changing speed or pausing changes the
    rate of motion gradually and never moves the picture by itself.
    """
    target = 0.0 if state.paused else state.speed
    rate = state.rate
    if dt > 0 and rate != target:
        decay = math.exp(-dt / SPEED_EASE)
        new_rate = target + (rate - target) * decay
        # Exact integral of the exponential approach over the step.
        mean = target + (rate - target) * (1.0 - decay) * SPEED_EASE / dt
        if abs(new_rate - target) < 1e-6 * max(1.0, abs(target)):
            new_rate = target
    else:
        new_rate = mean = rate
    phase = Phase(state.scene.phase).advance(dt, mean, state.scene.loop)
    morph = state.morph
    if morph is not None and morph.progress(time) >= 1.0:
        morph = None
    return replace(state, scene=replace(state.scene, phase=phase.value), rate=new_rate,
                   time=time, morph=morph)
