"""MIDI control: a mapping from notes and CCs to Actions, MIDI learn, and input ports (mido).

A ``Mapping`` binds a source (``("note" | "cc", channel, number)``, channel 0-15 as mido counts)
to a ``Binding``: either an action (``"reseed"``, ``"speed=0.5"``: a note-on or a CC at 64 and up
fires it) or a continuous parameter of ``osc.PARAMS`` (``"zoom"``, ``"z/3"``) whose CC value
0..127 (a note's velocity) is mapped onto ``[lo, hi]`` through a curve:

    lin  t                        even steps
    exp  (16**t - 1) / 15         fine control at the low end (zoom, speed, width)
    log  log(1 + 15 t) / log 16   fine control at the high end

so 0 gives ``lo`` and 127 gives ``hi`` exactly, whatever the curve. ``handle(mapping, msg)`` is a
pure function from a mido Message to Actions. A mapping lives in the TOML config file::

    [midi.notes]
    "1:36" = "reseed"                 # channel 1 (as devices show it), note 36
    [midi.cc]
    "1:74" = { param = "zoom", min = 0.25, max = 4.0, curve = "exp" }
    "1:20" = "pause"                  # a button sending CC 20: fires at values >= 64

``Learn`` is MIDI learn: arm a target, and the next note or CC binds to it (or the reverse: a
control moves, then the target is named). ``MidiInput`` polls a mido input port once per frame on
the render thread (mido queues what the backend's thread receives), feeding learn or the
mapping; past ``MAX_PER_POLL`` messages a frame, the rest wait in mido's queue for the next.
mido is imported only to list and open ports.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
from collections.abc import Iterable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..core.errors import CPPNError
from ..core.safeio import read_limited
from ..show import actions
from ..show.actions import Action
from . import osc

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

log = logging.getLogger(__name__)

CURVES = ("lin", "exp", "log")
_K = 16.0  # curvature of exp / log: 16x finer steps at the fine end than linear
MAX_PER_POLL = 1024  # messages handled per frame; a flood waits for the next frame

# A learned CC gets its parameter's default range: the useful part, not the full legal range.
DEFAULT_RANGES: dict[str, tuple[float, float, str]] = {
    "seed": (0, 127, "lin"),
    "morph": (0, 127, "lin"),
    "activation": (0, osc.PARAMS["activation"].hi, "lin"),
    "width": (2, 256, "exp"),
    "depth": (1, 16, "lin"),
    "zoom": (0.25, 4.0, "exp"),
    "speed": (0.125, 8.0, "exp"),
    "symmetry": (0, osc.PARAMS["symmetry"].hi, "lin"),
    "render_scale": (0.25, 1.0, "lin"),
    "record": (0, 1, "lin"),
    "z": (-3.0, 3.0, "lin"),
}

Source = tuple[str, int, int]  # ("note" | "cc", channel 0-15, number 0-127)


def curve(kind: str, t: float) -> float:
    """t in [0, 1] -> [0, 1], monotonic, 0 -> 0 and 1 -> 1 exactly."""
    t = min(max(t, 0.0), 1.0)
    if kind == "lin":
        return t
    if kind == "exp":
        return (_K**t - 1.0) / (_K - 1.0)
    if kind == "log":
        return math.log1p((_K - 1.0) * t) / math.log(_K)
    raise CPPNError(f"unknown curve {kind!r}; valid: {', '.join(CURVES)}")


@dataclass(frozen=True)
class Binding:
    """What a MIDI source drives: an action, or a parameter over [lo, hi] along a curve."""

    action: Action | None = None
    param: str | None = None
    lo: float = 0.0
    hi: float = 1.0
    curve: str = "lin"

    def __post_init__(self) -> None:
        if (self.action is None) == (self.param is None):
            raise CPPNError("a MIDI binding drives either an action or a parameter")
        if self.param is not None:
            osc.param_name(self.param)
            if not (math.isfinite(self.lo) and math.isfinite(self.hi)):
                raise CPPNError(f"MIDI range for {self.param} must be finite numbers")
            curve(self.curve, 0.0)

    @classmethod
    def for_param(cls, name: str, lo: float | None = None, hi: float | None = None,
                  curve: str | None = None) -> Binding:
        osc.param_name(name)
        dlo, dhi, dcurve = DEFAULT_RANGES[name.partition("/")[0]]
        return cls(param=name, lo=float(dlo if lo is None else lo), hi=float(dhi if hi is None else hi),
                   curve=dcurve if curve is None else curve)

    @classmethod
    def for_target(cls, target: str, kind: str = "cc") -> Binding:
        """A binding for ``target`` from a ``kind`` ("note" or "cc") source.

        A name that is both a parameter and an action without a value (``symmetry``,
        ``render_scale``, ``morph``, ``record``) is the parameter on a CC and the action (cycle,
        toggle, trigger) on a note; ``"name=value"`` is always an action.
        """
        target = str(target).strip()
        name = target.partition("=")[0]
        is_param = target.partition("/")[0] in osc.PARAMS and "=" not in target
        spec = actions.ACTIONS.get(name)
        is_action = spec is not None and spec.owner != "instrument" and (
            spec.optional or "=" in target)
        if is_param and (kind == "cc" or not is_action):
            return cls.for_param(target)
        if target == "record":
            return cls(action=Action("record"))
        return cls(action=actions.parse(target))

    def value(self, raw: int) -> float:
        """A 7-bit value (0..127) mapped through the curve onto [lo, hi]."""
        return self.lo + (self.hi - self.lo) * curve(self.curve, raw / 127.0)

    def to_toml(self) -> str | dict[str, Any]:
        if self.action is not None:
            return str(self.action)
        return {"param": self.param, "min": self.lo, "max": self.hi, "curve": self.curve}


@dataclass(frozen=True)
class Mapping:
    """Source -> Binding. Immutable: learning returns a new mapping."""

    bindings: MappingABC[Source, Binding] = field(default_factory=dict)

    def bind(self, source: Source, binding: Binding) -> Mapping:
        return Mapping({**self.bindings, source: binding})

    def unbind(self, source: Source) -> Mapping:
        return Mapping({k: v for k, v in self.bindings.items() if k != source})

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The ``[midi]`` table: ``{"notes": {...}, "cc": {...}}`` with keys ``"channel:number"``
        (channel 1-16, as devices show it)."""
        out: dict[str, dict[str, Any]] = {"notes": {}, "cc": {}}
        for (kind, ch, num), b in sorted(self.bindings.items()):
            out["notes" if kind == "note" else "cc"][f"{ch + 1}:{num}"] = b.to_toml()
        return out

    @classmethod
    def from_dict(cls, table: Any, where: str = "[midi]") -> Mapping:
        if not isinstance(table, dict):
            raise CPPNError(f"{where} must be a table")
        unknown = set(table) - {"notes", "cc"}
        if unknown:
            raise CPPNError(f"{where}: unknown entries {sorted(unknown)}; valid: notes, cc")
        bindings: dict[Source, Binding] = {}
        for section, kind in (("notes", "note"), ("cc", "cc")):
            entries = table.get(section, {})
            if not isinstance(entries, dict):
                raise CPPNError(f"{where}.{section} must be a table")
            for key, value in entries.items():
                here = f"{where}.{section} {key!r}"
                source = (kind, *_parse_key(key, here))
                try:
                    bindings[source] = _parse_binding(value, kind)
                except CPPNError as exc:
                    raise CPPNError(f"{here}: {exc}") from None
        return cls(bindings)

    def to_toml(self) -> str:
        """The mapping as TOML text (``[midi.notes]`` and ``[midi.cc]``) for the config file."""
        lines = []
        for section, entries in self.to_dict().items():
            lines.append(f"[midi.{section}]")
            for key, value in entries.items():
                if isinstance(value, str):
                    lines.append(f'"{key}" = {_toml_str(value)}')
                else:
                    lines.append(f'"{key}" = {{ param = {_toml_str(value["param"])}, '
                                 f'min = {value["min"]!r}, max = {value["max"]!r}, '
                                 f'curve = {_toml_str(value["curve"])} }}')
            lines.append("")
        return "\n".join(lines)



actions.TEXT_CHECKS["midi_learn"] = lambda target: Binding.for_target(target, "cc")

def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_key(key: str, where: str) -> tuple[int, int]:
    ch, sep, num = str(key).partition(":")
    try:
        channel, number = int(ch), int(num)
    except ValueError:
        channel = number = -1
    if not sep or not 1 <= channel <= 16 or not 0 <= number <= 127:
        raise CPPNError(f"{where}: keys are \"channel:number\" with channel 1-16 and number 0-127")
    return channel - 1, number


def _parse_binding(value: Any, kind: str) -> Binding:
    if isinstance(value, str):
        return Binding.for_target(value, kind)
    if not isinstance(value, dict) or "param" not in value:
        raise CPPNError("expected an action string or { param = ..., min, max, curve }")
    extra = set(value) - {"param", "min", "max", "curve"}
    if extra:
        raise CPPNError(f"unknown keys {sorted(extra)}")
    nums = {}
    for k in ("min", "max"):
        if k in value:
            v = value[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise CPPNError(f"{k} must be a number, got {v!r}")
            nums[k] = float(v)
    return Binding.for_param(str(value["param"]), nums.get("min"), nums.get("max"),
                             None if "curve" not in value else str(value["curve"]))


def source_of(msg: Any) -> Source | None:
    """The mapping key of a message, or None for messages that bind to nothing (clock, sysex,
    note-off, ...)."""
    kind = getattr(msg, "type", None)
    if kind == "note_on" and msg.velocity > 0:
        return ("note", msg.channel, msg.note)
    if kind == "control_change":
        return ("cc", msg.channel, msg.control)
    return None


def handle(mapping: Mapping, msg: Any) -> list[Action]:
    """The Actions one mido Message asks for under ``mapping``. Pure; never raises."""
    source = source_of(msg)
    binding = None if source is None else mapping.bindings.get(source)
    if binding is None:
        return []
    raw = msg.velocity if source[0] == "note" else msg.value
    if binding.action is not None:
        return [binding.action] if raw >= 64 or source[0] == "note" else []
    try:
        action, _ = osc.param_action(binding.param, binding.value(raw))
    except CPPNError as exc:  # a range outside what the parameter takes (e.g. a bad choice)
        log.warning("MIDI %s: %s", source, exc)
        return []
    return [action]


@dataclass(frozen=True)
class Learn:
    """MIDI learn: ``idle`` -> ``arm(target)`` -> the next note / CC binds -> ``idle``; or the
    reverse order, ``listen()`` -> a control moves (kept as ``source``) -> ``arm(target)`` binds.

    The target is a parameter (``"zoom"``, ``"z/3"``) or an action (``"reseed"``) as written in
    the config file, or a ready ``Binding`` (a custom range). Pure data: ``feed`` and ``bind``
    return the next Learn and the mapping.
    """

    target: str | Binding | None = None
    last: Source | None = None  # what the latest learn bound, for the overlay
    listening: bool = False  # armed before a target is named: the next control waits for one
    source: Source | None = None  # a control that moved while listening
    error: str = ""  # why the latest learn bound nothing

    @property
    def armed(self) -> bool:
        return self.target is not None or self.listening

    def listen(self) -> Learn:
        return Learn(last=self.last, listening=True)

    def arm(self, target: str | Binding) -> Learn:
        if isinstance(target, str):  # check now, so a typo fails at the key, not at the knob
            Binding.for_target(target, "cc")
        return replace(self, target=target, listening=False, error="")

    def cancel(self) -> Learn:
        return Learn(last=self.last)

    def bind(self, mapping: Mapping, source: Source) -> tuple[Learn, Mapping]:
        """Bind ``source`` to the target: (idle learn, the mapping with it)."""
        target = self.target
        try:
            binding = target if isinstance(target, Binding) else Binding.for_target(target,
                                                                                   source[0])
        except CPPNError as exc:  # e.g. an action that needs a value, learned onto a note
            log.warning("MIDI learn: cannot bind %s to %s: %s", target, source, exc)
            return Learn(last=self.last, error=f"cannot bind {target}: {exc}"), mapping
        # A control moves once: any earlier binding of this source is replaced.
        return Learn(None, source), mapping.bind(source, binding)

    def feed(self, mapping: Mapping, msg: Any) -> tuple[Learn, Mapping, bool]:
        """(next learn state, mapping, whether ``msg`` was consumed by learning)."""
        if not self.armed:
            return self, mapping, False
        source = source_of(msg)
        if source is None:
            return self, mapping, False  # clock ticks and note-offs do not end learning
        if self.target is None:
            return replace(self, source=source), mapping, True  # bound when the target comes
        learn, mapping = self.bind(mapping, source)
        return learn, mapping, True


def load_config(path: str | Path) -> Mapping:
    """The ``[midi]`` table of a TOML config file (the one ``keys.load_config`` reads); a file
    without one gives an empty mapping."""
    from ..show.keys import read_config

    path = Path(path)
    data = read_config(path)
    return Mapping.from_dict(data.get("midi", {}), where=f"config {path} [midi]")


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def save_config(path: str | Path, mapping: Mapping) -> Path:
    """Write ``mapping`` as the ``[midi.*]`` tables of the config file, keeping everything else
    (other tables, comments) as it was. A file whose MIDI part cannot be replaced safely (say,
    written as dotted keys elsewhere) is left untouched and reported."""
    path = Path(path)
    try:
        # The same bound and file checks as reading the config (keys.load_config).
        text = (read_limited(path, 1 << 20, "config file").decode("utf-8")
                if os.path.lexists(path) else "")
        before = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise CPPNError(f"cannot read config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CPPNError(f"config {path} is not valid TOML, not rewriting it: {exc}") from None
    kept, in_midi = [], False
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            name = header.group(1).strip().strip('"')
            in_midi = name == "midi" or name.startswith("midi.")
        if not in_midi:
            kept.append(line)
    body = "\n".join(kept).rstrip()
    new = (body + "\n\n" if body else "") + mapping.to_toml()
    try:
        after = tomllib.loads(new)
    except tomllib.TOMLDecodeError:
        after = None
    rest = {k: v for k, v in before.items() if k != "midi"}
    if after is None or {k: v for k, v in after.items() if k != "midi"} != rest or \
            Mapping.from_dict(after.get("midi", {})) != mapping:
        raise CPPNError(f"config {path}: its [midi] part is written in a way this cannot "
                        "rewrite; move it into [midi.notes] / [midi.cc] tables")
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_text(new, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CPPNError(f"cannot write config {path}: {exc.strerror or exc}") from None
    return path


def input_names() -> list[str]:
    """Names of the MIDI input ports; CPPNError if MIDI is unavailable here."""
    try:
        import mido
    except ImportError:
        raise CPPNError("MIDI needs mido and python-rtmidi: pip install 'realtime-cppn[vj]'") from None
    try:
        return list(mido.get_input_names())
    except Exception as exc:  # rtmidi raises its own SystemError without an ALSA sequencer
        raise CPPNError(f"MIDI is unavailable: {str(exc).strip() or type(exc).__name__}") from None


def open_input(name: str) -> Any:
    """Open the input port named ``name`` (a unique part of the name is enough)."""
    names = input_names()
    matches = [n for n in names if n == name] or [n for n in names if name.lower() in n.lower()]
    if len(matches) != 1:
        listing = ", ".join(repr(n) for n in names) or "none"
        what = "no MIDI input port" if not matches else "several MIDI input ports match"
        raise CPPNError(f"{what} {name!r}; ports: {listing}")
    import mido

    try:
        return mido.open_input(matches[0])
    except Exception as exc:
        raise CPPNError(f"cannot open MIDI input {matches[0]!r}: {exc}") from None


class MidiInput:
    """A mido input port polled once per frame: learning first, then the mapping.

    ``port`` is any mido input port (``open_input(name)``, a virtual or socket port); its backend
    receives on its own thread and mido queues messages, so ``poll`` is safe on the render thread.
    At most ``MAX_PER_POLL`` messages are taken per poll; the rest stay queued for the next.
    """

    def __init__(self, port: Any, mapping: Mapping | None = None) -> None:
        self.port = port
        self.mapping = mapping or Mapping()
        self.learn = Learn()
        self._failed = False  # the port failed once (logged); later failures are quiet

    def arm(self, target: str | Binding) -> None:
        """Learn ``target``; a control that moved while listening binds to it now."""
        self.learn = self.learn.arm(target)
        if self.learn.source is not None:
            self.learn, self.mapping = self.learn.bind(self.mapping, self.learn.source)

    def listen(self) -> None:
        """Learn with the target to come: the next control waits for ``arm``."""
        self.learn = self.learn.listen()

    def cancel(self) -> None:
        self.learn = self.learn.cancel()

    def poll(self) -> list[Action]:
        out: list[Action] = []
        for msg in self._pending():
            self.learn, self.mapping, used = self.learn.feed(self.mapping, msg)
            if not used:
                out += handle(self.mapping, msg)
        return out

    def _pending(self) -> Iterable[Any]:
        n = 0
        try:
            for msg in self.port.iter_pending():
                yield msg
                n += 1
                if n >= MAX_PER_POLL:
                    return  # mido polls one message at a time: the rest wait in its queue
        except Exception as exc:  # an unplugged device: log once, keep the show running
            if not self._failed:
                log.warning("MIDI input %s failed (keeps going without it): %s",
                            getattr(self.port, "name", "?"), exc)
            self._failed = True

    def close(self) -> None:
        self.port.close()
