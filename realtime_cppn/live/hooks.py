"""What a live show feeds besides the screen: the recording (a take and its performance log) and
video out, each a frame hook plus, for the recording, a listener on every applied action.

Each frame's picture, before any overlay, is scaled into a fixed-size 8-bit target (``Capture``)
and read back asynchronously; the take encodes on its own thread (frames it cannot take are
dropped and counted). The hooks see the show only through ``Show``: its renderer, clock, state and
hook lists.
"""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..core import safeio
from ..core.errors import CPPNError
from ..media import codecs, perflog, take, writers
from ..show import actions
from ..show.actions import Action, AppState
from ..show.clock import FixedClock

RECORD_FPS = 60.0  # the video's nominal rate on a wall clock (a fixed clock gives its own)
# What the encoder may fall behind by before frames drop. Drops come in bursts (a compile, the
# GL thread holding the GIL through a long draw), so depth matters: at 320x180, 60 fps on this
# 2-core llvmpipe machine a queue of 8 frames dropped 21-33 of 300, one of 32 dropped 0-2.
RECORD_QUEUE_BYTES = 256 << 20
RECORD_QUEUE = (8, 64)  # frames, at least and at most


class Show(Protocol):
    """What the hooks use of a live show (``live.Live`` is one)."""

    renderer: object
    clock: object
    state: AppState
    fb_size: tuple[int, int]
    frame_hooks: list
    listeners: list

    def recording_failed(self, exc: Exception) -> None: ...


@dataclass(frozen=True)
class RecordSettings:
    folder: Path = Path(".")
    codec: str = "h264"
    fps: float | None = None  # None: the fixed clock's rate, else RECORD_FPS
    wait: bool = False  # wait for the encoder instead of dropping frames (headless shows, tests)
    queue: int | None = None  # frames the encoder may fall behind by; None: RECORD_QUEUE_BYTES
    gop: int | None = None  # H.264 keyframe interval in frames; None: one second


class Capture:
    """The program picture scaled into a fixed-size 8-bit target: what recordings and video out
    read, whatever the window or render scale does meanwhile (one blit, linear filtering)."""

    def __init__(self, renderer, size: tuple[int, int]) -> None:
        self.renderer = renderer
        self.size = (int(size[0]), int(size[1]))
        self.texture, self.fbo = renderer.capture_target(self.size)

    def grab(self, tex):
        self.renderer.present(tex, self.fbo, (0, 0, *self.size))
        return self.texture

    def release(self) -> None:
        self.renderer.release_capture(self.texture, self.fbo)


class Recording:
    """One take: video through ``take.LiveRecorder`` (a frame hook) and the performance log
    (a listener). Times in the log are seconds since the take's first frame. The video is at
    the take's constant rate and as long as the show time between start and stop, whatever
    the window's frame rate (LiveRecorder repeats or skips pictures on the show clock)."""

    def __init__(self, live: Show, settings: RecordSettings) -> None:
        self.live = live
        self.settings = settings
        self.codec = codecs.get_codec(settings.codec)
        clock = live.clock
        self.fps = codecs.exact_fps(settings.fps or (
            clock.fps if isinstance(clock, FixedClock) else RECORD_FPS))
        codecs.keyframe_interval(codecs.frame_rate(self.fps), settings.gop)  # fails now, not later
        self.video, self.log_path = self._claim(Path(settings.folder))
        try:
            codecs.check_output(self.codec, self.video)
        except CPPNError:
            self._unclaim()
            raise
        state = live.state
        self.start = state.time
        self.log = perflog.Writer(
            self.log_path, state.scene, state=actions.state_header(state, self.start),
            video=self.video.name, codec=self.codec.name, fps=self.fps, start_time=self.start,
            # the window's size when known (a take started by --action begins before frame 1)
            **({"size": list(live.fb_size)} if min(live.fb_size) > 0 else {}))
        self.rec: take.LiveRecorder | None = None  # opened at the first frame (its size)
        self.capture: Capture | None = None
        self.last_t = self.start
        self.dt = 0.0
        self._signals = self._catch_signals()
        live.listeners.append(self.on_action)
        live.frame_hooks.append(self.on_frame)

    def _claim(self, folder: Path) -> tuple[Path, Path]:
        """The first number free for both the video and the log, both created empty with
        O_EXCL: a take never overwrites an earlier one, and a dangling link is never followed.
        A number whose log name is taken keeps its video claim until a free one is found."""
        held = []
        try:
            while True:
                video = safeio.claim_numbered(folder, "cppn-rec", self.codec.suffix)
                log_path = video.with_name(video.stem + ".jsonl")
                try:
                    os.close(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                     | getattr(os, "O_NOFOLLOW", 0), 0o644))
                except FileExistsError:
                    held.append(video)
                    continue
                except OSError as exc:
                    video.unlink(missing_ok=True)
                    raise CPPNError(f"cannot write {log_path}: {exc.strerror or exc}") from None
                break
        finally:
            for path in held:
                path.unlink(missing_ok=True)
        if not self.codec.suffix:  # a PNG sequence: its folder is renamed into place at the end
            video.unlink()
        return video, log_path

    def _unclaim(self) -> None:
        for path in (self.video, self.log_path):
            with suppress(OSError):
                if path.is_file() and path.stat().st_size == 0:
                    path.unlink()

    def _catch_signals(self) -> dict:
        """While the take runs, SIGTERM and SIGHUP end the show as Ctrl-C does, so the take
        and its log are finished rather than cut."""
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return {}
        old = {}
        for name in ("SIGTERM", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is not None and signal.getsignal(sig) in (signal.SIG_DFL, None):
                old[sig] = signal.signal(sig, self._interrupt)
        return old

    @staticmethod
    def _interrupt(signum: int, frame) -> None:
        raise KeyboardInterrupt

    def _restore_signals(self) -> None:
        import signal

        for sig, handler in self._signals.items():
            with suppress(ValueError):
                signal.signal(sig, handler)
        self._signals = {}

    @property
    def frames(self) -> int:
        return 0 if self.rec is None else self.rec.shown

    @property
    def dropped(self) -> int:
        return 0 if self.rec is None else self.rec.dropped

    def seconds(self, now: float) -> float:
        return max(now - self.start, 0.0)

    def on_action(self, t: float, action: Action, state: AppState) -> None:
        if action.name != "record":  # the take's start is the header, its end the last line
            self.log.write(max(t - self.start, 0.0), action)

    def on_frame(self, tex, state: AppState) -> None:
        try:
            if self.rec is None:
                # The take keeps the window's size at its start (a later resize or render scale
                # is scaled into it); a size the codec refuses loses a pixel or two at the right
                # and bottom (LiveRecorder crops, never scales) and says so.
                size = self.live.fb_size
                self.capture = Capture(self.live.renderer, size)
                queue = self.settings.queue or min(max(
                    RECORD_QUEUE_BYTES // (3 * size[0] * size[1]), RECORD_QUEUE[0]),
                    RECORD_QUEUE[1])
                self.rec = take.LiveRecorder(self.live.renderer, self.video, self.codec,
                                                 size, self.fps, maxsize=queue,
                                                 gop=self.settings.gop)
                self.rec.encoder.block = self.settings.wait
                self.rec.encoder.gaps = not self.settings.wait  # waiting: every copy encoded
                if self.rec.note:
                    print(f"recording: {self.rec.note}", flush=True)
            else:
                self.dt = state.time - self.last_t
            self.last_t = state.time
            self.rec.frame(self.capture.grab(tex), state.time)
        except Exception as exc:  # the encoder or the disk, whatever it raised: the show goes on
            self.live.recording_failed(exc)

    def stop(self, end: float | None = None) -> dict:
        """Finish the video and the log. ``end``: clock time of the first frame not recorded
        (default: one frame after the last)."""
        live = self.live
        if self.on_action in live.listeners:
            live.listeners.remove(self.on_action)
        if self.on_frame in live.frame_hooks:
            live.frame_hooks.remove(self.on_frame)
        end = self.last_t + self.dt if end is None else end
        self._restore_signals()
        summary = {"path": str(self.video), "frames": 0, "dropped": 0, "shown": 0, "drawn": 0,
                   "duplicated": 0, "skipped": 0, "seconds": 0.0}
        try:
            with writers.signals_deferred():  # a second Ctrl-C waits for the file to finish
                if self.rec is not None:
                    summary = self.rec.stop(end)
                else:
                    self._unclaim()
        finally:
            if self.rec is not None and self.rec.encoder.kept is not None:
                summary["frames"] = self.rec.writer.frames  # finished up to a late fault
            self.log.write(self.seconds(end), "record",
                           {"value": False, "frames": summary["frames"],
                            "dropped": summary["dropped"]})
            self.log.close()
            if self.capture is not None:
                self.capture.release()
        summary["log"] = str(self.log_path)
        return summary

    def abort(self, why: str = "") -> Path | None:
        """Stop after a failure: the video as far as it could be finished (its path, or None
        when nothing could be kept) and the log ended at the last recorded frame, so ``replay``
        renders the take up to the fault."""
        for hooks, fn in ((self.live.listeners, self.on_action),
                          (self.live.frame_hooks, self.on_frame)):
            if fn in hooks:
                hooks.remove(fn)
        self._restore_signals()
        kept = None
        frames = 0
        if self.rec is not None:
            kept = self.rec.encoder.kept
            frames = self.rec.writer.frames if kept is not None else 0
            self.rec.abort()
        with suppress(CPPNError):  # the log's disk failed too: what it holds so far stays
            self.log.write(self.seconds(self.last_t + self.dt), "record",
                           {"value": False, "frames": frames, "dropped": self.dropped,
                            "error": why[:200]})
        with suppress(CPPNError):
            self.log.close()
        if self.capture is not None:
            self.capture.release()
        return kept


class VideoOutHook:
    """The program picture to a ``videoout`` route at a fixed size, read back asynchronously
    (collected a frame later) so the show never waits for the GPU."""

    def __init__(self, live: Show, route: str, size: tuple[int, int], fps: float) -> None:
        from ..media import videoout

        self.live = live
        self.out = videoout.open_output(route, size, fps)
        self.capture = Capture(live.renderer, size)
        self._pending = None
        live.frame_hooks.append(self.on_frame)

    def on_frame(self, tex, state: AppState) -> None:
        handle = self.live.renderer.read_async(self.capture.grab(tex), 4)
        if self._pending is not None:
            pixels, self._pending = self._pending.result(), None
            self.out.send(pixels)
        self._pending = handle

    def close(self) -> None:
        if self.on_frame in self.live.frame_hooks:
            self.live.frame_hooks.remove(self.on_frame)
        if self._pending is not None:
            self._pending.release()
        self.out.close()
        self.capture.release()
