"""Video and PNG-sequence writers behind one interface (``open_writer``), with an audio track.

An offline clip is written to a hidden temporary name next to the target and moved into place
only when closed, so a failed or refused render never damages a file that was already there; a
temporary left by a killed process (no one holds its lock) is removed by the next writer in that
folder. A live take (``grow=True``) is written under its own, freshly claimed name from its first
frame as a fragmented MP4/MOV, so a take whose process is killed is still a playable file of all
but its last seconds. The codec table and its routes are in ``codecs``.
Plain Python + numpy; PyAV is imported only when a PyAV codec is used.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..core.errors import CPPNError
from .codecs import (
    AUDIO_CODECS,
    AUDIO_RATE,
    BT709,
    FRAGMENTED,
    FRAME_PATTERN,
    RANGE_MPEG,
    SYNC_SECONDS,
    Codec,
    audio_codec_for,
    check_output,
    check_size,
    ffmpeg_with_hap,
    frame_rate,
    get_codec,
    keyframe_interval,
)

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so stale temporaries are left alone
    fcntl = None

log = logging.getLogger(__name__)


_AUDIO_CHUNK = 4096  # samples per encoded frame handed to PyAV (it re-chunks for AAC)


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
        self.rate = frame_rate(fps)
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
            cc.color_primaries = cc.color_trc = cc.colorspace = BT709
            cc.color_range = RANGE_MPEG
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
        vf.color_primaries = vf.color_trc = vf.colorspace = BT709
        vf.color_range = RANGE_MPEG
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
    keyframe_interval(frame_rate(fps), gop)
    remove_stale_partials(path.absolute().parent)
    if audio is not None:
        audio_codec_for(codec, audio_codec)
        if not Path(audio).is_file():
            raise CPPNError(f"no such audio file: {audio}")
        audio = Path(audio)
    return _WRITERS[codec.route](path, codec, size, fps, audio, audio_codec, gop, grow)
