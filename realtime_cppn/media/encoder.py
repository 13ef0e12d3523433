"""The threaded encoder: a writer fed through a bounded queue, so the caller never waits on the codec."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np

from .writers import Writer

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
