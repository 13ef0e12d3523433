"""The performance log: what a live show did and when, as JSON lines, for replay.

Line 1 is the header, every other line one event::

    {"format": "realtime-cppn/perflog", "version": 1, "scene": {...Scene.to_dict()...},
     "state": {"speed": 1.0, "paused": false}, "video": "show.mp4", "fps": 60}
    {"t": 0.0, "action": "reseed", "args": {"value": 1234}}
    {"t": 2.5167, "action": "speed", "args": {"value": 0.5}}

``t`` is seconds on the show's clock (the injected clock the window advances, not the wall),
non-decreasing; ``action`` names an action the reducer applies (``actions.APPLIED``);
``args`` holds its arguments as plain JSON (``{}`` for none; an ``Action`` with a value becomes
``{"value": ...}``). ``state`` and any other header keys are free-form plain values the window
and ``replay`` agree on. The writer flushes every line, so a crash or Ctrl-C leaves a valid log
of everything up to it; the reader accepts such a log (a cut-off last line is dropped and
reported as ``truncated``) and refuses anything else malformed with one CPPNError line.
Plain Python: no torch, GL or window.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..core.errors import CPPNError
from ..core.safeio import read_limited
from ..core.scene import Scene

FORMAT = "realtime-cppn/perflog"
VERSION = 1
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Event:
    t: float  # seconds on the show clock
    action: str
    args: dict = field(default_factory=dict)

    @property
    def value(self) -> Any:
        """The single argument of a live action (``args["value"]``), or None."""
        return self.args.get("value")

    def to_json(self) -> str:
        return json.dumps({"t": self.t, "action": self.action, "args": self.args},
                          sort_keys=True, allow_nan=False)


@dataclass(frozen=True)
class PerfLog:
    scene: Scene
    events: tuple[Event, ...]
    header: dict  # the whole header line (scene included), for keys such as "state" or "fps"
    truncated: bool = False  # the last line was cut off (a crash mid-write) and dropped

    @property
    def duration(self) -> float:
        return self.events[-1].t if self.events else 0.0

    def until(self, t: float) -> tuple[Event, ...]:
        """The events at or before show time ``t``."""
        return tuple(e for e in self.events if e.t <= t)


def event(t: float, action: Any, args: dict | None = None) -> Event:
    """An Event from a name or an ``actions.Action`` (its ``value`` becomes ``args['value']``)."""
    if not isinstance(action, str):
        name, value = action.name, getattr(action, "value", None)
        args = dict(args or {})
        if value is not None:
            args["value"] = list(value) if isinstance(value, tuple) else value
        action = name
    return _checked_event(t, action, args or {}, "event")


def _checked_event(t: Any, action: Any, args: Any, where: str) -> Event:
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
        raise CPPNError(f"{where}: time must be a finite number of seconds >= 0, got {t!r}")
    if not isinstance(action, str) or not _NAME.match(action):
        raise CPPNError(f"{where}: action must be a lower-case name, got {action!r}")
    if not isinstance(args, dict):
        raise CPPNError(f"{where}: args must be an object, got {type(args).__name__}")
    try:
        json.dumps(args, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CPPNError(f"{where}: args are not plain JSON values ({exc})") from None
    return Event(float(t), action, args)


class Writer:
    """Appends events to a log file, one flushed line each. Times must not go backwards."""

    def __init__(self, path: str | Path, scene: Scene, **header: Any) -> None:
        self.path = Path(path)
        doc = {"format": FORMAT, "version": VERSION, "scene": scene.to_dict(), **header}
        try:
            line = json.dumps(doc, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise CPPNError(f"performance log header is not plain JSON ({exc})") from None
        try:
            # w+: if the folder is deleted mid-show, close() reads the log back to rewrite it
            self._file: IO[str] | None = open(self.path, "w+", encoding="utf-8")
        except OSError as exc:
            raise CPPNError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._last = 0.0
        self.events = 0
        self._line(line)

    def _line(self, text: str) -> None:
        if self._file is None:
            raise CPPNError("the performance log is closed")
        try:
            self._file.write(text + "\n")
            self._file.flush()  # a crash loses at most the line being written
        except OSError as exc:
            raise CPPNError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def write(self, t: float, action: Any, args: dict | None = None) -> Event:
        ev = event(t, action, args)
        if ev.t < self._last:
            raise CPPNError(f"performance log time went backwards: {ev.t} after {self._last}")
        self._last = ev.t
        self._line(ev.to_json())
        self.events += 1
        return ev

    def close(self) -> None:
        """Close the log; if its file was deleted meanwhile (its folder removed mid-take), write
        it again at its path, making the folder."""
        f, self._file = self._file, None
        if f is None:
            return
        try:
            if os.fstat(f.fileno()).st_nlink == 0:
                f.seek(0)
                text = f.read()
                self.path.absolute().parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CPPNError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        finally:
            f.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


MAX_LOG_BYTES = 64 << 20


def read(path: str | Path, known: Iterable[str] | Callable[[str], bool] | None = None) -> PerfLog:
    """A performance log, checked line by line. ``known`` (names, or a predicate) refuses
    actions outside the vocabulary, naming the line."""
    path = Path(path)
    # A FIFO, a device or a link to /dev/zero is refused unread; an hour's show is a few MB.
    data = read_limited(path, MAX_LOG_BYTES, "performance log")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CPPNError(f"cannot read performance log {path}: {exc}") from None
    return parse(text, str(path), known)


def parse(text: str, name: str = "performance log",
          known: Iterable[str] | Callable[[str], bool] | None = None) -> PerfLog:
    if known is not None and not callable(known):
        names = frozenset(known)
        known = names.__contains__
    lines = text.split("\n")
    truncated = False
    if lines and lines[-1] == "":
        lines.pop()
    elif lines and not _parses(lines[-1]):
        lines.pop()  # written without its newline when the show stopped: drop it, say so
        truncated = True
    if not lines:
        raise CPPNError(f"{name} is empty")
    header = _json(lines[0], name, 1)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CPPNError(f"{name} is not a realtime-cppn performance log")
    if header.get("version") != VERSION:
        raise CPPNError(f"{name}: unsupported performance log version {header.get('version')!r}")
    try:
        scene = Scene.from_dict(header.get("scene"))
    except CPPNError as exc:
        raise CPPNError(f"{name}: starting scene: {exc}") from None
    events = []
    last = 0.0
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        doc = _json(line, name, i)
        where = f"{name} line {i}"
        if not isinstance(doc, dict) or set(doc) - {"t", "action", "args"} or "t" not in doc \
                or "action" not in doc:
            raise CPPNError(f"{where}: an event is {{\"t\", \"action\", \"args\"}}")
        ev = _checked_event(doc["t"], doc["action"], doc.get("args", {}), where)
        if ev.t < last:
            raise CPPNError(f"{where}: time {ev.t} goes back before {last}")
        if known is not None and not known(ev.action):
            raise CPPNError(f"{where}: unknown action {ev.action!r}")
        last = ev.t
        events.append(ev)
    return PerfLog(scene, tuple(events), header, truncated)


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def _json(line: str, name: str, number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise CPPNError(f"{name} line {number} is not valid JSON: {exc.msg}") from None
