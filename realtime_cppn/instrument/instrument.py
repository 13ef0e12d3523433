"""The instrument hub: OSC, MIDI (with learn), audio reactivity, tempo and the scene bank, polled
once per frame by the live app. Plain Python + numpy.

``Instrument.from_args(args)`` opens what the command line asked for (``add_arguments`` lists the
options); something asked for that is not there (python-osc missing, a port in use, an unknown
MIDI port or audio device) is a CPPNError at start-up naming what exists. Once the show runs,
a failing piece (an unplugged controller) is logged once and skipped: the show goes on.

Per frame the app calls ``poll(time, state)`` and gets a ``Poll``: the actions to dispatch (from
OSC and MIDI, quantised reseeds released on their beat, bank recalls), the audio's latent offset,
speed and zoom factors. Keys bound to instrument actions go through ``handle_key_action`` first
(it answers whether it took the action). The instrument reduces no show state: it produces
actions (a bank ``recall``, a ``loop`` length, OSC / MIDI ``latent`` offsets) that the app
applies with the one reducer, ``actions.apply``, so they are logged and replayed like any other.

Instrument actions (owner ``instrument`` in ``actions.ACTIONS``; keys in ``KEY_BINDINGS``, OSC
``/cppn/<name>``):

===================  ===================================================================
tap                  tap tempo: the mean interval of the last taps; each tap is a beat
bpm=X                set the tempo
bpm_double/half      x2 and /2, keeping the beat position
resync               this moment is beat one
loop_bars[=N]        the scene loop lasts N bars (no value: 1, 2, 4, 8, 16 in turn)
quantize[=q]         hold reseed / morph / new path / recall until the next beat or bar
reactivity[_up/down] the global audio reactivity amount (0..2, keys step 0.1)
midi_learn[=target]  arm learn; then press a key (or name a parameter) and move a control
bank_store=N         store the current scene in slot N (saved to the --bank file)
bank_recall=N        recall slot N: morphs when only the seed differs, else cuts
===================  ===================================================================
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import CPPNError
from ..core.spec import MAX_Z
from ..show import actions, keys
from ..show.actions import Action, ActionSpec, AppState
from . import audio, bank, midi, osc, tempo

log = logging.getLogger(__name__)

QUANTA = actions.QUANTA
QUANTISED = ("reseed", "morph", "seed", "new_path", "recall")  # changes that land on the beat
LOOP_BARS = (1, 2, 4, 8, 16)
REACTIVITY_STEP = 0.1

# The instrument's part of the one vocabulary (a view of actions.ACTIONS, declared there).
INSTRUMENT_ACTIONS: dict[str, ActionSpec] = actions.named(["instrument"])


# (action, key, description): the instrument's keys, declared with the key table in show.keys.
KEY_BINDINGS = keys.INSTRUMENT_KEYS

def parse(text: str) -> Action:
    """``'bpm=128'``, ``'bank_recall=3'``, ``'tap'`` -> a checked instrument Action."""
    return actions.parse(text, owners=["instrument"])


@dataclass(frozen=True)
class Poll:
    """What the instrument adds to one frame."""

    actions: list[Action]  # to dispatch, in order, to the reducer (actions.apply)
    z_offset: np.ndarray | None  # (MAX_Z,) audio's, added to z (the app slices [:z_dim])
    speed_factor: float = 1.0  # multiplies the rate this frame (audio)
    zoom_factor: float = 1.0  # multiplies the view's zoom this frame (audio)
    features: audio.Features | None = None  # the audio analysis behind it, for the overlay


class _LogOnce:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, key: str, message: str, *args: Any) -> None:
        if key not in self.seen:
            self.seen.add(key)
            log.warning(message, *args)


class Instrument:
    """Every optional input of the live show behind one per-frame ``poll``.

    All parts are optional and injected (tests pass an in-process MIDI port or a file-driven
    Reactor); ``Instrument()`` alone still keeps tempo, quantisation and the bank.
    """

    def __init__(self, osc_server: osc.OscServer | None = None,
                 state_sender: osc.StateSender | None = None,
                 midi_input: midi.MidiInput | None = None,
                 reactor: audio.Reactor | None = None,
                 tempo_: tempo.Tempo | None = None,
                 scene_bank: bank.Bank | None = None, bank_path: Path | None = None,
                 quantum: str = "off", config_path: Path | None = None) -> None:
        self.osc = osc_server
        self.sender = state_sender
        self.midi = midi_input
        self.reactor = reactor
        self.tempo = tempo_ or tempo.Tempo()
        self.quantizer = tempo.Quantizer()
        self.quantum = actions.make("quantize", quantum).value
        self.bank = scene_bank or bank.Bank()
        self.bank_path = bank_path
        self.config_path = config_path  # MIDI learn saves the mapping here
        self.reactivity = reactor.reactivity if reactor is not None else audio.Reactivity()
        self.time = 0.0  # clock time of the latest poll
        self.message = ""  # the latest instrument event, for the overlay
        self._keys: list[Action] = []  # key actions taken, handled at the next poll's time
        self._log = _LogOnce()

    # --- construction from the command line ---------------------------------------------------

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Instrument:
        """Open what ``args`` asks for; anything asked for and missing is a CPPNError."""
        opened: list[Any] = []
        try:
            server = sender = midi_input = reactor = None
            if getattr(args, "osc_port", None):
                server = osc.OscServer(args.osc_port, args.osc_host,
                                       allow_quit=bool(getattr(args, "osc_quit", False)))
                opened.append(server)
                log.info("OSC listening on %s:%s", server.host, server.port)
            if getattr(args, "osc_out", None):
                host, port = _host_port(args.osc_out)
                sender = osc.StateSender(port, host)
            config = getattr(args, "config", None)
            mapping = midi.load_config(config) if config else midi.Mapping()
            if getattr(args, "midi_in", None):
                port_ = midi.open_input(args.midi_in)
                midi_input = midi.MidiInput(port_, mapping)
                opened.append(midi_input)
            reactivity = audio.Reactivity(amount=_amount(getattr(args, "reactivity", None)))
            source = getattr(args, "audio_in", None)
            if source:
                src = open_audio(source)
                opened.append(src)
                reactor = audio.Reactor(src, reactivity)
            bpm = getattr(args, "bpm", None)
            bank_path = getattr(args, "bank", None)
            inst = cls(server, sender, midi_input, reactor,
                       tempo.Tempo(bpm=bpm) if bpm is not None else None,
                       load_bank(bank_path) if bank_path else None, bank_path,
                       getattr(args, "quantize", None) or "off", config)
            inst.reactivity = reactivity
            if midi_input is None and mapping.bindings:
                log.info("the config maps MIDI controls, but no --midi-in port is open")
            return inst
        except BaseException:
            for thing in opened:
                thing.close()
            raise

    # --- per frame ------------------------------------------------------------------------------

    def poll(self, time: float, state: AppState) -> Poll:
        """Everything the instrument has for the frame at clock ``time`` (seconds)."""
        self.time = time
        out: list[Action] = []
        keys, self._keys = self._keys, []
        for action in keys:
            out += self._instrument(action, time, state)
        incoming: list[Action] = []
        if self.osc is not None:
            incoming += self._safely("osc", self.osc.poll, [])
        if self.midi is not None:
            incoming += self._midi_poll()
        for action in incoming:
            if action.name in INSTRUMENT_ACTIONS:
                out += self._instrument(action, time, state)
            elif self.quantum != "off" and action.name in QUANTISED:
                self.quantizer.submit(action, time, self.tempo, self.quantum)
            else:
                out.append(action)
        out += self.quantizer.poll(time)
        z = None
        speed = zoom = 1.0
        features = None
        if self.reactor is not None:
            self.reactor.reactivity = self.reactivity
            m = self._safely("audio", lambda: self.reactor.poll(time, MAX_Z), None)
            if m is not None:
                features = m.features
                speed, zoom = m.speed_scale, m.zoom_scale
                if m.z_offset.any():
                    z = m.z_offset
        if self.sender is not None:
            self._safely("osc-out", lambda: self.sender.send(state), 0)
        return Poll(out, z, speed, zoom, features)

    def handle_key_action(self, action: Action) -> bool:
        """Offer a key's action first to the instrument; True when it took it.

        It takes its own actions (handled at the next poll, at that frame's time), quantised
        changes while quantisation is on (released on the beat), and, while MIDI learn waits for
        a target, the next key's action (bound, not done).
        """
        if self.learning and action.name == "escape":
            self.midi.cancel()
            self.message = "MIDI learn cancelled"
            return False  # Esc also does its usual job
        if self.learning and self.learn_target is None and action.name not in INSTRUMENT_ACTIONS:
            self._arm(str(action))
            return True
        if action.name in INSTRUMENT_ACTIONS:
            self._keys.append(action)
            return True
        if self.quantum != "off" and action.name in QUANTISED:
            self.quantizer.submit(action, self.time, self.tempo, self.quantum)
            return True
        return False

    @property
    def learning(self) -> bool:
        """MIDI learn is armed (waiting for a key, a parameter or a control)."""
        return self.midi is not None and self.midi.learn.armed

    @property
    def learn_target(self) -> str | None:
        target = None if self.midi is None else self.midi.learn.target
        return None if target is None else str(target)

    @property
    def learn_source(self) -> midi.Source | None:
        return None if self.midi is None else self.midi.learn.source

    def close(self) -> None:
        for name, thing in (("osc", self.osc), ("midi", self.midi),
                            ("audio", None if self.reactor is None else self.reactor.source)):
            if thing is not None:
                try:
                    thing.close()
                except Exception as exc:  # closing an unplugged device may fail; nothing to lose
                    log.warning("closing %s: %s", name, exc)
        self.osc = self.midi = self.reactor = None

    def __enter__(self) -> Instrument:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info_rows(self) -> list[tuple[str, str]]:
        """Rows for the info overlay."""
        t = self.tempo
        rows = [("tempo", f"{t.bpm:.1f} BPM   beat {t.beat_in_bar(self.time) + 1}/"
                          f"{t.beats_per_bar}   quantise {self.quantum}"
                          + (f"   {len(self.quantizer.pending)} waiting"
                             if self.quantizer.pending else ""))]
        if self.reactor is not None:
            f = self.reactor.features
            levels = "" if f is None else "   " + "  ".join(
                f"{k} {v:.2f}" for k, v in f.levels.items())
            rows.append(("audio", f"reactivity {self.reactivity.amount:g}{levels}"))
        if self.osc is not None:
            rows.append(("osc", f"{self.osc.host}:{self.osc.port}   {self.osc.received} messages"))
        if self.midi is not None or self.learning:
            learn = ""
            if self.learning:
                learn = f"   LEARN -> {self.learn_target or 'press a key'}" + (
                    f" from {self.learn_source}" if self.learn_source else "")
            rows.append(("midi", f"{len(self.midi.mapping.bindings) if self.midi else 0} "
                                 f"mappings{learn}"))
        if self.bank.slots:
            rows.append(("bank", " ".join(str(k) for k in sorted(self.bank.slots))))
        if self.message:
            rows.append(("instrument", self.message[:120]))
        return rows

    # --- internals ------------------------------------------------------------------------------

    def _safely(self, what: str, fn: Any, default: Any) -> Any:
        try:
            return fn()
        except Exception as exc:  # a runtime fault of one input must not stop the show
            self._log(what, "%s input failed (keeps going without it): %s", what, exc)
            return default

    def _midi_poll(self) -> list[Action]:
        """The MIDI port's actions this frame (``MidiInput.poll``: learn first, then the
        mapping), saying in the overlay what learning did meanwhile."""
        before = (self.midi.learn, self.midi.mapping)
        out = self._safely("midi", self.midi.poll, [])
        self._learned(*before)
        return out

    def _arm(self, target: str) -> None:
        before = (self.midi.learn, self.midi.mapping)
        try:
            self.midi.arm(target)
        except CPPNError as exc:
            self.message = f"MIDI learn: cannot bind {target}: {exc}"
            self.midi.cancel()
            return
        self._learned(*before)

    def _learned(self, before: midi.Learn, mapping: midi.Mapping) -> None:
        """The overlay's message (and the config file) after learning moved on."""
        learn = self.midi.learn
        if learn.error and learn.error != before.error:
            self.message = f"MIDI learn: {learn.error}"
        elif self.midi.mapping is not mapping and learn.last is not None:
            kind, channel, number = learn.last
            self.message = f"MIDI {kind} {channel + 1}:{number} -> {before.target}"
            if self.config_path is not None:
                try:
                    midi.save_config(self.config_path, self.midi.mapping)
                except CPPNError as exc:
                    log.warning("MIDI learn: %s", exc)
        elif learn.source is not None and learn.source != before.source:
            self.message = f"MIDI learn: {learn.source[0]} {learn.source[2]}: now press a key"
        elif learn.target is not None and learn.target != before.target:
            self.message = f"MIDI learn: move a control for {learn.target}"

    def _instrument(self, action: Action, time: float, state: AppState) -> list[Action]:
        """Carry out one instrument action; returns the actions it makes for the app."""
        try:
            action = actions.make(action.name, action.value)
        except CPPNError as exc:
            self.message = str(exc)
            return []
        return _HANDLERS[action.name](self, action.value, time, state) or []

    # One handler per instrument action: (value, clock time, show state) -> actions it makes.

    def _tempo(self, v: Any, time: float, state: AppState, step: str) -> None:
        t = self.tempo
        self.tempo = {"tap": t.tap, "double": t.double, "half": t.half,
                      "resync": t.resync}[step](time)

    def _bpm(self, v: float, time: float, state: AppState) -> None:
        self.tempo = self.tempo.set_bpm(v, time)

    def _loop_bars(self, v: float | None, time: float, state: AppState) -> list[Action]:
        t = self.tempo
        if v is None:
            bars = state.scene.loop / t.loop_seconds(1)
            v = next((b for b in LOOP_BARS if b > bars + 1e-6), LOOP_BARS[0])
        if not 0 < v <= 1024:
            self.message = f"loop_bars must be in (0, 1024], got {v:g}"
            return []
        self.message = f"loop {v:g} bars"
        return [Action("loop", t.loop_seconds(v))]

    def _quantize(self, v: str | None, time: float, state: AppState) -> list[Action]:
        self.quantum = v or QUANTA[(QUANTA.index(self.quantum) + 1) % len(QUANTA)]
        if self.quantum != "off":
            return []
        released = [p.action for p in self.quantizer.pending]
        self.quantizer.clear()
        return released  # nothing waits for a beat that no longer matters

    def _reactivity(self, v: float | None, time: float, state: AppState,
                    step: float = 0.0) -> None:
        r = self.reactivity
        self.reactivity = r.step(v - r.amount if v is not None else step)
        self.message = f"reactivity {self.reactivity.amount:g}"

    def _midi_learn(self, v: str | None, time: float, state: AppState) -> None:
        if self.midi is None:  # nothing could ever bind: arming would swallow a key
            self.message = "MIDI learn needs a MIDI input (--midi-in); nothing armed"
        elif v is not None:
            self._arm(v)
        elif self.learning:
            self.midi.cancel()
            self.message = "MIDI learn cancelled"
        else:
            self.midi.listen()
            self.message = "MIDI learn: press a key, then move a control (or the reverse)"

    def _bank_store(self, v: int, time: float, state: AppState) -> None:
        try:
            self.bank = self.bank.store(v, state.scene)
        except CPPNError as exc:
            self.message = str(exc)
            return
        self.message = f"stored slot {v}"
        if self.bank_path is not None:
            try:
                bank.save(self.bank, self.bank_path)
            except CPPNError as exc:
                self._log("bank-save", "%s", exc)

    def _bank_recall(self, v: int, time: float, state: AppState) -> list[Action]:
        scene = self.bank.recall(v)
        if scene is None:
            self.message = f"bank slot {v} is empty"
            return []
        recall_ = Action("recall", {"slot": v, "scene": scene.to_dict(),
                                    "morph": bank.can_morph(state.scene, scene)})
        if self.quantum != "off":
            self.quantizer.submit(recall_, time, self.tempo, self.quantum)
            return []
        return [recall_]


_HANDLERS: dict[str, Callable[..., list[Action] | None]] = {
    "tap": partial(Instrument._tempo, step="tap"),
    "bpm": Instrument._bpm,
    "bpm_double": partial(Instrument._tempo, step="double"),
    "bpm_half": partial(Instrument._tempo, step="half"),
    "resync": partial(Instrument._tempo, step="resync"),
    "loop_bars": Instrument._loop_bars,
    "quantize": Instrument._quantize,
    "reactivity_up": partial(Instrument._reactivity, step=REACTIVITY_STEP),
    "reactivity_down": partial(Instrument._reactivity, step=-REACTIVITY_STEP),
    "reactivity": Instrument._reactivity,
    "midi_learn": Instrument._midi_learn,
    "bank_store": Instrument._bank_store,
    "bank_recall": Instrument._bank_recall,
}


def osc_actions(name: str, args: Any) -> None:
    """No extra OSC addresses: the instrument's are the vocabulary's, which ``osc`` answers
    itself. Kept for callers that still pass it as ``OscServer(extra=...)``."""
    return None


# --- opening the pieces ---------------------------------------------------------------------------


def open_audio(source: str) -> audio.AudioSource:
    """An existing file plays as the input (on the show's clock); anything else names a device
    (an index, a unique part of its name, or ``default``)."""
    path = Path(source)
    if path.is_file():
        return audio.FileSource(path)
    if any(sep in source for sep in ("/", "\\")) or path.suffix.lower() in (
            ".wav", ".mp3", ".flac", ".ogg", ".aiff", ".m4a", ".aac", ".opus"):
        raise CPPNError(f"no such audio file: {source}")
    return audio.LiveSource(None if source == "default" else source)


def load_bank(path: Path) -> bank.Bank:
    """The bank at ``path``; a missing file is a new bank, a corrupt one an empty bank (logged):
    the show goes on and the next store writes a good file."""
    path = Path(path)
    if not path.exists():
        log.info("bank %s does not exist yet: starting empty", path)
        return bank.Bank()
    try:
        return bank.load(path)
    except CPPNError as exc:
        log.warning("%s; starting with an empty bank", exc)
        return bank.Bank()


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise CPPNError(f"--osc-out takes HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


def _amount(v: float | None) -> float:
    default = audio.Reactivity().amount
    if v is None:
        return default
    if not (math.isfinite(v) and 0 <= v <= 2):
        raise CPPNError(f"--reactivity must be 0..2, got {v}")
    return float(v)


def listing(args: argparse.Namespace) -> str | None:
    """The text ``--list-midi`` / ``--list-audio`` print (then the app exits), or None."""
    parts = []
    if getattr(args, "list_midi", False):
        names = midi.input_names()
        parts.append("MIDI inputs:\n" + ("\n".join(f"  {n}" for n in names) or "  (none)"))
    if getattr(args, "list_audio", False):
        devices = audio.input_devices()
        parts.append("audio inputs (use the index or a unique part of the name):\n" + (
            "\n".join(f"  {i}: {n}" for i, n in devices) or "  (none)"))
    return "\n".join(parts) if parts else None


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..core.argtypes import integer as _int
    from ..core.argtypes import number as _float

    g = p.add_argument_group("instrument (OSC, MIDI, audio, tempo, bank)")
    g.add_argument("--osc-port", type=_int, help="listen for OSC on this UDP port (default off)")
    g.add_argument("--osc-host", default="127.0.0.1",
                   help="OSC address to bind (default 127.0.0.1; 0.0.0.0 opens it to the network)")
    g.add_argument("--osc-quit", action="store_true",
                   help="let OSC /cppn/quit (and /cppn/escape twice) end the show (default: "
                        "ignored, as any local process can send OSC)")
    g.add_argument("--osc-out", metavar="HOST:PORT", help="send the state as OSC to HOST:PORT")
    g.add_argument("--midi-in", metavar="NAME", help="MIDI input port (a unique part of its name)")
    g.add_argument("--list-midi", action="store_true", help="list MIDI input ports and exit")
    g.add_argument("--audio-in", metavar="DEVICE|FILE",
                   help="audio to react to: an input device (index, name or 'default') or a file")
    g.add_argument("--list-audio", action="store_true", help="list audio input devices and exit")
    g.add_argument("--reactivity", type=_float,
                   help=f"audio reactivity 0..2 (default {audio.Reactivity().amount})")
    g.add_argument("--bank", type=Path, help="scene bank file (JSON; created on the first store)")
    g.add_argument("--bpm", type=_float, help="tempo in BPM (default 120; tap to set)")
    g.add_argument("--quantize", choices=QUANTA, default="off",
                   help="hold reseed / morph / recall until the next beat or bar (default off)")
