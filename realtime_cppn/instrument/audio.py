"""Audio reactivity: band levels and onsets from blocks of samples, mapped onto the show. Numpy.

``Analyser.process(block)`` takes one block (1024 mono float32 samples by default) and returns
``Features``: the levels of three bands (bass 20-250 Hz, mid 250-4000 Hz, high 4000 Hz and up)
after gain, a noise gate and attack / release smoothing, and spectral-flux onsets. Each block is
analysed with the block before it under a Hann window (50 % overlap), so a click anywhere in a
block is seen whole in this analysis or the next: onsets are reported at most one block late.

Levels are amplitudes: a full-scale sine inside a band reads 1.0 at gain 1. Sources give blocks:
``FileSource`` decodes a file with PyAV to mono float32 at a fixed rate and releases blocks by
the injected clock's time (``pending(time)``: every block that has ended by then), so an offline
render analyses exactly the same audio at the same frames every time; ``LiveSource`` records
from a sounddevice input on PortAudio's thread into a bounded queue. ``Reactor`` polls a source
once per frame and turns the latest features into a ``Modulation`` (latent offsets, speed and
zoom factors) scaled by one global reactivity amount.

Live input from what the computer plays (a loopback / monitor source):
  Linux (PulseAudio or PipeWire): choose the input named "Monitor of <your output>" (with
    PipeWire: ``pactl load-module module-null-sink`` gives a dedicated one);
  macOS: install BlackHole (or Loopback), route the output to it, choose it as the input;
  Windows: enable "Stereo Mix" in the sound settings, or use a WASAPI loopback device.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..core.errors import CPPNError

log = logging.getLogger(__name__)

RATE = 48000  # samples per second every source delivers
BLOCK = 1024  # samples per analysis block: 21 ms at 48 kHz, about one frame at 50-60 fps
BANDS: dict[str, tuple[float, float]] = {
    "bass": (20.0, 250.0),
    "mid": (250.0, 4000.0),
    "high": (4000.0, 24000.0),
}
SIGNALS = (*BANDS, "onset")  # what a reactivity mapping can read
LIVE_QUEUE_BLOCKS = 64  # ~1.4 s of audio waiting for the render thread; older blocks are dropped


@dataclass(frozen=True)
class AnalyserConfig:
    rate: int = RATE
    block: int = BLOCK
    gain: float = 1.0  # input gain, linear
    gate: float = 0.01  # band level (after gain) below which a band reads 0: -40 dBFS
    attack: float = 0.005  # seconds: rises follow within a block (a kick must land on time)
    release: float = 0.25  # seconds: falls are slow so the picture breathes instead of flickers
    onset_ratio: float = 2.0  # an onset: flux above this times the recent median flux ...
    onset_floor: float = 0.02  # ... and above this absolute floor (log-magnitude units)
    onset_window: float = 0.5  # seconds of flux history for the median
    refractory: float = 0.08  # seconds: one onset per hit, however long its tail

    def __post_init__(self) -> None:
        if not (isinstance(self.rate, int) and 8000 <= self.rate <= 192000):
            raise CPPNError(f"audio rate must be 8000..192000 Hz, got {self.rate!r}")
        if not (isinstance(self.block, int) and 64 <= self.block <= 16384):
            raise CPPNError(f"audio block must be 64..16384 samples, got {self.block!r}")
        for name in ("gain", "gate", "attack", "release", "onset_ratio", "onset_floor",
                     "onset_window", "refractory"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise CPPNError(f"audio {name} must be a non-negative number, got {v!r}")


@dataclass(frozen=True)
class Features:
    """The analysis of one block. ``time``: seconds from the stream start to the block start."""

    time: float
    levels: dict[str, float]  # band -> smoothed level, 0..1
    flux: float  # spectral flux: the sum of log-magnitude rises, per bin
    onset: bool

    def __getitem__(self, name: str) -> float:
        return float(self.onset) if name == "onset" else self.levels[name]


class Analyser:
    """Stateful per-block analysis (smoothing, flux and onset history)."""

    def __init__(self, config: AnalyserConfig | None = None) -> None:
        self.config = c = config or AnalyserConfig()
        n = 2 * c.block  # this block and the one before it
        self._window = np.hanning(n).astype(np.float32)  # (n,)
        self._wsum2 = float(np.sum(self._window.astype(np.float64) ** 2))
        self._mag_scale = 2.0 / float(np.sum(self._window))  # |X| -> sine amplitude
        freqs = np.fft.rfftfreq(n, 1.0 / c.rate)  # (n/2 + 1,)
        nyquist = c.rate / 2.0
        self._bands = [(name, (freqs >= lo) & (freqs < min(hi, nyquist + 1)))
                       for name, (lo, hi) in BANDS.items()]
        self._buffer = np.zeros(n, dtype=np.float32)
        self._prev_log: np.ndarray | None = None
        self._levels = {name: 0.0 for name in BANDS}
        block_seconds = c.block / c.rate
        self._up = _coefficient(c.attack, block_seconds)
        self._down = _coefficient(c.release, block_seconds)
        self._history: collections.deque[float] = collections.deque(
            maxlen=max(3, int(round(c.onset_window / block_seconds))))
        self._refractory_blocks = int(math.ceil(c.refractory / block_seconds))
        self._since_onset = 1 << 30
        self.blocks = 0  # blocks analysed so far

    def process(self, block: np.ndarray) -> Features:
        c = self.config
        x = np.asarray(block, dtype=np.float32).reshape(-1)
        if x.shape[0] != c.block:
            raise CPPNError(f"audio block must have {c.block} samples, got {x.shape[0]}")
        if not np.isfinite(x).all():  # a broken driver must not poison the smoothing state
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        self._buffer[: c.block] = self._buffer[c.block:]
        self._buffer[c.block:] = x * np.float32(c.gain)
        spectrum = np.fft.rfft(self._buffer * self._window)  # (n/2 + 1,) complex
        power = spectrum.real.astype(np.float64) ** 2 + spectrum.imag.astype(np.float64) ** 2
        n = self._buffer.shape[0]
        for name, mask in self._bands:
            # Parseval: band energy of the windowed signal -> the amplitude of a sine with it.
            energy = 2.0 * float(power[mask].sum()) / n
            level = min(math.sqrt(2.0 * energy / self._wsum2), 1.0)
            if level < c.gate:
                level = 0.0
            old = self._levels[name]
            k = self._up if level > old else self._down
            self._levels[name] = level + (old - level) * k

        logmag = np.log1p(1000.0 * self._mag_scale * np.sqrt(power))  # (n/2 + 1,)
        if self._prev_log is None:
            flux = 0.0
        else:
            flux = float(np.maximum(logmag - self._prev_log, 0.0).mean())
        self._prev_log = logmag
        threshold = max(c.onset_floor, c.onset_ratio * (float(np.median(self._history))
                                                         if self._history else 0.0))
        self._since_onset += 1
        onset = flux > threshold and self._since_onset > self._refractory_blocks
        if onset:
            self._since_onset = 0
        self._history.append(flux)
        # The analysis window is centred on the start of this block.
        time = self.blocks * c.block / c.rate
        self.blocks += 1
        return Features(time, dict(self._levels), flux, onset)


def _coefficient(tau: float, step: float) -> float:
    """One-pole smoothing coefficient for time constant ``tau`` at ``step`` seconds per update."""
    return 0.0 if tau <= 0 else math.exp(-step / tau)


# --- sources ---------------------------------------------------------------------------------


class AudioSource(Protocol):
    rate: int
    block: int

    def pending(self, time: float) -> list[np.ndarray]:
        """Blocks (each ``(block,)`` float32) that arrived by clock ``time`` and were not yet
        returned, oldest first."""
        ...

    def close(self) -> None: ...


class FileSource:
    """An audio file decoded with PyAV to mono float32 at ``rate``, released block by block as
    the clock passes each block's end. Deterministic: the same file gives the same blocks."""

    def __init__(self, path: str | Path, rate: int = RATE, block: int = BLOCK) -> None:
        try:
            import av
        except ImportError:
            raise CPPNError("audio files need PyAV: pip install av") from None
        self.path = Path(path)
        self.rate, self.block = int(rate), int(block)
        if not self.path.is_file():
            raise CPPNError(f"no such audio file: {self.path}")
        try:
            self._container = av.open(str(self.path))
            if not self._container.streams.audio:
                self._container.close()
                raise CPPNError(f"{self.path} has no audio stream")
            self._stream = self._container.streams.audio[0]
        except CPPNError:
            raise
        except Exception as exc:  # PyAV raises its own error types for every kind of damage
            raise CPPNError(f"cannot read audio {self.path}: {_first_line(exc)}") from None
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=self.rate)
        self._chunks = self._decode()
        self._buffer = np.zeros(0, dtype=np.float32)
        self._eof = False
        self.blocks = 0  # blocks released so far
        self.done = False  # the file is exhausted (the last partial block is zero-padded)

    def _decode(self) -> Iterator[np.ndarray]:
        try:
            for frame in self._container.decode(self._stream):
                for out in self._resampler.resample(frame):
                    yield out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
            for out in self._resampler.resample(None):  # flush the resampler's tail
                yield out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
        except Exception as exc:  # a truncated file: what decoded so far is the file
            log.warning("audio %s: decoding stopped: %s", self.path.name, _first_line(exc))

    def _fill(self, samples: int) -> None:
        parts = [self._buffer]
        have = self._buffer.shape[0]
        while have < samples and not self._eof:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._eof = True
                break
            parts.append(chunk)
            have += chunk.shape[0]
        self._buffer = np.concatenate(parts) if len(parts) > 1 else self._buffer

    def pending(self, time: float) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        if not math.isfinite(time):
            return out
        end = int(math.floor(time * self.rate + 1e-6))  # samples the clock has passed
        while not self.done and (self.blocks + 1) * self.block <= end:
            self._fill(self.block)
            if self._buffer.shape[0] == 0 and self._eof:
                self.done = True
                break
            b = self._buffer[: self.block]
            self._buffer = self._buffer[self.block:]
            if b.shape[0] < self.block:
                b = np.concatenate([b, np.zeros(self.block - b.shape[0], np.float32)])
                self.done = True
            out.append(b)
            self.blocks += 1
        return out

    def close(self) -> None:
        self._container.close()


class LiveSource:
    """A sounddevice input stream; PortAudio's callback thread fills a bounded queue."""

    def __init__(self, device: str | int | None = None, rate: int = RATE,
                 block: int = BLOCK) -> None:
        sd = _sounddevice()
        self.rate, self.block = int(rate), int(block)
        index = find_device(device)
        self._queue: collections.deque[np.ndarray] = collections.deque(maxlen=LIVE_QUEUE_BLOCKS)
        self._lock = threading.Lock()
        self.overflows = 0
        try:
            self._stream = sd.InputStream(device=index, samplerate=self.rate, blocksize=self.block,
                                          channels=1, dtype="float32", callback=self._callback)
            self._stream.start()
        except Exception as exc:
            raise CPPNError(f"cannot open audio input {device!r}: {_first_line(exc)}") from None

    def _callback(self, indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        # PortAudio's thread: copy and return; never raise, never block.
        if status:
            self.overflows += 1
        with self._lock:
            self._queue.append(np.array(indata[:, 0], dtype=np.float32))

    def pending(self, time: float) -> list[np.ndarray]:
        with self._lock:
            out = list(self._queue)
            self._queue.clear()
        return out

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sounddevice() -> Any:
    try:
        import sounddevice
    except ImportError:
        raise CPPNError("live audio needs sounddevice: pip install 'realtime-cppn[vj]'") from None
    except OSError as exc:  # sounddevice imports PortAudio's shared library at import time
        raise CPPNError(f"live audio needs the PortAudio library ({_first_line(exc)}; on Debian: "
                        "apt-get install libportaudio2)") from None
    return sounddevice


def input_devices() -> list[tuple[int, str]]:
    """(index, name) of every audio input device."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
    except Exception as exc:
        raise CPPNError(f"cannot list audio devices: {_first_line(exc)}") from None
    return [(i, str(d["name"])) for i, d in enumerate(devices) if d["max_input_channels"] > 0]


def find_device(device: str | int | None) -> int | None:
    """The index of an input device given by index or a unique part of its name (None: the
    system default). A missing device is a CPPNError listing the inputs there are."""
    inputs = input_devices()
    if device is None:
        if not inputs:
            raise CPPNError("no audio input devices")
        return None
    if isinstance(device, int) or str(device).isdigit():
        matches = [i for i, _ in inputs if i == int(device)]
    else:
        matches = [i for i, n in inputs if n == device] or \
                  [i for i, n in inputs if str(device).lower() in n.lower()]
    if len(matches) != 1:
        listing = "; ".join(f"{i}: {n}" for i, n in inputs) or "none"
        what = "no audio input" if not matches else "several audio inputs match"
        raise CPPNError(f"{what} {device!r}; inputs: {listing}")
    return matches[0]


# --- mapping onto the show -------------------------------------------------------------------


@dataclass(frozen=True)
class Reactivity:
    """Which signal moves what, and how much. ``amount`` is the global reactivity (0: off)."""

    amount: float = 0.5
    latent: tuple[tuple[str, int, float], ...] = (  # (signal, latent dimension, depth)
        ("bass", 0, 2.0), ("mid", 1, 1.5), ("high", 2, 1.5), ("onset", 3, 2.0),
    )
    speed: tuple[str, float] = ("mid", 2.0)  # speed x (1 + amount * depth * level)
    zoom: tuple[str, float] = ("bass", 0.5)  # zoom x (1 + amount * depth * level)
    onset_decay: float = 0.2  # seconds: an onset is a flash that fades, not a one-frame blip

    def __post_init__(self) -> None:
        if not (math.isfinite(self.amount) and 0.0 <= self.amount <= 2.0):
            raise CPPNError(f"reactivity must be 0..2, got {self.amount!r}")
        for signal, dim, depth in self.latent:
            if signal not in SIGNALS or not 0 <= int(dim) < 256 or not math.isfinite(depth):
                raise CPPNError(f"bad latent mapping ({signal!r}, {dim!r}, {depth!r}); signals: "
                                f"{', '.join(SIGNALS)}")
        for signal, depth in (self.speed, self.zoom):
            if signal not in SIGNALS or not math.isfinite(depth):
                raise CPPNError(f"bad mapping ({signal!r}, {depth!r}); signals: "
                                f"{', '.join(SIGNALS)}")

    def step(self, delta: float) -> Reactivity:
        """The amount moved by ``delta`` (a key press: +-0.1), kept in 0..2."""
        return replace(self, amount=round(min(max(self.amount + delta, 0.0), 2.0), 6))


@dataclass(frozen=True)
class Modulation:
    """What audio adds to the frame: the app adds ``z_offset`` to z and multiplies speed / zoom."""

    z_offset: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (z_dim,)
    speed_scale: float = 1.0
    zoom_scale: float = 1.0
    features: Features | None = None  # the analysis behind it, for the overlay


class Reactor:
    """Polled once per frame: analyses the source's new blocks, returns the Modulation."""

    def __init__(self, source: AudioSource, reactivity: Reactivity | None = None,
                 config: AnalyserConfig | None = None) -> None:
        config = config or AnalyserConfig(rate=source.rate, block=source.block)
        if (config.rate, config.block) != (source.rate, source.block):
            raise CPPNError("the analyser's rate and block must match the audio source's")
        self.source = source
        self.analyser = Analyser(config)
        self.reactivity = reactivity or Reactivity()
        self.features: Features | None = None
        self._onset_time: float | None = None  # stream time of the latest onset

    def poll(self, time: float, z_dim: int) -> Modulation:
        for block in self.source.pending(time):
            self.features = self.analyser.process(block)
            if self.features.onset:
                self._onset_time = self.features.time
        return self.modulation(z_dim)

    def onset_envelope(self) -> float:
        f, t0 = self.features, self._onset_time
        if f is None or t0 is None:
            return 0.0
        decay = self.reactivity.onset_decay
        age = f.time - t0
        return math.exp(-age / decay) if decay > 0 else float(age == 0)

    def signal(self, name: str) -> float:
        if self.features is None:
            return 0.0
        return self.onset_envelope() if name == "onset" else self.features.levels[name]

    def modulation(self, z_dim: int) -> Modulation:
        r = self.reactivity
        z = np.zeros(z_dim)
        for name, dim, depth in r.latent:
            if dim < z_dim:
                z[dim] += r.amount * depth * self.signal(name)
        speed = 1.0 + r.amount * r.speed[1] * self.signal(r.speed[0])
        zoom = 1.0 + r.amount * r.zoom[1] * self.signal(r.zoom[0])
        return Modulation(z, max(speed, 0.0), max(zoom, 1e-3), self.features)


def file_seconds(path: str | Path) -> float:
    """The length of an audio file in seconds (decoded: container durations can lie)."""
    source = FileSource(path)
    try:
        return sum(chunk.shape[0] for chunk in source._chunks) / source.rate
    finally:
        source.close()


def analyse_file(path: str | Path, fps: float, frames: int | None = None,
                 reactivity: Reactivity | None = None, z_dim: int = 8,
                 config: AnalyserConfig | None = None) -> list[Modulation]:
    """The Modulation of every video frame n (at time n / fps) of an offline render of ``path``:
    what a ``Reactor`` polled by a fixed-step clock gives. ``frames=None``: the whole file."""
    if not (math.isfinite(fps) and 0 < fps <= 1000):
        raise CPPNError(f"fps must be in (0, 1000], got {fps!r}")
    rate = config.rate if config else RATE
    block = config.block if config else BLOCK
    source = FileSource(path, rate, block)
    try:
        reactor = Reactor(source, reactivity, config)
        out = []
        n = 0
        while frames is None or n < frames:
            if frames is None and source.done:
                break
            out.append(reactor.poll(n / fps, z_dim))
            n += 1
        return out
    finally:
        source.close()
