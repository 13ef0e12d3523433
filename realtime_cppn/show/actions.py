"""The show's one action vocabulary and its one reducer: every change to the live show, as data.

Keys (``keys.py``), the command line (``--action``), OSC, MIDI, the scene bank and the performance
log all speak this vocabulary: an ``Action(name, value)`` whose name is a key of ``ACTIONS``, a
table of ``ActionSpec`` (what the value is: its kind, range or choices). ``coerce`` is the one
function that turns a value from any source (text from the CLI, TOML or OSC, a number from OSC or
a MIDI curve, a JSON value from a log) into the typed value, or one CPPNError line.

Each action has an owner. ``show`` actions are named by keys, the CLI and OSC and applied by the
reducer; ``instrument`` actions (tempo, quantisation, bank, MIDI learn, reactivity) are taken by
the instrument, which produces show actions from them; ``made`` actions (a bank ``recall``, a
``loop`` length, a ``latent`` offset) are produced by the instrument, OSC or MIDI parameters and
applied by the reducer like any other, so the performance log replays them.

``apply(state, action)`` is a pure function from one frozen ``AppState`` to the next (a table of
small handlers, one per action), and ``advance(state, time, dt)`` is the only place time enters,
from an injected clock. Effects that need the GPU or the window (compile, upload, screenshot,
fullscreen) are carried out by the app, which compares the old and new state. Random choices (the
next seed, a random activation mix) are drawn from a generator seeded by the state itself, so a
sequence of actions always gives the same show.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np

from ..core import activations
from ..core.animation import Phase
from ..core.errors import CPPNError
from ..core.scene import NETWORK_DEFAULTS, NETWORK_RANGES, Scene
from ..core.spec import COLOR_MODES, KALEIDO_RANGE, MAX_Z, MIRRORS, PALETTES, SYMMETRIES, WRAPS

MORPH_SECONDS = 1.0  # long enough to read as a transformation, short enough to stay responsive
SPEED_EASE = 0.08  # seconds: time constant of the rate easing to a new speed (keeps z C1 in time)
RENDER_SCALES = (1.0, 0.5, 0.25)  # fractions of the window the network is evaluated at
SPEED_RANGE = (1.0 / 64.0, 64.0)
ZOOM_STEP = 1.25
ZOOM_RANGE = (1.0 / 64.0, 64.0)
WIDTH_KEY_RANGE = (2, 256)  # width keys double / halve inside this; the setter allows model limits
DEPTH_KEY_RANGE = (1, 16)
WIDTH_RANGE = NETWORK_RANGES["width"]
DEPTH_RANGE = NETWORK_RANGES["depth"]
HISTORY = 64  # seeds remembered for "previous seed"
DEFAULT_TARGET_FPS = 60.0  # what the auto scale key aims at unless --auto-scale says otherwise
TARGET_FPS_RANGE = (1.0, 1000.0)
SEED_RANGE = 2**31
LATENT_RANGE = (-8.0, 8.0)  # latent offsets: far past the N(0, 1) path, still finite in the shader
QUANTA = ("off", "beat", "bar")  # "off" and tempo.QUANTA (tempo imports this module)
BANK_SLOTS = (1, 9)

KINDS = ("none", "int", "float", "bool", "str", "vector", "object")
OWNERS = ("show", "instrument", "made")


@dataclass(frozen=True)
class Action:
    name: str
    value: Any = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}={format_value(self.value)}"


@dataclass(frozen=True)
class ActionSpec:
    """One action of the vocabulary: what its value is, and who takes it."""

    name: str
    description: str
    kind: str = "none"  # one of KINDS: the type of the value
    optional: bool = True  # the value may be left out (the action then toggles, cycles or draws)
    range: tuple[float, float] | None = None  # numbers: bounds; vectors: their length
    clamp: bool = False  # a number outside ``range`` is clamped (by the reducer), not refused
    open_low: bool = False  # the range excludes its low end: (lo, hi]
    choices: tuple[str, ...] = ()  # str: the words it takes (none: any text)
    item: str = ""  # vector: what each element is ("activation", or "latent" for (index, offset))
    owner: str = "show"  # one of OWNERS: who takes it
    hint: str = ""  # how the value reads in help and errors ("int seed", "names")

    def __post_init__(self) -> None:
        assert self.kind in KINDS and self.owner in OWNERS, self
        if not self.hint and self.kind != "none":
            object.__setattr__(self, "hint", "|".join(self.choices) or self.kind)



def _specs(*specs: ActionSpec) -> dict[str, ActionSpec]:
    return {s.name: s for s in specs}


A = ActionSpec
_SEED = (0, 2**63 - 1)  # what a seed may be; the reducer folds it into SEED_RANGE
_PATH = "path"
ACTIONS: dict[str, ActionSpec] = _specs(
    # network
    A("reseed", "new random weights, same architecture", "int", hint="int seed"),
    A("morph", "morph to new random weights over a second", "int", hint="int seed"),
    A("new_path", "new latent path", "int", hint="int path seed"),
    A("previous_seed", "back to the previous seed"),
    A("next_activation", "next activation for the hidden layers"),
    A("previous_activation", "previous activation for the hidden layers"),
    A("random_activations", "a random activation per hidden layer", "vector", range=DEPTH_RANGE,
      item="activation", hint="names"),
    A("width_up", "double the layer width"),
    A("width_down", "halve the layer width"),
    A("depth_up", "one more hidden layer"),
    A("depth_down", "one hidden layer less"),
    A("output_mode", "colour / mono output", "str", choices=("colour", "mono")),
    A("seed", "set the weight seed", "int", optional=False),
    A("width", "set the layer width", "int", optional=False, range=WIDTH_RANGE, clamp=True),
    A("depth", "set the number of hidden layers", "int", optional=False, range=DEPTH_RANGE,
      clamp=True),
    A("activation", "set the hidden activation(s)", "vector", optional=False, range=DEPTH_RANGE,
      item="activation", hint="names"),
    # view and time
    A("symmetry", "cycle symmetry: none, mirror x, mirror y, both", "str", choices=SYMMETRIES,
      hint="symmetry"),
    A("zoom_in", "zoom in"),
    A("zoom_out", "zoom out"),
    A("zoom", "set the zoom", "float", optional=False, range=ZOOM_RANGE, clamp=True),
    A("speed_double", "double the speed"),
    A("speed_half", "halve the speed"),
    A("speed", "set the speed", "float", optional=False, range=SPEED_RANGE, clamp=True),
    A("pause", "pause / resume", "bool"),
    # variations (uv remap, symmetry, colour)
    A("kaleido_up", "kaleidoscope: one fold more (none, k2 .. k12, none)"),
    A("kaleido_down", "kaleidoscope: one fold less (none, k12 .. k2, none)"),
    A("color_mode", "cycle colour mode: rgb, hsv, palette", "str", choices=COLOR_MODES),
    A("palette", "cycle the palette (colour mode palette)", "str", choices=tuple(PALETTES)),
    A("texture", "next texture from the texture's folder (uv networks)", "str", hint=_PATH),
    A("wrap", "cycle texture wrap: clamp, repeat, mirror", "str", choices=WRAPS),
    A("uv_normalize", "uv map stretched by its per-frame min / max (flickers)", "bool"),
    # window
    A("render_scale", "cycle render scale 1, 1/2, 1/4 (turns auto scale off)", "float",
      range=(0.0, 1.0), open_low=True),
    A("auto_scale", "auto render scale: hold the target fps (value: fps, 0 = off)", "float",
      hint="float fps"),
    A("fullscreen", "toggle fullscreen", "bool"),
    A("next_monitor", "move to the next monitor"),
    A("help", "toggle this help", "bool"),
    A("info", "toggle the info overlay", "bool"),
    A("screenshot", "save a PNG screenshot (with its scene)"),
    A("record", "start / stop recording the output (video + performance log)", "bool"),
    A("export", "export the scene as a shader file (glsl, shadertoy, isf)", "str",
      choices=("glsl", "shadertoy", "isf")),
    A("escape", "hide overlays; twice in a row quits"),
    A("quit", "quit"),
    # the instrument's: tempo, quantisation, audio, MIDI learn, the bank
    A("tap", "tap tempo (the mean of the last taps)", owner="instrument"),
    A("bpm", "set the tempo", "float", optional=False, owner="instrument", hint="float bpm"),
    A("bpm_double", "double the tempo", owner="instrument"),
    A("bpm_half", "halve the tempo", owner="instrument"),
    A("resync", "resync: this moment is beat one", owner="instrument"),
    A("loop_bars", "loop length in bars (cycles 1, 2, 4, 8, 16)", "float", owner="instrument",
      hint="float bars"),
    A("quantize", "quantise reseed / morph / recall: off, beat, bar", "str", choices=QUANTA,
      owner="instrument"),
    A("reactivity_up", "more audio reactivity", owner="instrument"),
    A("reactivity_down", "less audio reactivity", owner="instrument"),
    A("reactivity", "set the audio reactivity (0..2)", "float", optional=False,
      owner="instrument"),
    A("midi_learn", "MIDI learn: arm, press a key (or name a parameter), move a control", "str",
      owner="instrument", hint="target"),
    A("bank_store", "store the scene in a bank slot", "int", optional=False, range=BANK_SLOTS,
      owner="instrument", hint="int slot 1-9"),
    A("bank_recall", "recall a bank slot (morphs if the architecture matches)", "int",
      optional=False, range=BANK_SLOTS, owner="instrument", hint="int slot 1-9"),
    # made by the instrument (recall, loop) and by OSC / MIDI parameters (latent)
    A("latent", "offset one latent dimension", "vector", optional=False, range=(2, 2),
      item="latent", owner="made", hint="(int index, float offset)"),
    A("recall", "become a stored scene: {slot, scene (Scene.to_dict), morph (bool)}", "object",
      optional=False, owner="made"),
    A("loop", "set the scene's loop length in seconds (the phase is kept)", "float",
      optional=False, range=(0.0, math.inf), open_low=True, owner="made", hint="float seconds"),
)
del A

# What the reducer applies (and the performance log holds); what keys may name.
APPLIED = frozenset(n for n, s in ACTIONS.items() if s.owner != "instrument")
NAMEABLE = ("show", "instrument")


def named(owners: Iterable[str]) -> dict[str, ActionSpec]:
    """The part of the vocabulary with these owners, in table order."""
    owners = tuple(owners)
    return {n: s for n, s in ACTIONS.items() if s.owner in owners}


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
    z_offsets: tuple[float, ...] = ()  # latent offsets by dimension (OSC / MIDI), trailing 0s cut

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
        # only when set: a log of a show that never offset z reads as it always did
        **({"z_offsets": list(state.z_offsets)} if state.z_offsets else {}),
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
            z_offsets=_z_offsets(doc.get("z_offsets", ())),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise CPPNError(f"the log's state is malformed ({exc!r})") from None


def _z_offsets(doc: Any) -> tuple[float, ...]:
    if not isinstance(doc, (list, tuple)) or len(doc) > MAX_Z:
        raise CPPNError(f"the log's state: z_offsets must be a list of at most {MAX_Z} numbers")
    lo, hi = LATENT_RANGE
    return tuple(_in_range(v, "z offset", lo, hi) for v in doc)


# --- values: one coerce for every source -------------------------------------------------------


def format_value(value: Any) -> str:
    """A value as ``parse`` reads it back (``'sin,tanh'``, ``'true'``; an object as JSON)."""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def spec(name: str, owners: Iterable[str] = OWNERS) -> ActionSpec:
    """The spec of action ``name`` among ``owners``; an unknown name is a CPPNError listing them."""
    found = ACTIONS.get(name)
    owners = tuple(owners)
    if found is None or found.owner not in owners:
        valid = ", ".join(n for n, s in ACTIONS.items() if s.owner in owners)
        raise CPPNError(f"unknown action {name!r}; valid: {valid}")
    return found


def parse(text: str, owners: Iterable[str] = ("show",)) -> Action:
    """``'reseed'``, ``'speed=0.5'``, ``'activation=sin,tanh'`` -> a checked Action.

    The CLI and OSC name ``show`` actions (the default); a key may also name an ``instrument``
    one (``keys.parse_action``).
    """
    name, sep, raw = str(text).strip().partition("=")
    name = name.strip().replace("-", "_")
    return make(spec(name, owners).name, raw.strip() if sep else None)


def make(name: str, value: Any = None) -> Action:
    """A checked Action of any owner: ``value`` coerced (None: left out, where that is allowed)."""
    s = spec(name)
    if value is None:
        if not s.optional:
            raise CPPNError(f"action {name!r} needs a value ({s.hint}), e.g. {name}=...")
        return Action(name)
    return Action(name, coerce(name, value))


def from_log(name: str, value: Any) -> Action:
    """A performance log's event as a checked Action the reducer applies (CPPNError if not)."""
    if name not in APPLIED:
        raise CPPNError(f"unknown action {name!r}")
    return make(name, value)


def coerce(name: str, v: Any) -> Any:
    """The typed value of action ``name`` from any source: text (the CLI, a TOML file, OSC
    strings), numbers (OSC, a MIDI control through its curve) or JSON values (a performance
    log). Bad values are one CPPNError naming the action."""
    s = spec(name)
    if s.kind == "none":
        raise CPPNError(f"action {name!r} takes no value")
    if isinstance(v, (bytes, bytearray)):
        raise CPPNError(f"{name}: cannot use a value of type {type(v).__name__}")
    return _COERCE[s.kind](s, v)


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool):
        raise CPPNError(f"{what} must be an integer, got {v!r}")
    try:
        f = float(v)
        if not math.isfinite(f) or f != int(f):
            raise ValueError
        return int(f) if not isinstance(v, int) else v
    except (TypeError, ValueError, OverflowError):
        raise CPPNError(f"{what} must be an integer, got {v!r}") from None


def finite_number(v: Any, what: str) -> float:
    """``v`` as a finite float, or a CPPNError naming ``what`` (OSC, MIDI and the CLI share it)."""
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
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


def _number(s: ActionSpec, v: Any) -> int | float:
    what = f"{s.name} value"
    if isinstance(v, bool):  # a JSON true is not a number
        raise CPPNError(f"{what} must be a number, got {v!r}")
    f = _int(v, what) if s.kind == "int" else finite_number(v, what)
    if s.range is None or s.clamp:
        return f
    lo, hi = s.range
    if not (lo < f if s.open_low else lo <= f) or not f <= hi:
        bounds = f"({lo:g}, {hi:g}]" if s.open_low else f"{lo:g}..{hi:g}"
        if hi == math.inf:
            bounds = f"above {lo:g}" if s.open_low else f"at least {lo:g}"
        raise CPPNError(f"{s.name.replace('_', ' ')} must be {'' if hi == math.inf else 'in '}"
                        f"{bounds}, got {v!r}")
    return f


# Checks of a text value that only a layer above can make, registered by that layer when it loads
# (MIDI learn checks its target): action name -> check, raising CPPNError.
TEXT_CHECKS: dict[str, Callable[[str], object]] = {}


def _text(s: ActionSpec, v: Any) -> str:
    if not isinstance(v, (str, int, float)) or isinstance(v, bool) and not s.choices:
        raise CPPNError(f"{s.name}: cannot use a value of type {type(v).__name__}")
    if not s.choices:
        text = str(v).strip()
        if not text:
            raise CPPNError(f"{s.name} needs a file name" if s.hint == _PATH
                            else f"{s.name} needs a value ({s.hint})")
        check = TEXT_CHECKS.get(s.name)
        if check is not None:  # a typo fails now, not when the knob moves
            check(text)
        return text
    text = str(v).strip().lower().replace("color", "colour")
    if s.name == "quantize" and text in ("none", "0", "false"):
        text = "off"
    if text not in s.choices:
        raise CPPNError(f"{s.name} must be one of {', '.join(s.choices)}, got {v!r}")
    return text


def _vector(s: ActionSpec, v: Any) -> tuple:
    items = [p.strip() for p in v.split(",")] if isinstance(v, str) else v
    if not isinstance(items, (list, tuple)):
        raise CPPNError(f"{s.name} takes a list ({s.hint}), got {v!r}")
    if s.item == "latent":
        if len(items) != 2:
            raise CPPNError(f"latent takes (index, offset), got {v!r}")
        return (_in_range(items[0], "latent index", 0, MAX_Z - 1, integer=True),
                finite_number(items[1], "latent offset"))
    names = [str(n) for n in items if str(n).strip()]
    if not names:
        raise CPPNError("an activation name is needed")
    lo, hi = s.range or (1, len(names))
    if len(names) > hi:
        # One name per hidden layer: a longer list would build an absurdly deep network.
        raise CPPNError(f"at most {hi} activation names, got {len(names)}")
    return tuple(activations.get(n.strip()).name for n in names)


def _object(s: ActionSpec, v: Any) -> dict:
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            raise CPPNError(f"{s.name} takes a JSON object, got {v[:40]!r}") from None
    if not isinstance(v, dict) or not isinstance(v.get("scene"), dict):
        raise CPPNError("recall needs {slot, scene, morph}")
    return v


_COERCE: dict[str, Callable[[ActionSpec, Any], Any]] = {
    "int": _number, "float": _number, "str": _text, "vector": _vector, "object": _object,
    "bool": lambda s, v: _bool(v, f"{s.name} value"),
}


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


def _view(state: AppState, **changes: Any) -> AppState:
    return replace(state, scene=replace(state.scene, view=replace(state.scene.view, **changes)))


def _cycle(choices: tuple, current: Any, step: int = 1, default: int = 0) -> Any:
    i = choices.index(current) if current in choices else default - step
    return choices[(i + step) % len(choices)]


Handler = Callable[["AppState", Any], "AppState"]


# network


def _new_seed(state: AppState, v: int | None, morph: bool = False) -> AppState:
    old = state.seed
    seed = draw_seed(state) if v is None else v
    state = replace(state, history=(*state.history, old)[-HISTORY:], draws=state.draws + 1)
    state = _network(state, seed=int(seed) % SEED_RANGE)
    return replace(state, morph=Morph(old, state.time) if morph else None)


def _previous_seed(state: AppState, v: None) -> AppState:
    if not state.history:
        return state
    state = _network(state, seed=state.history[-1])
    return replace(state, history=state.history[:-1], morph=None)


def _new_path(state: AppState, v: int | None) -> AppState:
    if v is None:
        rng = np.random.default_rng([0x9A7, state.scene.path_seed % SEED_RANGE, state.draws])
        v = int(rng.integers(0, SEED_RANGE))
    state = replace(state, draws=state.draws + 1)
    return replace(state, scene=replace(state.scene, path_seed=v % SEED_RANGE))


def _step_activation(state: AppState, v: None, step: int) -> AppState:
    return _network(state, activation=_cycle(activations.NAMES, state.hidden_activations[0],
                                             step, default=step))


def _random_activations(state: AppState, v: tuple | None) -> AppState:
    if v is None:
        rng = np.random.default_rng([0xAC7, state.seed % SEED_RANGE, state.draws])
        names = activations.NAMES
        v = tuple(names[i] for i in rng.integers(0, len(names), int(state.net("depth"))))
        state = replace(state, draws=state.draws + 1)
    return _with_depth(_network(state, activation=list(v)), int(state.net("depth")))


def _activation(state: AppState, v: tuple) -> AppState:
    if len(v) == 1:
        return _network(state, activation=v[0])
    return _network(state, activation=list(v), depth=len(v))


def _width(state: AppState, v: int | None, step: int = 0) -> AppState:
    w = int(state.net("width"))
    lo, hi = WIDTH_KEY_RANGE
    if step == 0:
        w = int(_clamp(v, *WIDTH_RANGE))
    else:
        w = min(w * 2, max(hi, w)) if step > 0 else max(w // 2, min(lo, w))
    return _network(state, width=w) if w != state.net("width") else state


def _depth(state: AppState, v: int | None, step: int = 0) -> AppState:
    d = int(state.net("depth"))
    lo, hi = DEPTH_KEY_RANGE
    if step == 0:
        d = int(_clamp(v, *DEPTH_RANGE))
    else:
        d = min(d + 1, max(hi, d)) if step > 0 else max(d - 1, min(lo, d))
    return _with_depth(state, d) if d != state.net("depth") else state


def _output_mode(state: AppState, v: str | None) -> AppState:
    mono = state.net("out_channels") != 1 if v is None else v == "mono"
    return _network(state, out_channels=1 if mono else 3)


# view and time


def _symmetry(state: AppState, v: str | None) -> AppState:
    if v is None:  # the key cycles the mirrors; kaleidoscopes (kN) are set by value
        current = state.scene.view.symmetry
        v = _cycle(MIRRORS, current) if current in MIRRORS else "none"
    return _view(state, symmetry=v)


def _zoom(state: AppState, v: float | None, factor: float = 1.0) -> AppState:
    z = v if v is not None and factor == 1.0 else state.scene.view.zoom * factor
    return _view(state, zoom=_clamp(z, *ZOOM_RANGE))


def _speed(state: AppState, v: float | None, factor: float = 1.0) -> AppState:
    s = v if v is not None and factor == 1.0 else state.speed * factor
    return replace(state, speed=_clamp(s, *SPEED_RANGE))


def _toggle(state: AppState, v: bool | None, field_name: str) -> AppState:
    return replace(state, **{field_name: (not getattr(state, field_name)) if v is None else v})


def _kaleido(state: AppState, v: None, step: int) -> AppState:
    # One cycle through none, k2 .. k12 in either direction: every press changes the view.
    cycle = ("none", *(f"k{n}" for n in KALEIDO_RANGE))
    return _view(state, symmetry=_cycle(cycle, state.scene.view.symmetry, step, default=step))


def _view_choice(state: AppState, v: str | None, field_name: str, choices: tuple) -> AppState:
    if v is None:
        v = _cycle(choices, getattr(state.scene.view, field_name))
    return _view(state, **{field_name: v})


def _uv_normalize(state: AppState, v: bool | None) -> AppState:
    return _view(state, uv_normalize=not state.scene.view.uv_normalize if v is None else v)


def _texture(state: AppState, v: str | None) -> AppState:
    if v is None:  # the next of the listed textures; the app resolves this before logging
        if not state.textures:
            return state
        v = _cycle(state.textures, state.scene.texture)
    return replace(state, scene=replace(state.scene, texture=v))


# window


def _render_scale(state: AppState, v: float | None) -> AppState:
    if v is None:
        i = min(range(len(RENDER_SCALES)), key=lambda k: abs(RENDER_SCALES[k] - state.render_scale))
        v = RENDER_SCALES[(i + 1) % len(RENDER_SCALES)]
    return replace(state, render_scale=v, auto_scale=False)  # a chosen scale is kept


def _auto_scale(state: AppState, v: float | None) -> AppState:
    if v is None:
        return replace(state, auto_scale=not state.auto_scale)
    if v <= 0:
        return replace(state, auto_scale=False)
    return replace(state, auto_scale=True, target_fps=_clamp(v, *TARGET_FPS_RANGE))


def _count(state: AppState, v: Any, field_name: str) -> AppState:
    return replace(state, **{field_name: getattr(state, field_name) + 1})


def _export(state: AppState, v: str | None) -> AppState:
    return replace(state, exports=state.exports + 1, export_format=v or "glsl")


def _escape(state: AppState, v: None) -> AppState:
    count = state.esc_count + 1
    return replace(state, help=False, info=False, esc_count=count, quit=count >= 2)


# made by the instrument, OSC and MIDI


def _latent(state: AppState, v: tuple[int, float]) -> AppState:
    """Offset latent dimension ``index`` (idempotent: a replay sets it again)."""
    index, offset = v
    z = [*state.z_offsets, *([0.0] * max(0, index + 1 - len(state.z_offsets)))]
    z[index] = _clamp(float(offset), *LATENT_RANGE)
    while z and z[-1] == 0.0:
        z.pop()
    return replace(state, z_offsets=tuple(z))


def _loop(state: AppState, v: float) -> AppState:
    return replace(state, scene=replace(state.scene, loop=v))


def _recall(state: AppState, v: dict) -> AppState:
    return recall(state, Scene.from_dict(v["scene"]), bool(v.get("morph", False)))


def recall(state: AppState, scene: Scene, morph: bool) -> AppState:
    """``state`` showing ``scene``: when only the seed differs, a weight morph keeping the latent
    motion (path and phase kept); else a cut to the whole scene."""
    old = state.seed
    new_seed = int(scene.network.get("seed", NETWORK_DEFAULTS["seed"]))
    history = state.history if new_seed == old else (*state.history, old)[-HISTORY:]
    if morph:
        scene = replace(scene, path_seed=state.scene.path_seed, phase=state.scene.phase)
        m = Morph(old, state.time) if new_seed != old else None
        return replace(state, scene=scene, history=history, morph=m)
    return replace(state, scene=scene, history=history, morph=None)


HANDLERS: dict[str, Handler] = {
    "reseed": _new_seed,
    "morph": partial(_new_seed, morph=True),
    "seed": _new_seed,
    "new_path": _new_path,
    "previous_seed": _previous_seed,
    "next_activation": partial(_step_activation, step=1),
    "previous_activation": partial(_step_activation, step=-1),
    "random_activations": _random_activations,
    "activation": _activation,
    "width_up": partial(_width, step=1),
    "width_down": partial(_width, step=-1),
    "width": _width,
    "depth_up": partial(_depth, step=1),
    "depth_down": partial(_depth, step=-1),
    "depth": _depth,
    "output_mode": _output_mode,
    "symmetry": _symmetry,
    "zoom_in": partial(_zoom, factor=ZOOM_STEP),
    "zoom_out": partial(_zoom, factor=1.0 / ZOOM_STEP),
    "zoom": _zoom,
    "speed_double": partial(_speed, factor=2.0),
    "speed_half": partial(_speed, factor=0.5),
    "speed": _speed,
    "pause": partial(_toggle, field_name="paused"),
    "kaleido_up": partial(_kaleido, step=1),
    "kaleido_down": partial(_kaleido, step=-1),
    "color_mode": partial(_view_choice, field_name="color", choices=COLOR_MODES),
    "palette": partial(_view_choice, field_name="palette", choices=tuple(PALETTES)),
    "wrap": partial(_view_choice, field_name="wrap", choices=WRAPS),
    "uv_normalize": _uv_normalize,
    "texture": _texture,
    "render_scale": _render_scale,
    "auto_scale": _auto_scale,
    "fullscreen": partial(_toggle, field_name="fullscreen"),
    "next_monitor": partial(_count, field_name="monitor"),
    "help": partial(_toggle, field_name="help"),
    "info": partial(_toggle, field_name="info"),
    "screenshot": partial(_count, field_name="screenshots"),
    "record": partial(_toggle, field_name="recording"),
    "export": _export,
    "escape": _escape,
    "quit": lambda state, v: replace(state, quit=True),
    "latent": _latent,
    "recall": _recall,
    "loop": _loop,
}


def apply(state: AppState, action: Action) -> AppState:
    """The state after ``action``; an unknown action or a bad value is a CPPNError. Instrument
    actions (tempo, bank, learn) are the instrument's: it turns them into actions applied here."""
    s = spec(action.name)
    if s.owner == "instrument":
        raise CPPNError(f"action {action.name!r} is the instrument's (tempo, bank, MIDI learn)")
    v = make(action.name, action.value).value
    if s.owner == "show" and action.name != "escape":
        state = replace(state, esc_count=0)
    return HANDLERS[action.name](state, v)


def z_offset(state: AppState, extra: np.ndarray | None = None) -> np.ndarray | None:
    """(MAX_Z,) what is added to z: the state's latent offsets plus ``extra`` (audio), None when
    nothing is."""
    if not state.z_offsets:
        return extra
    z = np.zeros(MAX_Z)
    z[: len(state.z_offsets)] = state.z_offsets
    return z if extra is None else z + extra



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
