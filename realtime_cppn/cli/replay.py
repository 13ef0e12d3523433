"""``realtime-cppn replay LOG``: a recorded performance rendered again offline, frame-exact, at any
size and frame rate (a VJ plays at low resolution on a laptop and delivers 4K).

The performance log (``perflog``, written beside every live take) holds the scene and state at
the take's first frame and every action with its time since then. Replay drives the live show's
own code, ``app.Live`` (the reducer, the network cache, morphs, weight uploads, textures), on a
fixed-step clock: frame n is at n / fps exactly, and before frame n is drawn every logged action
with t <= n / fps is applied, in order, after time has advanced, as the window applied it. So at
the take's own frame rate every frame is the live frame; at another rate, actions land on the
first frame at or after their time. What belongs to the window is left out: ``record``,
``screenshot`` and ``export`` do nothing here, and the render scale is ignored (every frame is
drawn at ``--size``). The take ends at the log's closing ``record`` line (or, for a log cut
short by a crash, at its last action).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..core import cost
from ..core.errors import CPPNError
from ..media import codecs, offline, perflog, writers
from ..show import actions
from .args import PROG, _float, _size

SKIPPED = frozenset({"record", "screenshot", "export"})  # the window's effects, not the picture
EPS = 1e-6  # seconds: a logged time and a frame time this close are the same frame
DEFAULT_SIZE = (1920, 1080)
MAX_SECONDS = 24 * 3600.0  # a take longer than a day is not a take: a log that claims one is bad
MAX_FRAMES = 10_000_000  # ~46 h at 60 fps
MAX_PIXELS = 7680 * 4320  # 8K UHD per frame


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("log", type=Path, help="performance log (.jsonl) written beside a live take")
    p.add_argument("-o", "--output", type=Path, default=Path("replay.mp4"),
                   help="video file, or a folder for a PNG sequence (default replay.mp4)")
    p.add_argument("--size", type=_size,
                   help="WxH (default: the take's window size when the log has it, else 1920x1080)")
    p.add_argument("--fps", type=codecs.parse_fps,
                   help="frames per second: 30, 29.97 or 30000/1001 (default: the take's)")
    p.add_argument("--gop", type=codecs.parse_gop, metavar="N",
                   help="H.264 keyframe every N frames (default: every second; 1: all-intra)")
    p.add_argument("--codec", help=f"one of {', '.join(codecs.CODECS)} "
                   "(default from -o: .mp4 h264, .mov prores, a folder png)")
    p.add_argument("--duration", type=_float,
                   help="seconds to render (default: the whole take)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def load(path: Path) -> perflog.PerfLog:
    """The log, its events checked against what the reducer applies (``actions.APPLIED``)."""
    log = perflog.read(path, known=actions.APPLIED)
    if log.duration > MAX_SECONDS:
        raise CPPNError(f"{path}: the log's events run to t={log.duration:.6g} s; a take "
                        f"replays up to {MAX_SECONDS:g} s")
    return log


def take_frames(log: perflog.PerfLog, fps: float) -> int:
    """Frames in the take at ``fps``: up to its closing ``record`` line (the first frame not
    recorded), else (a log cut short) up to and including the frame of its last action."""
    for ev in reversed(log.events):
        if ev.action == "record" and ev.value is False:
            return max(1, round(ev.t * fps))
    return math.floor(log.duration * fps + EPS) + 1


class Replay:
    """The take's show on a renderer: ``frame(n)`` advances to n / fps and returns the state."""

    def __init__(self, renderer, log: perflog.PerfLog, fps: float) -> None:
        from ..live.live import Live
        from ..show.clock import FixedClock

        state = actions.state_from_header(log.scene, log.header.get("state"))
        self.live = Live(renderer, state, clock=FixedClock(fps))
        self.live.actions_per_frame = None  # every logged action lands on its own frame
        self.live.budget = cost.Budget(frame_limit_s=None)  # offline: a slow frame only waits
        self.fps = fps
        self.events = [e for e in log.events if e.action not in SKIPPED]
        self._next = 0
        self.frames = 0

    def step(self):
        """The state of the next frame (its actions applied, the GPU in step with it)."""
        t = self.frames / self.fps
        live = self.live
        while self._next < len(self.events) and self.events[self._next].t <= t + EPS:
            ev = self.events[self._next]
            try:
                live.dispatch(actions.from_log(ev.action, ev.value))
            except CPPNError as exc:
                raise CPPNError(f"the log's action at t={ev.t:.4f} s was refused: {exc}") \
                    from None
            self._next += 1
        live.error = ""
        state = live.update()
        if live.error:  # the window applied it, so a log that fails here was altered
            raise CPPNError(f"the log's action at t={t:.4f} s was refused: {live.error}")
        self.frames += 1
        return state


def _logged_size(log: perflog.PerfLog) -> tuple[int, int] | None:
    size = log.header.get("size")
    if isinstance(size, list) and len(size) == 2 and \
            all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        return size[0], size[1]
    return None


def run(args: argparse.Namespace) -> int:
    codec = codecs.get_codec(args.codec) if args.codec else codecs.codec_for_path(args.output)
    output = codecs.check_output(codec, args.output)
    if codec.route == "ffmpeg":
        codecs.ffmpeg_with_hap()
    log = load(args.log)
    size = codecs.check_size(codec, args.size or _logged_size(log) or DEFAULT_SIZE)
    if size[0] * size[1] > MAX_PIXELS:
        raise CPPNError(f"{size[0]}x{size[1]} is more than {MAX_PIXELS} pixels a frame (8K)")
    fps = args.fps if args.fps is not None else log.header.get("fps", 30.0)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or \
            not (math.isfinite(fps) and 0 < fps <= 1000):
        what = "--fps" if args.fps is not None else "the log's fps"
        raise CPPNError(f"{what} must be a positive number up to 1000, got {fps!r}")
    fps = codecs.exact_fps(fps)
    if args.duration is None:
        frames = take_frames(log, fps)
    elif math.isfinite(args.duration) and 0 < args.duration <= MAX_SECONDS:
        frames = max(1, round(args.duration * fps))
    else:
        raise CPPNError(f"--duration must be a positive number of seconds up to "
                        f"{MAX_SECONDS:g}, got {args.duration}")
    if frames > MAX_FRAMES:
        raise CPPNError(f"{frames} frames to render: at most {MAX_FRAMES} (a shorter --duration "
                        f"or a lower --fps)")

    from ..api import default_renderer

    renderer = default_renderer()
    show = Replay(renderer, log, fps)

    def draw(n: int):
        state = show.step()
        tex = renderer.draw(size, state.scene.view, dtype="f1", display=True)
        # Each PNG frame carries its scene, so `still --scene frame_000042.png` renders it again.
        return tex, state.scene.to_json() if codec.route == "png" else None

    def wrote(writer, elapsed: float) -> str:
        return (f"wrote {output}: {frames} frames, {size[0]}x{size[1]}, {fps:g} fps, "
                f"{frames / fps:.3f} s, {codec.title} ({frames / max(elapsed, 1e-9):.1f} frames/s)")

    return offline.write_clip(
        lambda: writers.open_writer(output, codec, size, fps, gop=getattr(args, "gop", None)),
        frames, draw, lambda tex: renderer.read_async(tex, 3), output=output, fps=fps,
        prog=PROG, progress=not args.no_progress, wrote=wrote)
