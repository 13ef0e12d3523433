"""The offline render loop: a clip drawn frame by frame into a writer, nothing dropped.

``render``, ``replay`` and the grid clip are thin callers: each gives a frame source
(``draw(n)`` -> frame n as a texture or uint8 (H, W, C) pixels, and the text stored with it)
and a way to open the writer. The loop owns the rest: the pipelined readback (the GPU draws
frame n while frame n-1 is copied out through ``read``, e.g. ``Renderer.read_async``), the
encoder thread, the progress bar, stop signals and abort. The first SIGINT, SIGTERM or SIGHUP
finishes the clip with the frames drawn and says what it holds (a clip with none is dropped);
later ones are ignored, so the file plays or is not there, never half written. Any other error
drops the unfinished file: an offline render is simply run again, an earlier file stays whole.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .encoder import ThreadedWriter
from .progress import Progress
from .writers import Interrupts, Writer

# Frame n drawn: a texture for ``read`` to copy out, or its pixels; and its text (or None).
Draw = Callable[[int], "tuple[Any, str | None]"]
Read = Callable[[Any], Any]  # a texture -> a pending readback with result() and release()


class _Ready:
    """Pixels already on the host, behind the interface of a pending readback."""

    def __init__(self, pixels: np.ndarray) -> None:
        self._pixels = pixels

    def result(self) -> np.ndarray:
        return self._pixels

    def release(self) -> None:
        pass


def draw_all(total: int, draw: Draw, read: Read | None,
             submit: Callable[[np.ndarray, str | None], object] | None,
             on_frame: Callable[[int], object] | None = None) -> None:
    """Draw frames 0..total-1 and hand each, with its text, to ``submit`` in order.

    A texture's readback is started at once and collected after the next frame is drawn, so
    the two overlap. ``submit=None`` draws only (benchmarks). ``on_frame(done)`` is told how
    many frames were handed on (0 after the first is drawn, ``total`` at the end).
    """
    pending = None  # (readback, text) of the frame before
    try:
        for n in range(total):
            picture, text = draw(n)
            if submit is None:
                continue
            handle = _Ready(picture) if isinstance(picture, np.ndarray) else read(picture)
            if pending is not None:
                (last, last_text), pending = pending, None
                submit(last.result(), last_text)
            pending = (handle, text)
            if on_frame is not None:
                on_frame(n)
        if pending is not None:
            (last, last_text), pending = pending, None
            submit(last.result(), last_text)
        if on_frame is not None:
            on_frame(total)
    finally:
        if pending is not None:
            pending[0].release()  # an interrupted loop hands its buffer back to the pool


def write_clip(open_writer: Callable[[], Writer], total: int, draw: Draw, read: Read | None,
               *, output: Path, fps: float | None, prog: str, progress: bool = True,
               wrote: Callable[[Writer, float], str]) -> int:
    """Open the writer, draw ``total`` frames into it and return the exit status.

    Frames larger than the writer's size are cropped at the right and bottom (never scaled).
    On success ``wrote(writer, seconds it took)`` is printed; after a stop signal what the clip
    holds is said on stderr and the status is 128 + the signal (130 for Ctrl-C).
    """
    with Interrupts() as stop:
        try:
            writer = open_writer()
        except KeyboardInterrupt:
            return interrupted(stop, None, output, total, fps, prog)
        return _write(stop, writer, total, draw, read, output, fps, prog, progress, wrote)


def _write(stop: Interrupts, writer: Writer, total: int, draw: Draw, read: Read | None,
           output: Path, fps: float | None, prog: str, show_progress: bool,
           wrote: Callable[[Writer, float], str]) -> int:
    encoder = ThreadedWriter(writer, maxsize=4, block=True)  # offline: the loop waits, no drops
    bar = Progress(total, sys.stderr) if show_progress else None
    w, h = writer.size

    def submit(frame: np.ndarray, text: str | None) -> None:
        if frame.shape[:2] != (h, w):  # a canvas the codec cannot take whole (the grid)
            frame = np.ascontiguousarray(frame[:h, :w])
        encoder.submit(frame, text)

    t0 = time.perf_counter()
    try:
        draw_all(total, draw, read, submit, None if bar is None else bar.update)
        if bar is not None:
            bar.finish()
        encoder.close()
    except KeyboardInterrupt:
        if bar is not None:
            bar.finish()
        return interrupted(stop, encoder, output, total, fps, prog)
    except BaseException:
        if bar is not None:
            bar.finish()
        encoder.abort()
        raise
    print(wrote(writer, time.perf_counter() - t0))
    return 0


def interrupted(stop: Interrupts, encoder: ThreadedWriter | None, output: Path, total: int,
                fps: float | None, prog: str) -> int:
    """After the first stop signal: finish the clip with the frames rendered (a clip with none
    is dropped, and an earlier file at ``output`` stays), say what it holds, and return the
    exit status (130 for Ctrl-C, 143 SIGTERM, 129 SIGHUP). Later signals are ignored."""
    kept = None if encoder is None else encoder.close(keep_empty=False)
    why = f"interrupted ({stop.name})"
    if kept is None:
        print(f"{prog}: {why} before the first frame was written: {output} was not written",
              file=sys.stderr)
    else:
        done = encoder.written
        secs = f" ({done / fps:.2f} s)" if fps else ""
        print(f"{prog}: {why}: {output} holds the first {done} of {total} frames{secs} and "
              "plays", file=sys.stderr)
    return stop.status
