"""The live take: the show's frames recorded at a constant frame rate, never stalling the render loop."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..core.errors import CPPNError
from .codecs import Codec, fit_size, get_codec
from .encoder import ThreadedWriter
from .writers import open_writer


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
