"""Video and PNG-sequence writers behind one interface, the codec table, and a threaded encoder.

Which route each codec takes (the README's table is this one):

=============  =========  ==============================  ==========  =====================
codec          file       encoder                         size rule   route
=============  =========  ==============================  ==========  =====================
h264           .mp4       libx264, yuv420p, BT.709         even        PyAV (in-process)
prores         .mov       prores_ks 422 HQ, 10-bit         even        PyAV (in-process)
prores4444     .mov       prores_ks 4444, alpha, 10-bit    even        PyAV (in-process)
hap            .mov       Hap 1 (DXT1)                     4           ffmpeg of imageio-ffmpeg
hap-q          .mov       Hap Q (DXT5-YCoCg)               4           ffmpeg of imageio-ffmpeg
hap-alpha      .mov       Hap Alpha (DXT5)                 4           ffmpeg of imageio-ffmpeg
png            folder/    frame_000000.png, ...            any         Pillow
=============  =========  ==============================  ==========  =====================

PyAV's wheel carries no HAP encoder, so HAP frames go as raw RGBA through a pipe to the ffmpeg
binary bundled with ``imageio-ffmpeg``. An offline clip is written to a hidden temporary name next
to the target and moved into place only when closed, so a failed or refused render never damages
a file that was already there; a temporary left by a killed process (no one holds its lock) is
removed by the next writer in that folder. A live take (``grow=True``) is written under its own,
freshly claimed name from its first frame as a fragmented MP4/MOV (a fragment about every second,
flushed to disk every few seconds), so a take whose process is killed, or whose machine loses
power, is still a playable file of all but its last seconds. ``close()`` always finishes the
container: a clip cut short by Ctrl-C is a playable file of the frames written. H.264 has a
keyframe at least every second (``gop``; 1 is all-intra) and no B-frames, so VJ players scrub and
launch clips anywhere; every frame carries its BT.709 tags. Frames are uint8 (H, W, 3 or 4), top
row first.
An audio file can ride along (``open_writer(..., audio=path)``): AAC in .mp4, 16-bit PCM (or
AAC) in .mov, resampled to 48 kHz and trimmed (or padded with silence) to exactly the frames
written; PNG sequences carry no audio.
Used as context managers, writers keep what was recorded when the block ends by an exception
(a live set cannot be played again) and drop it only when the encoder itself failed.
Plain Python + numpy; PyAV is imported only when a PyAV codec is used.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..core.errors import CPPNError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so stale temporaries are left alone
    fcntl = None

log = logging.getLogger(__name__)

# FFmpeg's enum values for BT.709 tags (AVCOL_PRI/TRC/SPC_BT709) and limited ("MPEG") range.
_BT709 = 1
_RANGE_MPEG = 1
# Fragmented MP4/MOV for takes: a fragment at the first keyframe after each second, an empty
# moov up front, so the file plays whatever moment the process dies at.
FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof",
              "min_frag_duration": "1000000"}
SYNC_SECONDS = 2.0  # a growing take is flushed to disk after this much video


@dataclass(frozen=True)
class Codec:
    name: str
    title: str
    suffix: str  # "" for a folder of images
    route: str  # "pyav" | "ffmpeg" | "png"
    encoder: str  # FFmpeg encoder name ("" for png)
    pix_fmt: str  # what the encoder is fed after conversion
    multiple: int  # width and height must be multiples of this
    alpha: bool
    options: dict = field(default_factory=dict)
    live_options: dict = field(default_factory=dict)  # overrides for live takes (None: unset)


CODECS: dict[str, Codec] = {
    c.name: c
    for c in (
        # crf 18 is visually lossless for smooth CPPN gradients. Offline, 'fast' spends time
        # on compression; live, 'veryfast' (OBS's default) is ~1.5-4x faster (measured at 1080p
        # and 360p), so the encoder keeps up with the show instead of dropping frames.
        # Live takes skip +faststart: it rewrites the whole file when the take stops (on the
        # render thread: seconds of frozen picture after a long take) and reopens it by name
        # (a take whose folder was deleted could not be finished).
        Codec("h264", "H.264", ".mp4", "pyav", "libx264", "yuv420p", 2, False,
              {"crf": "18", "preset": "fast", "movflags": "+faststart"},
              {"preset": "veryfast", "movflags": None}),
        Codec("prores", "ProRes 422 HQ", ".mov", "pyav", "prores_ks", "yuv422p10le", 2, False,
              {"profile": "3", "vendor": "apl0"}),
        Codec("prores4444", "ProRes 4444", ".mov", "pyav", "prores_ks", "yuva444p10le", 2, True,
              {"profile": "4", "vendor": "apl0"}),
        Codec("hap", "HAP", ".mov", "ffmpeg", "hap", "rgba", 4, False, {"format": "hap"}),
        Codec("hap-q", "HAP Q", ".mov", "ffmpeg", "hap", "rgba", 4, False, {"format": "hap_q"}),
        Codec("hap-alpha", "HAP Alpha", ".mov", "ffmpeg", "hap", "rgba", 4, True,
              {"format": "hap_alpha"}),
        Codec("png", "PNG sequence", "", "png", "", "rgba", 1, True),
    )
}

FRAME_PATTERN = "frame_{:06d}.png"


def get_codec(name: str) -> Codec:
    """The codec called ``name``; an unknown name lists the valid ones."""
    try:
        return CODECS[str(name).lower()]
    except KeyError:
        raise CPPNError(f"unknown codec {name!r}; valid: {', '.join(CODECS)}") from None


def codec_for_path(path: str | Path) -> Codec:
    """The default codec for an output path: .mp4 -> h264, .mov -> prores, no suffix -> png."""
    suffix = Path(path).suffix.lower()
    by_suffix = {".mp4": "h264", ".mov": "prores", "": "png"}
    if suffix not in by_suffix:
        raise CPPNError(
            f"cannot tell the codec from {Path(path).name!r}: use .mp4, .mov or a folder name, "
            f"or pass --codec ({', '.join(CODECS)})"
        )
    return CODECS[by_suffix[suffix]]


def check_size(codec: Codec, size: tuple[int, int]) -> tuple[int, int]:
    """Refuse a size the codec cannot take, naming the nearest sizes it can."""
    w, h = (int(v) for v in size)
    m = codec.multiple
    if w % m == 0 and h % m == 0:
        return w, h
    down, up = fit_size(codec, (w, h)), (-(-w // m) * m, -(-h // m) * m)
    rule = "even width and height" if m == 2 else f"width and height multiples of {m}"
    raise CPPNError(
        f"{codec.title} needs {rule}; {w}x{h} is not "
        f"(use {down[0]}x{down[1]} or {up[0]}x{up[1]})"
    )


def fit_size(codec: Codec, size: tuple[int, int]) -> tuple[int, int]:
    """The largest size the codec takes that fits in ``size`` (for rendering at it: no scaling)."""
    m = codec.multiple
    w, h = (max(m, int(v) // m * m) for v in size)
    return w, h


def check_output(codec: Codec, path: str | Path) -> Path:
    """Refuse an output path the codec cannot write, before anything is rendered."""
    path = Path(path)
    if codec.route == "png":
        if path.suffix.lower() in (".mp4", ".mov"):
            raise CPPNError(f"a PNG sequence goes into a folder, not {path.name!r}")
        if path.exists() and not path.is_dir():
            raise CPPNError(f"{path} exists and is not a folder")
        if path.is_dir():
            stray = [p.name for p in path.iterdir() if not _is_frame_name(p.name)]
            if stray:
                raise CPPNError(
                    f"{path} holds files that are not frames of a sequence ({stray[0]}, ...): "
                    "choose an empty or new folder"
                )
    elif path.suffix.lower() != codec.suffix:
        raise CPPNError(f"{codec.title} is written to a {codec.suffix} file, not {path.name!r}")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise CPPNError(f"output folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CPPNError(f"output folder {parent} is not writable")
    if path.is_dir() and codec.route != "png":
        raise CPPNError(f"{path} is a folder")
    return path


def _is_frame_name(name: str) -> bool:
    return name.startswith("frame_") and name.endswith(".png") and name[6:-4].isdigit()


# The NTSC rates: 29.97 means 30000/1001, as every camera and editor stores it.
_NTSC = tuple(Fraction(base * 1000, 1001) for base in (24, 30, 48, 60, 120, 240))
_NTSC_TOLERANCE = 5e-4  # 29.97 and 23.976 are 3e-5 from the exact rate, 29.96 is 1e-2


def _rate(fps: float) -> Fraction:
    """fps as an exact rational time base: 30 -> 30/1, 29.97 -> 30000/1001, 23.976 ->
    24000/1001, 59.94 -> 60000/1001."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float, Fraction)) or \
            not (fps > 0 and math.isfinite(fps)):
        raise CPPNError(f"fps must be a positive number, got {fps}")
    for ntsc in _NTSC:
        if abs(fps - ntsc) < _NTSC_TOLERANCE:
            return ntsc
    rate = Fraction(fps).limit_denominator(1001)
    if abs(float(rate) - fps) > 1e-6 * fps:
        raise CPPNError(f"fps {fps} is not a rate a video file can store")
    return rate


def exact_fps(fps: float) -> float:
    """``fps`` as the float of the rate a file stores (29.97 -> 30000/1001 = 29.97002997...), so
    frame times computed from it are the file's own."""
    return float(_rate(fps))


def parse_fps(text: str) -> float:
    """An ``--fps`` value: a number (``29.97``) or a ratio (``30000/1001``); argparse's type."""
    import argparse

    try:
        value = float(Fraction(text.strip()))
        return exact_fps(value)
    except (ValueError, ZeroDivisionError, CPPNError):
        raise argparse.ArgumentTypeError(
            f"a frame rate expected (30, 29.97 or 30000/1001), got {text!r}") from None


def parse_gop(text: str) -> int:
    """A ``--gop`` value: frames between H.264 keyframes, 1 or more; argparse's type."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"a keyframe interval of 1 or more frames expected, got {text!r}")
    return value


def keyframe_interval(rate: Fraction, gop: int | None = None) -> int:
    """Frames between keyframes: ``gop``, or by default the most that fit in one second."""
    if gop is None:
        return max(1, math.floor(rate))
    if isinstance(gop, bool) or not isinstance(gop, int) or gop < 1:
        raise CPPNError(f"the keyframe interval must be 1 or more frames, got {gop!r}")
    return gop


def hap_available() -> str | None:
    """Why HAP cannot be written here, or None when the bundled ffmpeg has the hap encoder."""
    try:
        ffmpeg_with_hap()
    except CPPNError as exc:
        return str(exc)
    return None


_FFMPEG: str | None = None


def ffmpeg_with_hap() -> str:
    """The path of imageio-ffmpeg's ffmpeg, checked once to have the hap encoder."""
    global _FFMPEG
    if _FFMPEG is not None:
        return _FFMPEG
    try:
        import imageio_ffmpeg
    except ImportError:
        raise CPPNError(
            "HAP needs the ffmpeg bundled with imageio-ffmpeg: pip install 'realtime-cppn[video]'"
        ) from None
    try:
        exe = imageio_ffmpeg.get_ffmpeg_exe()
        out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        raise CPPNError(f"cannot run imageio-ffmpeg's ffmpeg: {exc}") from None
    if not any(line.split()[1:2] == ["hap"] for line in out.splitlines() if line.strip()):
        raise CPPNError(f"the ffmpeg at {exe} has no hap encoder")
    _FFMPEG = exe
    return exe


# --- audio ----------------------------------------------------------------------------------

AUDIO_RATE = 48000  # what every muxed audio track is resampled to: the video world's rate
AUDIO_CODECS = {"aac": "aac", "pcm": "pcm_s16le"}
_AUDIO_CHUNK = 4096  # samples per encoded frame handed to PyAV (it re-chunks for AAC)


def audio_codec_for(codec: Codec, name: str | None = None) -> str:
    """The audio codec ("aac" or "pcm") muxed beside ``codec``: AAC in .mp4, PCM in .mov."""
    if codec.route == "png":
        raise CPPNError("a PNG sequence carries no audio")
    if name is None:
        return "aac" if codec.suffix == ".mp4" else "pcm"
    if name not in AUDIO_CODECS:
        raise CPPNError(f"unknown audio codec {name!r}; valid: {', '.join(AUDIO_CODECS)}")
    if name == "pcm" and codec.suffix == ".mp4":
        raise CPPNError("PCM audio goes into .mov files; .mp4 takes aac")
    return name


class _AudioTrack:
    """An audio file decoded and resampled by PyAV, encoded into an output stream up to a given
    sample count: padded with silence past the file's end, cut at the clip's."""

    def __init__(self, av, container, path: Path, encoder: str) -> None:
        self._av = av
        self._out = container
        path = Path(path)
        try:
            self._in = av.open(str(path))
        except Exception as exc:  # PyAV raises its own error type for every kind of damage
            raise CPPNError(f"cannot read audio {path}: {_first_line(exc)}") from None
        if not self._in.streams.audio:
            self._in.close()
            raise CPPNError(f"{path} has no audio stream")
        src = self._in.streams.audio[0]
        channels = src.codec_context.layout.nb_channels if src.codec_context.layout else 1
        self.channels = 2 if channels >= 2 else 1  # more than stereo is folded down to stereo
        self.layout = "stereo" if self.channels == 2 else "mono"
        self.path = path
        self.stream = container.add_stream(encoder, rate=AUDIO_RATE, layout=self.layout)
        self.stream.time_base = Fraction(1, AUDIO_RATE)
        self._resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=AUDIO_RATE)
        self._chunks = self._decode(src)
        self._buffer = np.zeros((self.channels, 0), np.float32)  # (C, n) decoded, not yet sent
        self._eof = False
        self.samples = 0  # samples encoded so far

    def _decode(self, src) -> Iterator[np.ndarray]:
        try:
            for frame in self._in.decode(src):
                for out in self._resampler.resample(frame):
                    yield out.to_ndarray().reshape(self.channels, -1).astype(np.float32)
            for out in self._resampler.resample(None):
                yield out.to_ndarray().reshape(self.channels, -1).astype(np.float32)
        except self._av.FFmpegError:  # a truncated file: what decoded is the file, then silence
            return

    def feed(self, until: int) -> None:
        """Encode and mux samples up to ``until`` (48 kHz samples from the clip start)."""
        av = self._av
        while self.samples < until:
            need = min(until - self.samples, _AUDIO_CHUNK)
            while self._buffer.shape[1] < need and not self._eof:
                chunk = next(self._chunks, None)
                if chunk is None:
                    self._eof = True
                else:
                    self._buffer = np.concatenate([self._buffer, chunk], axis=1)
            block = self._buffer[:, :need]
            self._buffer = self._buffer[:, need:]
            if block.shape[1] < need:  # the file ended before the clip: silence
                block = np.concatenate(
                    [block, np.zeros((self.channels, need - block.shape[1]), np.float32)], axis=1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp",
                                               layout=self.layout)
            frame.sample_rate = AUDIO_RATE
            frame.pts = self.samples
            frame.time_base = Fraction(1, AUDIO_RATE)
            self._out.mux(self.stream.encode(frame))
            self.samples += need

    def finish(self, until: int) -> None:
        self.feed(until)
        self._out.mux(self.stream.encode(None))
        self.close()

    def close(self) -> None:
        self._in.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- writers --------------------------------------------------------------------------------


class Writer:
    """One clip being written. ``write`` takes uint8 (H, W, 3|4) frames of exactly ``size``."""

    def __init__(self, path: Path, codec: Codec, size: tuple[int, int], fps: float,
                 audio: Path | None = None, audio_codec: str | None = None,
                 gop: int | None = None, grow: bool = False) -> None:
        self.path = path
        self.audio = audio  # an audio file muxed beside the frames (trimmed to their length)
        self.audio_codec = None if audio is None else audio_codec_for(codec, audio_codec)
        self.codec = codec
        self.size = size
        self.fps = fps
        self.rate = _rate(fps)
        self.gop = keyframe_interval(self.rate, gop)
        self.grow = grow  # written in place, fragmented: playable while it grows (a live take)
        self.frames = 0  # frames in the file
        self.position = 0  # the next frame's place on the file's time grid (frames + skipped)
        self.skipped = 0  # grid places covered by the frame before them lasting longer
        self.closed = False
        self.failed = False
        self._held: int | None = None  # our own handle on the temporary file (see _hold)
        self._last: tuple[np.ndarray, str | None] | None = None  # for repeat_last
        self._sync_every = max(1, round(SYNC_SECONDS * self.rate))

    def audio_samples(self, frames: int) -> int:
        """Audio samples (at ``AUDIO_RATE``) that last as long as ``frames`` video frames."""
        return frames * AUDIO_RATE * self.rate.denominator // self.rate.numerator

    def write(self, frame: np.ndarray, text: str | None = None, repeat: int = 1) -> None:
        """Append a frame, ``repeat`` times (a constant-rate take holding a picture); ``text``
        (a scene's JSON) is stored with it where the format can (PNG frames: the
        ``realtime-cppn`` text chunk, so each frame renders again as a still)."""
        if self.closed:
            raise CPPNError("the recording is already closed")
        try:
            frame = self._check(frame)
            for _ in range(repeat):
                self._write(frame, text)
                self.frames += 1
                self.position += 1
                if self.grow and self.frames % self._sync_every == 0:
                    self._sync()
        except BaseException:
            self.failed = True  # the file cannot be finished: closing will drop it
            raise
        self._last = (frame, text)

    def repeat_last(self, n: int) -> None:
        """The latest frame ``n`` more times (nothing before the first frame)."""
        if self._last is not None and n > 0:
            self.write(*self._last, repeat=n)

    can_skip = False  # whether the container takes a gap in the timestamps (``skip``)

    def skip(self, n: int) -> None:
        """Leave ``n`` places of the time grid to the frame before (it lasts that much longer:
        its timestamps say so). Only where ``can_skip``; the next frame must follow."""
        if not self.can_skip:
            raise CPPNError(f"{self.codec.title} frames are written at a constant rate")
        if self._last is not None and n > 0:
            self.position += n
            self.skipped += n

    def _sync(self) -> None:
        """What the encoder has handed the OS goes to disk (a power cut keeps it)."""
        if self._held is not None:
            with suppress(OSError):
                os.fsync(self._held)

    def _check(self, frame: np.ndarray) -> np.ndarray:
        frame = np.asarray(frame)
        w, h = self.size
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[:2] != (h, w) or \
                frame.shape[2] not in (3, 4):
            raise CPPNError(
                f"a frame must be uint8 ({h}, {w}, 3 or 4), got {frame.dtype} {frame.shape}"
            )
        return frame

    def close(self) -> Path:
        """Finish the file (always playable) and move it into place; safe to call twice."""
        if self.closed:
            return self.path
        self.closed = True
        # A second Ctrl-C while the container is finished would leave a file without an index.
        try:
            with signals_deferred():
                self._close()
        finally:
            self._release_held()
        return self.path

    def abort(self) -> None:
        """Drop the unfinished file: whatever was at ``path`` before stays untouched."""
        if not self.closed:
            self.closed = True
            try:
                self._abort()
            finally:
                self._release_held()

    def _hold(self) -> None:
        """Keep a handle of our own on the temporary file: if its folder is deleted mid-take,
        the data lives on in the open file and ``_place`` writes it back."""
        try:
            self._held = os.open(self._tmp, os.O_RDONLY)
        except OSError:
            self._held = None
            return
        _lock(self._held)  # held while we write: a temporary nobody holds is a killed one's

    def _drop(self) -> None:
        """Remove the unfinished file: a temporary always; a take written in place only when
        no whole fragment reached it (the fragments before a fault are a playable file)."""
        if self._tmp != self.path or not _has_fragment(self.path):
            with suppress(OSError):
                self._tmp.unlink(missing_ok=True)

    def _release_held(self) -> None:
        if self._held is not None:
            os.close(self._held)
            self._held = None

    def _place(self) -> None:
        """Move the finished temporary file into place; if its folder vanished meanwhile, make
        the folder again and write the file there from the held handle."""
        try:
            if self._tmp != self.path:
                os.replace(self._tmp, self.path)
            elif self._held is not None and os.fstat(self._held).st_nlink == 0:
                raise FileNotFoundError(self.path)  # written in place, and deleted meanwhile
        except FileNotFoundError:
            fd = self._held
            if fd is None or os.fstat(fd).st_nlink != 0:
                raise
            self.path.absolute().parent.mkdir(parents=True, exist_ok=True)
            tmp = _temp_name(self.path)
            with open(tmp, "wb") as out:
                offset = 0
                while chunk := os.pread(fd, 1 << 20, offset):
                    out.write(chunk)
                    offset += len(chunk)
            os.replace(tmp, self.path)
            log.warning("the folder of %s vanished while writing it: made it again", self.path)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # Ctrl-C or a crash elsewhere keeps what was recorded, finished and playable (a live set
        # is not repeatable); an encoder failure (disk full) leaves no half file behind.
        if self.failed:
            self.abort()
        else:
            self.close()

    def _write(self, frame: np.ndarray, text: str | None) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _abort(self) -> None:
        raise NotImplementedError


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP wait until the block is done (a container being finished),
    then reach their handlers as if they had just arrived."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hits: list[int] = []
    old = {sig: signal.signal(sig, lambda sig, _frame: hits.append(sig)) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    for sig in dict.fromkeys(hits):
        signal.raise_signal(sig)


class Interrupts:
    """While active (``with Interrupts() as stop``), the first SIGINT, SIGTERM or SIGHUP raises
    KeyboardInterrupt in the main thread; later ones are only counted, so the code finishing
    the file after the first is never interrupted. ``signum``: the first signal, or None."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.later = 0
        self._old: dict = {}

    def _handle(self, signum: int, _frame) -> None:
        if self.signum is not None:
            self.later += 1
            return
        self.signum = signum
        raise KeyboardInterrupt

    @property
    def status(self) -> int:
        """The exit status of a run the signal ended: 128 + its number (130 for Ctrl-C)."""
        return 128 + (self.signum or signal.SIGINT)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum or signal.SIGINT).name

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._old = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            # After a stop signal the run is ending: later ones are ignored, also while the
            # interpreter shuts down (a Python handler is reset to the default there).
            signal.signal(sig, handler if self.signum is None else signal.SIG_IGN)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once at import: os.umask is process-wide and not thread-safe


def _temp_name(path: Path) -> Path:
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{path.suffix}",
                                    dir=path.absolute().parent)
        os.close(fd)
        os.chmod(name, 0o666 & ~_UMASK)  # mkstemp makes 0600; a clip should read like any file
    except OSError as exc:
        raise _os_error(path, exc) from None
    return Path(name)


def _lock(fd: int) -> bool:
    """An advisory lock on an open temporary: the OS drops it when the process dies."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


STALE_SECONDS = 60.0  # a temporary this old that nobody holds was left by a killed process


def _is_partial(name: str) -> bool:
    return name.startswith(".") and (name.endswith(".partial") or ".partial." in name)


def remove_stale_partials(folder: str | Path) -> list[Path]:
    """Remove the hidden temporaries of clips (``.NAME.XXXX.partial[.mp4|.mov]``) in ``folder``
    that no live writer holds and that are over a minute old: what killed renders left. An
    offline render is run again, so its partial is removed rather than kept."""
    if fcntl is None:
        return []
    folder = Path(folder)
    removed = []
    try:
        names = [e for e in os.scandir(folder) if _is_partial(e.name)]
    except OSError:
        return []
    for entry in names:
        try:
            if entry.is_symlink() or time.time() - entry.stat().st_mtime < STALE_SECONDS:
                continue
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            if not _lock(fd):
                continue  # a writer is still at work on it
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
        finally:
            os.close(fd)
    for path in removed:
        log.warning("removed %s, left by a render that was killed", path)
    return removed


def _has_fragment(path: Path) -> bool:
    """Whether a fragmented MP4/MOV holds at least one whole fragment (a ``moof`` box and the
    ``mdat`` after it, complete): walks the top-level box headers only."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            at, moof = 0, False
            while at + 8 <= size:
                f.seek(at)
                head = f.read(16)
                length, kind = int.from_bytes(head[:4], "big"), head[4:8]
                if length == 1 and len(head) == 16:
                    length = int.from_bytes(head[8:16], "big")
                if length < 8 or at + length > size:
                    return False
                if kind == b"mdat" and moof:
                    return True
                moof = kind == b"moof"
                at += length
    except OSError:
        return False
    return False


def _open_in_place(path: Path) -> int:
    """The fd of a take's file, written under its visible name: created, or the empty file its
    name was claimed with; a symlink or a file with anything in it is refused, never written."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        raise _os_error(path, exc) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size:
        os.close(fd)
        raise CPPNError(f"cannot write {path}: it already holds something")
    return fd


def _os_error(path: Path, exc: BaseException) -> CPPNError:
    reason = getattr(exc, "strerror", None) or str(exc)
    return CPPNError(f"cannot write {path}: {reason}")


class PyAVWriter(Writer):
    """H.264 and ProRes in-process through PyAV."""

    can_skip = True  # MP4 and MOV store each frame's duration

    def __init__(self, path: Path, codec: Codec, size: tuple[int, int], fps: float,
                 audio: Path | None = None, audio_codec: str | None = None,
                 gop: int | None = None, grow: bool = False) -> None:
        super().__init__(path, codec, size, fps, audio, audio_codec, gop, grow)
        try:
            import av
        except ImportError:
            raise CPPNError(
                f"{codec.title} needs PyAV: pip install 'realtime-cppn[video]'"
            ) from None
        self._av = av
        self._converted: tuple[np.ndarray, object] | None = None  # (source, encoder's frame)
        self._packet: tuple | None = None  # (source, bytes, time base, key): see _keep_packet
        # A file object of ours, not a path: FFmpeg's own file I/O fails once the folder is
        # deleted, while writes to our open file go on (``_place`` brings the file back).
        # Unbuffered: FFmpeg buffers already, and a Python buffer would fail again on close.
        if grow:
            self._tmp = path
            self._file = open(_open_in_place(path), "r+b", buffering=0)  # noqa: SIM115
        else:
            self._tmp = _temp_name(path)
            self._file = open(self._tmp, "w+b", buffering=0)  # noqa: SIM115 (closed in _close)
        self._hold()
        options = {k: v for k, v in codec.options.items() if k != "movflags"}
        container_options = dict(FRAGMENTED) if grow else \
            {"movflags": codec.options["movflags"]} if "movflags" in codec.options else {}
        try:
            self._container = av.open(self._file, "w", format=path.suffix[1:],
                                      options=container_options)
            stream = self._container.add_stream(codec.encoder, rate=self.rate, options=options)
            stream.width, stream.height = size
            stream.pix_fmt = codec.pix_fmt
            stream.time_base = 1 / self.rate
            cc = stream.codec_context
            if codec.encoder == "libx264":
                # A keyframe at least every second and no B-frames: a VJ player scrubs, plays
                # backwards and launches the clip at any point without decoding far around it.
                cc.gop_size = self.gop
                cc.max_b_frames = 0
            # Tag what the conversion below does, so players decode the colours we meant.
            cc.color_primaries = cc.color_trc = cc.colorspace = _BT709
            cc.color_range = _RANGE_MPEG
            self._stream = stream
            self._audio = None if audio is None else _AudioTrack(
                av, self._container, audio, AUDIO_CODECS[self.audio_codec])
        except (OSError, av.FFmpegError) as exc:
            self._container_close()
            self._drop()
            raise _os_error(path, exc) from None
        except BaseException:
            self._container_close()
            self._drop()
            raise

    def _container_close(self) -> None:
        try:
            self._container.close()
        except Exception:  # never opened, or broken: nothing to keep
            pass
        self._file.close()

    def _convert(self, frame: np.ndarray):
        """The encoder's frame for ``frame``, converted once however often it is repeated."""
        if self._converted is not None and self._converted[0] is frame:
            return self._converted[1]
        av = self._av
        src = frame
        fmt = "rgba" if frame.shape[2] == 4 else "rgb24"
        if self.codec.alpha and fmt == "rgb24":
            frame = np.concatenate([frame, np.full_like(frame[..., :1], 255)], axis=-1)
            fmt = "rgba"
        vf = av.VideoFrame.from_ndarray(frame, format=fmt)
        vf = vf.reformat(format=self.codec.pix_fmt, dst_colorspace="itu709",
                         dst_color_range="MPEG")
        # On the frame too: ProRes writes each frame's own tags into its frame header.
        vf.color_primaries = vf.color_trc = vf.colorspace = _BT709
        vf.color_range = _RANGE_MPEG
        self._converted = (src, vf)
        return vf

    def _write(self, frame: np.ndarray, text: str | None) -> None:
        av = self._av
        try:
            if self._packet is not None and self._packet[0] is frame:
                self._container.mux(self._repeat_packet())
            else:
                vf = self._convert(frame)
                vf.pts = self.position  # frame n at n / fps exactly: the time base is 1 / fps
                packets = self._stream.encode(vf)
                self._keep_packet(frame, packets)
                self._container.mux(packets)
            if self._audio is not None:  # interleaved: the audio up to the end of this frame
                self._audio.feed(self.audio_samples(self.frames + 1))
        except (OSError, av.FFmpegError) as exc:
            raise _os_error(self.path, exc) from None

    def _keep_packet(self, frame: np.ndarray, packets: list) -> None:
        """An intra-only codec's packet for ``frame``, kept (before muxing rebases it) so a
        repeat of the picture is muxed again instead of encoded again (ProRes: the cost of a
        whole frame each time)."""
        self._packet = None
        if self.codec.encoder != "libx264" and len(packets) == 1 and \
                packets[0].pts == self.position:
            pkt = packets[0]
            self._packet = (frame, bytes(pkt), pkt.time_base, pkt.is_keyframe)

    def _repeat_packet(self):
        _, data, time_base, key = self._packet
        pkt = self._av.Packet(data)
        pkt.stream = self._stream
        pkt.time_base = time_base
        pkt.pts = pkt.dts = self.position
        pkt.duration = 1
        pkt.is_keyframe = key
        return pkt

    def _close(self) -> None:
        av = self._av
        try:
            self._container.mux(self._stream.encode(None))
            if self._audio is not None:  # exactly as long as the frames written
                self._audio.finish(self.audio_samples(self.frames))
            self._container.close()
            self._file.close()
            self._place()
        except (OSError, av.FFmpegError) as exc:
            self._file.close()
            self._drop()
            raise _os_error(self.path, exc) from None

    def _abort(self) -> None:
        if self._audio is not None:
            self._audio.close()
        try:
            self._container.close()
        except Exception:  # closing a broken container may fail again; the file goes anyway
            pass
        self._file.close()
        self._drop()


class FFmpegWriter(Writer):
    """HAP: raw RGBA frames piped to imageio-ffmpeg's ffmpeg binary."""

    def __init__(self, path: Path, codec: Codec, size: tuple[int, int], fps: float,
                 audio: Path | None = None, audio_codec: str | None = None,
                 gop: int | None = None, grow: bool = False) -> None:
        super().__init__(path, codec, size, fps, audio, audio_codec, gop, grow)
        exe = ffmpeg_with_hap()
        out_fd = None
        if grow:  # ffmpeg writes to our open file (fragmented): no name of its own to follow
            self._tmp = path
            out_fd = _open_in_place(path)
            output = ["-f", "mov", *sum((["-" + k, v] for k, v in FRAGMENTED.items()), []),
                      f"pipe:{out_fd}"]
        else:
            self._tmp = _temp_name(path)
            output = ["-f", "mov", str(self._tmp)]
        self._hold()
        w, h = size
        cmd = [
            exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{w}x{h}",
            "-framerate", f"{self.rate.numerator}/{self.rate.denominator}", "-i", "pipe:0",
            "-c:v", codec.encoder, *sum((["-" + k, v] for k, v in codec.options.items()), []),
            *output,
        ]
        self._err = tempfile.TemporaryFile()
        try:
            # A session of its own: Ctrl-C in the terminal reaches us, not ffmpeg, so we decide
            # when the container is finished.
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=self._err, start_new_session=True,
                                          pass_fds=() if out_fd is None else (out_fd,))
        except OSError as exc:
            self._drop()
            raise CPPNError(f"cannot start ffmpeg for {codec.title}: {exc}") from None
        finally:
            if out_fd is not None:
                os.close(out_fd)

    def _write(self, frame: np.ndarray, text: str | None) -> None:
        if frame.shape[2] == 3:
            frame = np.concatenate([frame, np.full_like(frame[..., :1], 255)], axis=-1)
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).tobytes())
        except (BrokenPipeError, OSError):
            raise CPPNError(f"ffmpeg stopped writing {self.path}: {self._stderr()}") from None

    def _stderr(self) -> str:
        self._proc.poll()
        self._err.seek(0)
        lines = self._err.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit status {self._proc.returncode}"

    def _close(self) -> None:
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        rc = self._proc.wait()
        if rc != 0:
            self._drop()
            raise CPPNError(f"ffmpeg could not write {self.path}: {self._stderr()}")
        try:
            if self.audio is not None:
                self._mux_audio()
            self._place()
        except OSError as exc:
            self._drop()
            raise _os_error(self.path, exc) from None

    def _mux_audio(self) -> None:
        """A second ffmpeg pass: the finished HAP frames copied as they are beside the audio,
        padded with silence or cut to exactly the frames' length (whole_len / end_sample are
        sample-exact; -shortest is off by up to ~0.1 s)."""
        samples = self.audio_samples(self.frames)
        muxed = _temp_name(self.path)
        cmd = [
            ffmpeg_with_hap(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-i", str(self._tmp), "-i", str(self.audio), "-map", "0:v:0", "-map", "1:a:0",
            "-c:v", "copy", "-c:a", AUDIO_CODECS[self.audio_codec], "-ar", str(AUDIO_RATE),
            "-af", f"aresample={AUDIO_RATE},apad=whole_len={samples},atrim=end_sample={samples}",
            "-f", "mov", str(muxed),
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, start_new_session=True)
        except OSError as exc:
            done = None
            reason = str(exc)
        if done is None or done.returncode != 0:
            muxed.unlink(missing_ok=True)
            self._tmp.unlink(missing_ok=True)
            if done is not None:
                lines = done.stderr.strip().splitlines()
                reason = lines[-1] if lines else f"exit status {done.returncode}"
            raise CPPNError(f"ffmpeg could not add the audio to {self.path}: {reason}")
        os.replace(muxed, self._tmp)

    def _abort(self) -> None:
        if self.grow:  # a take: ffmpeg finishes the fragments it has, then the file is kept
            with suppress(OSError):
                self._proc.stdin.close()
        else:
            self._proc.kill()
        self._proc.wait()
        self._drop()


class PngSequenceWriter(Writer):
    """frame_000000.png, ... in a folder; the folder replaces the old one only when closed. A
    live take (``grow``) makes its new folder at once and each frame appears in it whole (a
    hidden name, then a rename), so a killed take is the frames it wrote."""

    def __init__(self, path: Path, codec: Codec, size: tuple[int, int], fps: float,
                 audio: Path | None = None, audio_codec: str | None = None,
                 gop: int | None = None, grow: bool = False) -> None:
        super().__init__(path, codec, size, fps, None, None, gop, grow)
        try:
            if grow:
                os.mkdir(path, 0o777)  # exclusive: an existing folder or a link is refused
                self._tmp = path
            else:
                self._tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial",
                                                  dir=path.absolute().parent))
                os.chmod(self._tmp, 0o777 & ~_UMASK)
        except OSError as exc:
            raise _os_error(path, exc) from None
        self._hold()

    def _write(self, frame: np.ndarray, text: str | None) -> None:
        from PIL import Image, PngImagePlugin

        from ..core.scene import PNG_KEY

        info = PngImagePlugin.PngInfo()
        if text is not None:
            info.add_text(PNG_KEY, text)
        mode = "RGBA" if frame.shape[2] == 4 else "RGB"
        name = self._tmp / FRAME_PATTERN.format(self.frames)
        part = name.with_name(f".{name.name}.part") if self.grow else name
        try:
            # compress_level 1: PNG sequences are intermediates; speed matters more than size.
            Image.fromarray(frame, mode).save(part, format="PNG", compress_level=1, pnginfo=info)
            if part != name:
                os.replace(part, name)
        except OSError as exc:
            # A frame cut short (disk full) must not end a sequence that is kept as playable.
            part.unlink(missing_ok=True)
            raise _os_error(self.path, exc) from None

    def _close(self) -> None:
        if self.grow:
            return  # already in place, frame by frame
        old = None
        try:
            if self.path.exists():
                old = self.path.with_name(f".{self.path.name}.old-{os.getpid()}")
                os.replace(self.path, old)
            os.replace(self._tmp, self.path)
        except OSError as exc:
            if old is not None and not self.path.exists():
                os.replace(old, self.path)
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise _os_error(self.path, exc) from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _abort(self) -> None:
        if not self.grow or self.frames == 0:  # a take keeps the whole frames it has
            shutil.rmtree(self._tmp, ignore_errors=True)


_WRITERS = {"pyav": PyAVWriter, "ffmpeg": FFmpegWriter, "png": PngSequenceWriter}


def open_writer(path: str | Path, codec: str | Codec, size: tuple[int, int],
                fps: float, audio: str | Path | None = None,
                audio_codec: str | None = None, gop: int | None = None,
                grow: bool = False) -> Writer:
    """A writer for ``codec`` (a name or Codec) at ``path``; checks size and path first.
    ``audio``: a file muxed beside the frames (``audio_codec`` "aac" or "pcm"; default by
    container). ``gop``: H.264 keyframe interval in frames (default one second). ``grow``: a
    live take, written under its visible name as it grows (a fragmented file, new or the empty
    file its name was claimed with; a PNG sequence: a new folder)."""
    codec = codec if isinstance(codec, Codec) else get_codec(codec)
    path = check_output(codec, path)
    size = check_size(codec, size)
    keyframe_interval(_rate(fps), gop)
    remove_stale_partials(path.absolute().parent)
    if audio is not None:
        audio_codec_for(codec, audio_codec)
        if not Path(audio).is_file():
            raise CPPNError(f"no such audio file: {audio}")
        audio = Path(audio)
    return _WRITERS[codec.route](path, codec, size, fps, audio, audio_codec, gop, grow)


# --- threaded encoder ------------------------------------------------------------------------


_STOP = object()


class ThreadedWriter:
    """Encodes on a worker thread through a bounded queue, so the caller never waits on the codec.

    ``block=False`` (live recording): a frame that finds the queue full is dropped and counted,
    the render loop keeps its pace. ``block=True`` (offline): the caller waits, nothing drops.
    An encoder error stops the worker; the next ``submit`` or ``close`` raises it. With
    ``keep_partial`` (a live take, which cannot be played again) the file is first finished with
    the frames written before the error, and dropped only if even that fails (``kept`` says).
    """

    def __init__(self, writer: Writer, maxsize: int = 8, block: bool = False,
                 keep_partial: bool = False) -> None:
        self.writer = writer
        self.block = block
        self.keep_partial = keep_partial
        self.kept: Path | None = None  # the partial file finished after an encoder error
        self.submitted = 0
        self.dropped = 0
        self.gaps = False  # a live take: copies left to timestamps while behind (see _fill)
        self._closing = False
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cppn-encoder", daemon=True)
        self._thread.start()

    @property
    def written(self) -> int:
        return self.writer.frames

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is None:
                frame, text, repeat, hold = item
                try:
                    self._fill(None, None, hold)
                    if repeat:
                        self._fill(frame, text, repeat)
                except BaseException as exc:  # kept and re-raised on the caller's thread
                    self._error = exc

    def _behind(self) -> bool:
        return self._closing or self._queue.qsize() >= max(1, self._queue.maxsize // 2)

    def _fill(self, frame: np.ndarray | None, text: str | None, n: int) -> None:
        """``n`` places of the time grid with ``frame`` (None: the latest one again): a copy
        each, or, with ``gaps`` while the encoder is behind, its first and last copy only, the
        first lasting over the places between (no backlog of copies to encode at the end)."""
        w = self.writer
        first = frame is not None
        while n > 0:
            if self.gaps and w.can_skip and not first and n > 1 and self._behind():
                w.skip(n - 1)
                n = 1
            if frame is None:
                w.repeat_last(1)
            else:
                w.write(frame, text)
            n -= 1
            first = False

    def _raise(self) -> None:
        """Re-raise an encoder error here, after dropping the unfinished file."""
        if self._error is not None:
            if self.keep_partial:
                self._salvage()
            else:
                self.abort()
            raise self._error

    def _salvage(self) -> None:
        self._stop_worker()
        w = self.writer
        if w.closed:
            return
        try:
            self.kept = w.close()  # the container finished: playable up to the fault
        except Exception:  # the disk is full or the encoder is gone: nothing can be kept
            w._abort()
            if w.grow and w.frames and w.path.exists():
                self.kept = w.path  # a take's fragments before the fault still play

    def submit(self, frame: np.ndarray, text: str | None = None, repeat: int = 1,
               hold: int = 0) -> bool:
        """Queue a frame (and its ``text``, see ``Writer.write``) to be written ``repeat``
        times, after the previous frame ``hold`` more times; False when it was dropped
        because the encoder is behind."""
        item = (frame, text, repeat, hold)
        self._raise()
        try:
            if self.block:
                # Short waits, so Ctrl-C is seen even while the encoder is behind.
                while True:
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        self._raise()
            else:
                self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            return False
        self.submitted += 1
        return True

    def close(self, keep_empty: bool = True) -> Path | None:
        """Encode what is queued, finish the file and return its path; with ``keep_empty``
        False a clip that holds no frame is dropped instead (None)."""
        self._closing = True
        if self._thread.is_alive():
            self._queue.put(_STOP)
            while self._thread.is_alive():  # short joins: Ctrl-C stays responsive
                self._thread.join(timeout=0.1)
        self._raise()
        if not keep_empty and self.writer.frames == 0:
            self.writer.abort()
            return None
        return self.writer.close()

    def __enter__(self) -> ThreadedWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._error is not None:
            self.abort()
        else:
            self.close()  # like Writer: what was recorded is kept, playable

    def abort(self) -> None:
        """Stop at once and drop the unfinished file (the previous one at its path stays)."""
        self._stop_worker()
        self.writer.abort()

    def _stop_worker(self) -> None:
        while True:  # empty the queue so the worker sees the stop at once
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()


# --- live recording -------------------------------------------------------------------------


class LiveRecorder:
    """Records the live output at a constant frame rate without stalling the render loop.

    Call ``frame(tex, t)`` once per shown frame from the GL thread with the frame texture
    (before any overlay is drawn on the window, so REC and help never reach the file) and the
    show clock's time of that frame. The file has one frame every 1 / ``fps`` of show time
    (as OBS and Resolume record): output frame n shows the latest frame drawn at or before
    ``t0 + n / fps``, so a window drawing 10 fps into a 30 fps take repeats each picture about
    3 times, and one drawing faster than the take skips pictures; the file lasts as long as the
    show time between the first frame and ``stop(end)``, within a frame. The readback of each
    frame is started asynchronously and collected on the next call, a frame later, when the
    copy is done; the pixels then go to a ThreadedWriter that drops a frame rather than wait
    (its time is filled by repeating the previous picture, so the length stays right). While
    the encoder is behind (its queue half full, or the take stopping), an H.264 or ProRes
    picture's copies are left to the timestamps instead: its first and last copy are encoded
    and the first lasts over the places between (``held``), so a slow machine never builds a
    backlog of copies that would hold the show still at the stop; the length stays right.

    A texture the codec cannot take (odd size for H.264, not a multiple of 4 for HAP) is
    cropped by at most a few pixels at the right and bottom, never scaled; ``note`` says so.
    ``renderer`` is anything with ``read_async(tex, channels)`` (``renderer.Renderer``).
    The file is written in place, fragmented (``Writer.grow``): a killed take still plays.
    """

    def __init__(self, renderer, path: str | Path, codec: str | Codec, size: tuple[int, int],
                 fps: float, maxsize: int = 8, gop: int | None = None) -> None:
        codec = codec if isinstance(codec, Codec) else get_codec(codec)
        codec = replace(codec, options={k: v for k, v in {**codec.options,
                                                          **codec.live_options}.items()
                                        if v is not None})
        self.renderer = renderer
        self.source_size = (int(size[0]), int(size[1]))
        self.size = fit_size(codec, self.source_size)
        self.note = "" if self.size == self.source_size else (
            f"{codec.title} needs {'even sizes' if codec.multiple == 2 else 'multiples of 4'}: "
            f"recording {self.size[0]}x{self.size[1]} of the {size[0]}x{size[1]} frame")
        self.channels = 4 if codec.alpha else 3
        self.writer = open_writer(path, codec, self.size, fps, gop=gop, grow=True)
        self.rate = self.writer.rate
        self.encoder = ThreadedWriter(self.writer, maxsize=maxsize, block=False,
                                      keep_partial=True)
        self.encoder.gaps = True  # the show never waits for copies of a held picture
        self._pending = None  # (readback handle, its frame's time)
        self.shown = 0  # frames handed to ``frame``: drawn
        self.skipped = 0  # drawn between two output frames (the window outran the take)
        self.distinct = 0  # pictures handed to the encoder; the rest of the output repeats them
        self.slots = 0  # output frames accounted for (queued, or owed while the queue was full)
        self._owed = 0  # output frames of dropped pictures: the previous picture fills them
        self.t0: float | None = None
        self.last_t = 0.0

    @property
    def dropped(self) -> int:
        return self.encoder.dropped

    @property
    def path(self) -> Path:
        return self.writer.path

    def slot(self, t: float) -> int:
        """The first output frame at or after show time ``t``."""
        return max(0, math.ceil((t - self.t0) * self.rate - 1e-6))

    def frame(self, tex, t: float | None = None) -> None:
        """Record the frame drawn at show time ``t`` (default: one take frame after the last)."""
        if tuple(tex.size) != self.source_size:
            raise CPPNError(
                f"recording at {self.source_size[0]}x{self.source_size[1]}, got a "
                f"{tex.size[0]}x{tex.size[1]} frame: stop and start the recording at a new size"
            )
        if t is None:
            t = 0.0 if self.t0 is None else self.last_t + 1 / self.rate
        if self.t0 is None:
            self.t0 = t
        t = max(t, self.last_t)  # a clock never goes back; a take's time does not either
        handle = self.renderer.read_async(tex, self.channels)
        try:
            self._collect(self.slot(t))
        except BaseException:
            handle.release()  # the encoder failed: its pixel buffer goes back to the pool
            raise
        self._pending = handle
        self.last_t = t
        self.shown += 1

    def _collect(self, until: int) -> None:
        """The pending picture fills the output frames up to ``until`` (none: it is skipped)."""
        if self._pending is None:
            return
        pixels, self._pending = self._pending.result(), None
        count = until - self.slots
        if count <= 0:
            self.skipped += 1
            return
        w, h = self.size
        frame = np.ascontiguousarray(pixels[:h, :w])  # top-left crop, rows top first
        if self.distinct == 0:  # no earlier picture to hold: this one fills the owed frames
            count, self._owed = count + self._owed, 0
        if self.encoder.submit(frame, repeat=count, hold=self._owed):
            self._owed = 0
            self.distinct += 1
        else:
            self._owed += count
        self.slots = until

    def stop(self, end: float | None = None) -> dict:
        """Finish the file at show time ``end`` (the first moment not recorded; default one
        take frame after the last). Returns what happened: path, frames written, drawn,
        duplicated (written more than once), skipped, dropped, and seconds of show time."""
        if self.t0 is None:
            self.t0 = self.last_t
        end = self.last_t + 1 / self.rate if end is None else max(end, self.last_t)
        self.encoder.block = True  # the last picture and what is owed are never dropped
        try:
            if self._pending is not None:
                self._collect(max(self.slot(end), self.slots + (self.distinct == 0)))
            if self._owed and self.distinct:
                self.encoder.submit(None, hold=self._owed, repeat=0)
                self._owed = 0
        finally:
            path = self.encoder.close()
        written = self.writer.frames
        return {"path": str(path), "frames": written, "drawn": self.shown, "shown": self.shown,
                "duplicated": max(0, written - self.distinct), "skipped": self.skipped,
                "dropped": self.dropped, "held": self.writer.skipped,
                "seconds": end - self.t0}

    def abort(self) -> None:
        if self._pending is not None:
            self._pending.release()
            self._pending = None
        self.encoder.abort()


# --- progress --------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar with rate and ETA, redrawn at most ~10 times a second.
    ``unit`` names what is counted ("frames": the rate reads fps; "steps": steps/s)."""

    def __init__(self, total: int, stream, width: int = 30, interval: float = 0.1,
                 unit: str = "frames") -> None:
        self.total = max(int(total), 1)
        self.unit = unit
        self.stream = stream
        self.width = width
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        # Not a terminal (a log file): a plain line every few seconds instead of redraws.
        self.interval = interval if self.tty else 5.0
        self.start = time.perf_counter()
        self._last = -1e9
        self._width = 0  # characters of the line on screen: a shorter one must cover them
        self.done = 0

    def update(self, done: int) -> None:
        self.done = done
        now = time.perf_counter()
        if now - self._last < self.interval and done < self.total:
            return
        self._last = now
        text = self.line(now)
        if self.tty:
            text, self._width = "\r" + text.ljust(self._width), max(self._width, len(text))
        else:
            text += "\n"
        self.stream.write(text)
        self.stream.flush()

    def line(self, now: float | None = None) -> str:
        now = time.perf_counter() if now is None else now
        elapsed = now - self.start
        frac = self.done / self.total
        fill = int(round(self.width * frac))
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        per_s = "fps" if self.unit == "frames" else f"{self.unit}/s"
        return (f"[{'#' * fill}{'.' * (self.width - fill)}] {self.done}/{self.total} {self.unit} "
                f"{rate:5.1f} {per_s}  ETA {_clock(eta)}")

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "--:--"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
