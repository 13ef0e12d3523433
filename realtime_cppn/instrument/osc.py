"""OSC control: one address per action and continuous parameter, turned into queued Actions.

Every address speaks the vocabulary of ``actions.ACTIONS``: ``/cppn/<action>`` with the action's
optional value (``/cppn/reseed``, ``/cppn/reseed 42``, ``/cppn/width 32``, ``/cppn/symmetry k6``,
``/cppn/activation sin tanh``), so an OSC message and the key bound to the same action change the
state identically; the instrument's actions have addresses too (``/cppn/bpm 128``,
``/cppn/bank_recall 3``). ``/cppn/z/<i> <offset>`` sets one latent dimension (the ``latent``
action). ``/cppn/action "speed=0.5"`` takes any show action as text, as ``--action`` does. Every
value goes through the vocabulary's one ``actions.coerce``.

``OscServer`` listens on 127.0.0.1 by default (opening it to a network is a deliberate
``host=``), decodes on python-osc's own thread, and hands Actions to the render thread through a
bounded queue drained by ``poll()`` once per frame. A message that cannot become an action (an
unknown address, a wrong type, NaN, too many arguments) is dropped; an out-of-range number is
clamped to the parameter's range. Either is logged once per address and kind, never raised: the
show goes on. ``StateSender`` sends the state back out (``/cppn/state/<param>``) for chaining.

python-osc is imported only when a server or sender is made, so this module (and its address
table, which ``midi`` reuses) imports without the ``vj`` extra.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core import activations
from ..core.errors import CPPNError
from ..core.spec import MAX_Z, SYMMETRIES
from ..show import actions
from ..show.actions import ACTIONS, LATENT_RANGE, NAMEABLE, Action, AppState

log = logging.getLogger(__name__)

PREFIX = "/cppn"
QUEUE_SIZE = 4096  # actions waiting for the render thread; past this a flood is dropped, not stored
MAX_LOGGED = 1024  # distinct (address, problem) pairs remembered for log-once; bounds memory
MAX_ARGS = 64  # more arguments than any action takes (activation lists are at most this deep)
RENDER_SCALE_RANGE = (1.0 / 16.0, 1.0)
# Actions that end the show (escape twice quits): any local process can send OSC, so these are
# taken only from a server opened with allow_quit (``--osc-quit``).
QUITTING = ("quit", "escape")


@dataclass(frozen=True)
class Param:
    """A continuous parameter: its natural range, and the action a value of it becomes."""

    name: str
    kind: str  # "int", "float", "choice", "bool" or "latent"
    lo: float
    hi: float
    description: str
    choices: tuple[str, ...] = ()


_SEED_MAX = float(actions.SEED_RANGE - 1)
PARAMS: dict[str, Param] = {
    p.name: p for p in (
        Param("seed", "int", 0, _SEED_MAX, "weight seed"),
        Param("morph", "int", 0, _SEED_MAX, "morph to the weights of this seed"),
        Param("activation", "choice", 0, len(activations.NAMES) - 1, "hidden activation",
              activations.NAMES),
        Param("width", "int", *ACTIONS["width"].range, "layer width"),
        Param("depth", "int", *ACTIONS["depth"].range, "hidden layers"),
        Param("zoom", "float", *ACTIONS["zoom"].range, "zoom"),
        Param("speed", "float", *ACTIONS["speed"].range, "speed"),
        Param("symmetry", "choice", 0, len(SYMMETRIES) - 1, "symmetry", SYMMETRIES),
        Param("render_scale", "float", *RENDER_SCALE_RANGE, "render scale"),
        Param("record", "bool", 0, 1, "recording on / off"),
        Param("z", "latent", *LATENT_RANGE, "latent offset of dimension i (z/0 ... z/255)"),
    )
}
# Values clamped to the parameter's range (not refused): the vocabulary's clamped numbers and
# the render scale, whose OSC range is narrower than the reducer's (0, 1].
_CLAMPED = {*(n for n in PARAMS if n in ACTIONS and ACTIONS[n].clamp), "render_scale"}
_BOOL_WORDS = {"1": True, "true": True, "on": True, "yes": True,
               "0": False, "false": False, "off": False, "no": False}


def param_name(name: str) -> tuple[Param, int | None]:
    """``'zoom'`` -> (Param, None); ``'z/3'`` -> (latent Param, 3). Unknown names are CPPNErrors."""
    base, _, index = name.partition("/")
    p = PARAMS.get(base)
    if p is None or (p.kind == "latent") != bool(index):
        raise CPPNError(f"unknown parameter {name!r}; valid: {', '.join(PARAMS)} (as z/<i>)")
    if p.kind != "latent":
        return p, None
    if not index.isdigit() or not 0 <= int(index) < MAX_Z:
        raise CPPNError(f"latent dimension must be 0..{MAX_Z - 1}, got {index!r}")
    return p, int(index)


def _finite(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise CPPNError(f"{what} must be a number, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise CPPNError(f"{what} must be finite, got {v!r}")
    return f


def param_action(name: str, value: Any) -> tuple[Action, bool]:
    """The Action that sets parameter ``name`` to ``value`` and whether the value was clamped.

    Numbers outside the range are clamped; a choice takes its name or its index; a number for
    an int parameter is rounded; the result is checked by the vocabulary's ``actions.make``.
    MIDI reuses this with values it mapped through a curve.
    """
    p, index = param_name(name)
    if p.kind == "latent":
        v = _finite(value, name)
        c = min(max(v, p.lo), p.hi)
        return actions.make("latent", (index, c)), c != v
    if p.kind == "bool":
        if not isinstance(value, bool) and not (
                isinstance(value, str) and value.strip().lower() in _BOOL_WORDS):
            value = _finite(value, name) >= 0.5
        return actions.make(name, value), False
    if p.kind == "choice":
        if isinstance(value, str):
            return actions.make(name, value), False
        v = _finite(value, name)
        i = int(min(max(round(v), p.lo), p.hi))
        return actions.make(name, p.choices[i]), i != v
    v = _finite(value, name)
    c = min(max(v, p.lo), p.hi)
    if p.kind == "int":
        c = float(round(c))
    return actions.make(name, int(c) if p.kind == "int" else c), c != v


ExtraAddresses = Callable[[str, Sequence[Any]], "list[Action] | None"]


def message_actions(address: str, args: Sequence[Any],
                    extra: ExtraAddresses | None = None) -> tuple[list[Action], bool]:
    """The Actions an OSC message asks for and whether a value was clamped; CPPNError if none.

    Pure: the server's only logic, testable without sockets. Show and instrument actions both
    have addresses; ``extra(name, args)`` may answer for names outside the vocabulary: a list of
    Actions, None for "not mine", or a CPPNError for a bad value.
    """
    if not address.startswith(PREFIX + "/"):
        raise CPPNError(f"unknown address {address!r} (addresses start with {PREFIX}/)")
    name = address[len(PREFIX) + 1:]
    if len(args) > MAX_ARGS:
        raise CPPNError(f"{address}: {len(args)} arguments, at most {MAX_ARGS}")
    if name == "action":
        if len(args) != 1 or not isinstance(args[0], str):
            raise CPPNError(f"{address} takes one string such as 'speed=0.5'")
        return _checked(actions.parse(args[0]))
    if name.startswith("z/"):
        action, clamped = param_action(name, _one(address, args))
        return [action], clamped
    info = ACTIONS.get(name)
    if info is None or info.owner not in NAMEABLE:
        found = None if extra is None else extra(name, args)
        if found is None:
            raise CPPNError(f"unknown address {address!r}")
        return found, False
    return _valued(address, info, args)


def _one(address: str, args: Sequence[Any]) -> Any:
    if len(args) != 1:
        raise CPPNError(f"{address} takes one value, got {len(args)}")
    return args[0]


def _valued(address: str, info: actions.ActionSpec, args: Sequence[Any]
            ) -> tuple[list[Action], bool]:
    """``/cppn/<action>`` with its arguments, through the vocabulary's coerce."""
    name = info.name
    if not args:
        if not info.optional:
            raise CPPNError(f"{address} needs a value ({info.hint})")
        return [Action(name)], False
    if info.kind == "none":
        # Controller apps (TouchOSC, Lemur) send a button as 1.0 on press and 0.0 on release.
        if len(args) == 1 and isinstance(args[0], (int, float)) and math.isfinite(args[0]):
            return ([Action(name)] if args[0] >= 0.5 else []), False
        raise CPPNError(f"{address} takes no value (or a button's 1 / 0)")
    if len(args) == 1 and name in PARAMS and not isinstance(args[0], str):
        action, clamped = param_action(name, args[0])  # a number: clamped to the range
        return [action], clamped
    if info.kind == "vector":
        if not all(isinstance(a, str) for a in args):
            raise CPPNError(f"{address} takes activation names")
        return _checked(actions.make(name, ",".join(args)))
    v = _one(address, args)
    if v is None or isinstance(v, (bytes, bytearray, list, tuple)):
        raise CPPNError(f"{address}: cannot use a value of type {type(v).__name__}")
    if isinstance(v, float) and not math.isfinite(v):
        raise CPPNError(f"{address}: value must be finite, got {v!r}")
    return _checked(actions.make(name, v))


def _checked(action: Action) -> tuple[list[Action], bool]:
    """Clamp the value of a parsed action to its parameter's range (as OSC numbers are)."""
    if action.name in _CLAMPED and action.value is not None:
        clamped, was = param_action(action.name, action.value)
        return [clamped], was
    return [action], False


class _LogOnce:
    """Logs each (address, problem) once; bounded so a flood of junk addresses cannot grow it."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.dropped = 0  # messages ignored in all
        self.clamped = 0  # values clamped in all

    def __call__(self, address: str, kind: str, message: str) -> None:
        key = (address[:200], kind)
        with self._lock:
            if key in self._seen:
                return
            if len(self._seen) >= MAX_LOGGED:
                if ("", "full") in self._seen:
                    return
                key, message = ("", "full"), "too many distinct bad OSC messages; no more logged"
            self._seen.add(key)
        log.warning("OSC %s", message)


def _require_pythonosc() -> Any:
    try:
        import pythonosc  # noqa: F401
        from pythonosc import dispatcher, osc_server, udp_client
    except ImportError:
        raise CPPNError("OSC needs python-osc: pip install 'realtime-cppn[vj]'") from None
    return dispatcher, osc_server, udp_client


class OscServer:
    """A UDP OSC server on its own daemon thread; ``poll()`` drains its Actions on the render thread.

    ``port=0`` takes a free port (see ``.port``). Use as a context manager or call ``close()``.
    """

    def __init__(self, port: int = 9000, host: str = "127.0.0.1",
                 extra: ExtraAddresses | None = None, allow_quit: bool = False) -> None:
        dispatcher, osc_server, _ = _require_pythonosc()
        self._extra = extra  # more addresses (see message_actions); called on the server thread
        self.allow_quit = allow_quit
        self._queue: queue.Queue[Action] = queue.Queue(QUEUE_SIZE)
        self._log = _LogOnce()
        self.received = 0  # messages handled, good or bad
        try:
            # A bundle's timetag must not make the server thread sleep: one far in the future
            # would stall every later message. A live instrument acts on arrival.
            d = dispatcher.Dispatcher(strict_timing=False)
        except TypeError:  # python-osc < 1.9 never sleeps on timetags
            d = dispatcher.Dispatcher()
        d.set_default_handler(self._handle)
        try:
            self._server = osc_server.BlockingOSCUDPServer((host, int(port)), d)
        except (OSError, OverflowError, ValueError) as exc:
            raise CPPNError(f"cannot open OSC port {host}:{port}: {exc}") from None
        # A datagram python-osc cannot parse (a bundle nested thousands deep) raises before any
        # handler runs; socketserver would print its whole traceback: one line instead.
        self._server.handle_error = self._bad_datagram
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="osc-server", daemon=True)
        self._thread.start()

    def _handle(self, address: str, *args: Any) -> None:
        # Runs on the server thread: it must never raise (socketserver would print a traceback).
        self.received += 1
        try:
            found, clamped = message_actions(str(address), args, self._extra)
        except CPPNError as exc:
            self._log.dropped += 1
            self._log(str(address), "bad", f"message ignored: {exc}")
            return
        except Exception as exc:  # a library surprise must not kill the server thread
            self._log.dropped += 1
            self._log(str(address), "error", f"message ignored ({type(exc).__name__}: {exc})")
            return
        if not self.allow_quit and any(a.name in QUITTING for a in found):
            self._log.dropped += 1
            self._log(str(address), "quit", f"{address} ignored: quitting over OSC needs "
                      "--osc-quit")
            return
        if clamped:
            self._log.clamped += 1
            self._log(str(address), "clamped", f"{address}: value clamped to its range")
        for action in found:
            try:
                self._queue.put_nowait(action)
            except queue.Full:
                self._log.dropped += 1
                self._log("", "queue", "action queue full (the render thread is not polling); "
                          "dropping actions")

    def _bad_datagram(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        self.received += 1
        self._log.dropped += 1
        self._log("", f"datagram-{type(exc).__name__}",
                  f"malformed datagram from {client_address} ignored ({type(exc).__name__})")

    @property
    def dropped(self) -> int:
        return self._log.dropped

    @property
    def clamped(self) -> int:
        return self._log.clamped

    def poll(self) -> list[Action]:
        """All Actions received since the last poll, oldest first. Never blocks."""
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2.0)

    def __enter__(self) -> OscServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def state_values(state: AppState) -> dict[str, Any]:
    """The state as OSC values, one per parameter address (``/cppn/state/<name>``)."""
    acts = state.hidden_activations
    return {
        "seed": state.seed,
        "activation": ",".join(acts) if len(set(acts)) > 1 else acts[0],
        "width": int(state.net("width")),
        "depth": int(state.net("depth")),
        "zoom": float(state.scene.view.zoom),
        "speed": float(state.speed),
        "symmetry": state.scene.view.symmetry,
        "render_scale": float(state.render_scale),
        "paused": bool(state.paused),
        "phase": float(state.scene.phase),
        "path_seed": int(state.scene.path_seed),
    }


class StateSender:
    """Sends ``state_values`` to another OSC tool, each address only when its value changed."""

    def __init__(self, port: int, host: str = "127.0.0.1", every: Iterable[str] = ()) -> None:
        _, _, udp_client = _require_pythonosc()
        try:
            self._client = udp_client.SimpleUDPClient(host, int(port))
        except (OSError, OverflowError, ValueError) as exc:
            raise CPPNError(f"cannot send OSC to {host}:{port}: {exc}") from None
        self._last: dict[str, Any] = {}
        self._always = set(every)  # names sent every frame (e.g. "phase" for a follower)

    def send(self, state: AppState) -> int:
        """Send what changed; returns the number of messages sent. Network errors are logged."""
        sent = 0
        for name, value in state_values(state).items():
            if self._last.get(name) == value and name not in self._always:
                continue
            try:
                self._client.send_message(f"{PREFIX}/state/{name}", value)
            except OSError as exc:  # a vanished receiver must not stop the show
                log.warning("OSC state output failed: %s", exc)
                return sent
            self._last[name] = value
            sent += 1
        return sent


def address_table() -> str:
    """Every address as a Markdown table, for the README."""
    rows = [("Address", "Arguments", "Effect")]
    for name, info in actions.named(["show"]).items():
        if name in PARAMS:
            p = PARAMS[name]
            if p.kind == "choice":
                arg = f"name or index 0..{int(p.hi)}"
                if name == "activation":
                    arg = "name(s) (several: one per hidden layer) or index"
            else:
                arg = f"{p.kind} {_num(p.lo)}..{_num(p.hi)} (clamped)"
                if name in ("seed", "morph"):
                    arg = f"int seed{' (optional)' if info.optional else ''}"
        elif info.kind == "none":
            arg = "none, or a button's 1 / 0 (fires on 1)"
        else:
            arg = f"{info.hint}{' (optional)' if info.optional else ''}"
        rows.append((f"`{PREFIX}/{name}`", arg, info.description))
    rows.append((f"`{PREFIX}/z/<i>`", f"float {_num(LATENT_RANGE[0])}..{_num(LATENT_RANGE[1])} "
                 f"(clamped), i in 0..{MAX_Z - 1}", "offset latent dimension i"))
    rows.append((f"`{PREFIX}/action`", "string, e.g. `speed=0.5`", "any action as text"))
    out = ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    out.insert(1, "| --- | --- | --- |")
    return "\n".join(out)


def _num(v: float) -> str:
    if v == int(v):
        return str(int(v))
    return f"1/{round(1 / v)}" if 0 < v < 1 and (1 / v) == round(1 / v) else f"{v:g}"
