"""Faults in the middle of a show: each is injected for real (a killed encoder process, a file
size limit, a deleted folder, a failing input device, a minimised window) and the show must go
on, say so once (the info overlay's error row and one log line), and keep what was recorded
until the fault: a playable video where the format allows it, and always a whole performance
log that ``replay`` renders.

Not covered, because nothing here can produce or observe it: losing the GPU context. moderngl
exposes no reset status (GL_ARB_robustness / KHR_robustness queries) and llvmpipe never loses
its context; the app does not detect a reset.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from test_window import display  # noqa: F401 (a fixture: an Xvfb of its own)  # isort: skip

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.scene import Scene
from realtime_cppn.live.live import Live, RecordSettings
from realtime_cppn.media import codecs, perflog
from realtime_cppn.show import actions
from realtime_cppn.show.actions import Action
from realtime_cppn.show.clock import FixedClock

SIZE = (64, 48)
NET = {"seed": 7, "width": 8, "depth": 2}


def decode(path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


_PARKING: dict[int, object] = {}


def parking(ctx):
    """A framebuffer kept bound between shows on the session's context."""
    if id(ctx) not in _PARKING:
        _PARKING[id(ctx)] = ctx.framebuffer(color_attachments=[ctx.texture((1, 1), 4)])
    return _PARKING[id(ctx)]


class Show:
    """A headless live show drawing into an offscreen framebuffer (what the window shows)."""

    def __init__(self, renderer, folder, codec: str = "h264", **live_kw) -> None:
        ctx = renderer.ctx
        self.renderer = renderer
        self.screen = ctx.texture(SIZE, 4, dtype="f1")
        self.fbo = ctx.framebuffer(color_attachments=[self.screen])
        scene = Scene(network=dict(NET), path_seed=3)
        self.live = Live(renderer, actions.initial_state(scene), clock=FixedClock(30),
                         screenshot_dir=folder,
                         record=RecordSettings(folder, codec, wait=True), **live_kw)

    def frames(self, n: int) -> None:
        for _ in range(n):
            self.live.update()
            self.live.render(self.fbo, SIZE)

    def showing_the_network(self) -> bool:
        """The window holds this frame's picture (not black, not frozen on an old one)."""
        shown = np.frombuffer(self.fbo.read(components=3), np.uint8).reshape(SIZE[1], SIZE[0], 3)
        frame = self.renderer.read(self.renderer.target(SIZE), 3)
        expect = np.clip(frame[::-1] * 255 + 0.5, 0, 255)  # fbo rows count from the bottom
        return shown.std() > 5 and np.abs(shown - expect).max() <= 2

    def close(self) -> None:
        self.live.close()
        # moderngl rebinds the last used framebuffer after creating one: never a released one.
        parking(self.renderer.ctx).use()
        self.fbo.release()
        self.screen.release()


@pytest.fixture
def show(renderer, tmp_path):
    made: list[Show] = []

    def make(codec: str = "h264", **kw) -> Show:
        made.append(Show(renderer, tmp_path / "takes", codec, **kw))
        return made[-1]

    yield make
    for s in made:
        s.close()


def until_stopped(s: Show, timeout: float = 120.0) -> None:
    """Frames until the take stops (the encoder thread meets the fault, the next frame hears
    of it), then a few more: the show goes on."""
    end = time.monotonic() + timeout
    while s.live.recording is not None and time.monotonic() < end:
        s.frames(1)
        time.sleep(0.02)
    s.frames(5)


def warnings(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and text in r.getMessage()]


def assert_told_once(s: Show, caplog, text: str) -> None:
    assert text in s.live.error
    assert "error" in dict(s.live.info_rows())  # the info overlay shows it
    assert len(warnings(caplog, text)) == 1


def no_partial_files(folder) -> bool:
    return not [p for p in folder.rglob("*") if ".partial" in p.name]


# --- the encoder dies ---------------------------------------------------------------------------


@pytest.mark.skipif(codecs.hap_available() is not None, reason="no HAP encoder here")
def test_hap_encoder_killed_mid_take_the_show_goes_on_and_the_log_replays(
        show, tmp_path, renderer, caplog, monkeypatch):
    from realtime_cppn import api
    from realtime_cppn.cli.main import main

    s = show("hap")
    s.live.dispatch(Action("record", True))
    s.frames(12)
    proc = s.live.recording.rec.writer._proc
    proc.kill()  # the encoder dies as if the OOM killer took it
    proc.wait()
    until_stopped(s)
    assert s.live.recording is None and not s.live.state.recording
    assert s.live.frames > 12 and s.showing_the_network()
    assert_told_once(s, caplog, "recording stopped")
    takes = tmp_path / "takes"
    # A HAP .mov killed before its index is written cannot be played: nothing half-written is
    # left, and the performance log (flushed line by line) ends where the video stopped.
    assert not list(takes.glob("*.mov")) and no_partial_files(takes)
    assert "the video is lost; replay" in s.live.error
    (log_path,) = takes.glob("*.jsonl")
    log = perflog.read(log_path)
    assert not log.truncated and log.events[-1].action == "record"
    assert log.events[-1].args["error"] and log.events[-1].args["frames"] == 0
    monkeypatch.setattr(api, "_default", renderer)
    out = tmp_path / "replayed"
    assert main(["replay", str(log_path), "-o", str(out), "--codec", "png",
                 "--no-progress"]) == 0
    assert len(list(out.glob("frame_*.png"))) >= 12  # the take up to the fault, rendered again
    # The next take works: a new encoder, a playable file.
    s.live.dispatch(Action("record", True))
    s.frames(6)
    s.live.dispatch(Action("record", False))
    s.frames(1)
    assert len(decode(s.live.last_recording["path"])) == s.live.last_recording["frames"] > 0


def test_h264_encoder_raising_mid_take_keeps_a_playable_file_of_the_frames_before(
        show, tmp_path, caplog):
    s = show("h264")
    s.live.dispatch(Action("record", True))
    s.frames(10)
    writer = s.live.recording.rec.writer
    end = time.monotonic() + 120  # a hang guard, not a budget
    while writer.frames < 9 and time.monotonic() < end:  # the encoder thread catches up
        time.sleep(0.01)

    def broken(frame, text):
        raise CPPNError("encoder failed (injected)")

    writer._write = broken  # the writer's encode step fails from now on
    until_stopped(s)
    assert s.live.recording is None and s.live.frames > 10 and s.showing_the_network()
    assert_told_once(s, caplog, "encoder failed (injected)")
    (video,) = (tmp_path / "takes").glob("*.mp4")
    assert f"{writer.frames} frames kept in {video}" in s.live.error
    frames = decode(video)
    assert len(frames) == writer.frames >= 8  # every frame written before the fault
    assert frames[0].std() > 5
    log = perflog.read(video.with_suffix(".jsonl"))
    assert log.events[-1].args["frames"] == len(frames)
    assert no_partial_files(tmp_path / "takes")


# --- the disk fills up --------------------------------------------------------------------------

DISK_FULL = textwrap.dedent("""
    import json, resource, signal, sys
    import numpy as np
    from realtime_cppn.show import actions
    from realtime_cppn.media import perflog
    from realtime_cppn.show.actions import Action
    from realtime_cppn.live.live import Live, RecordSettings
    from realtime_cppn.show.clock import FixedClock
    from realtime_cppn.rendering.renderer import Renderer
    from realtime_cppn.core.scene import Scene

    folder, codec, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    r = Renderer()
    tex = r.ctx.texture((320, 240), 4, dtype="f1")
    fbo = r.ctx.framebuffer(color_attachments=[tex])
    live = Live(r, actions.initial_state(Scene(network={"seed": 7, "width": 8, "depth": 2})),
                clock=FixedClock(30), record=RecordSettings(folder, codec, wait=True, queue=4))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    live.dispatch(Action("record", True))
    stopped_at = None
    for i in range(400):
        live.update()
        live.render(fbo, (320, 240))
        if stopped_at is None and not live.state.recording:
            stopped_at = i
    live.close()
    print(json.dumps({"frames": live.frames, "stopped_at": stopped_at, "error": live.error}))
""")


def test_disk_full_mid_take_the_show_goes_on_and_the_log_is_whole(tmp_path):
    takes = tmp_path / "takes"
    done = subprocess.run([sys.executable, "-c", DISK_FULL, str(takes), "h264", "16000"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["frames"] == 400  # every frame drawn, before and after the fault
    assert result["stopped_at"] is not None and result["stopped_at"] < 390
    assert "recording stopped" in result["error"] and "File too large" in result["error"]
    assert done.stderr.count("recording stopped") == 1  # one log line
    # An MP4's index goes at its end, which the full disk refuses: the video cannot be kept
    # (and no partial file is left to fill the disk further); the log is whole and replays.
    assert not list(takes.glob("*.mp4")) and no_partial_files(takes)
    (log_path,) = takes.glob("*.jsonl")
    log = perflog.read(log_path)
    assert not log.truncated and log.events[-1].action == "record"
    assert "File too large" in log.events[-1].args["error"]


# --- the output folder disappears -----------------------------------------------------------


def test_output_folder_deleted_mid_take_is_made_again_with_the_take_and_its_log(
        show, tmp_path, caplog):
    s = show("h264")
    s.live.dispatch(Action("record", True))
    s.frames(10)
    takes = tmp_path / "takes"
    shutil.rmtree(takes)  # the user (or a cleanup script) deletes the folder mid-take
    s.frames(10)
    s.live.dispatch(Action("record", False))
    s.frames(2)
    assert s.live.frames == 22 and s.showing_the_network()
    assert s.live.last_recording is not None, s.live.error
    video = takes / "cppn-rec-000.mp4"
    frames = decode(video)
    assert len(frames) == s.live.last_recording["frames"] >= 18 and frames[-1].std() > 5
    log = perflog.read(takes / "cppn-rec-000.jsonl")
    assert log.events[-1].action == "record" and log.events[-1].args["frames"] == len(frames)
    assert len(warnings(caplog, "vanished")) == 1  # said once, naming the file
    assert no_partial_files(takes)


def test_png_folder_deleted_mid_take_stops_the_take_once_and_the_show_goes_on(
        show, tmp_path, caplog):
    s = show("png")
    s.live.dispatch(Action("record", True))
    s.frames(6)
    # PNG frames are files of their own: gone with the folder. The writer thread may add a
    # frame while the folder is being emptied (rmtree then finds it not empty), as it would
    # under a user's rm -rf: delete until it is gone.
    for _ in range(50):
        try:
            shutil.rmtree(tmp_path / "takes")
            break
        except OSError:
            time.sleep(0.01)
    until_stopped(s)
    assert s.live.recording is None and s.live.frames > 6 and s.showing_the_network()
    assert_told_once(s, caplog, "recording stopped")
    log = perflog.read(tmp_path / "takes" / "cppn-rec-000.jsonl")  # made again, whole
    assert log.events[-1].action == "record" and log.events[-1].args["error"]


# --- an input device fails at runtime --------------------------------------------------------


class UnpluggedMidi:
    """A MIDI input port (the mido port interface the instrument polls) whose device is
    unplugged after a few polls: mido backends raise OSError from then on."""

    name = "test controller"

    def __init__(self, working_polls: int) -> None:
        self.left = working_polls

    def iter_pending(self):
        self.left -= 1
        if self.left < 0:
            raise OSError("device disconnected")
        return iter(())

    def close(self) -> None:
        raise OSError("device disconnected")


def test_midi_port_unplugged_is_logged_once_and_the_keys_still_work(show, caplog):
    from realtime_cppn.instrument import instrument, midi

    inst = instrument.Instrument(midi_input=midi.MidiInput(UnpluggedMidi(5)))
    s = show(instrument_=inst)
    s.frames(30)
    assert len(warnings(caplog, "device disconnected")) == 1
    seed = s.live.state.seed
    s.live.dispatch(Action("reseed", 1234))
    s.frames(2)
    assert s.live.state.seed == 1234 != seed and s.showing_the_network()


class FailingAudio:
    """A real audio file source whose device fails mid-show (as a sound card unplugged)."""

    def __init__(self, source, after: float) -> None:
        self.source, self.after = source, after
        self.rate, self.block = source.rate, source.block

    def pending(self, time: float):
        if time > self.after:
            raise OSError("audio device unavailable")
        return self.source.pending(time)

    def close(self) -> None:
        self.source.close()


def test_audio_input_failing_is_logged_once_and_the_picture_goes_on(show, tmp_path, caplog):
    import wave

    from realtime_cppn.instrument import audio, instrument

    path = tmp_path / "beat.wav"
    rate = 48000
    t = np.arange(rate * 3) / rate
    pcm = (0.5 * np.sin(2 * np.pi * 110 * t) * (np.sin(2 * np.pi * 2 * t) > 0) * 32767)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    src = FailingAudio(audio.FileSource(path), after=0.5)
    inst = instrument.Instrument(reactor=audio.Reactor(src))
    s = show(instrument_=inst)
    s.frames(45)  # 1.5 s at 30 fps: a second of it without the audio
    assert s.live.frames == 45 and s.showing_the_network()
    assert len(warnings(caplog, "audio device unavailable")) == 1
    assert s.live.poll.speed_factor == 1.0 and s.live.poll.zoom_factor == 1.0  # back to rest


# --- the window is minimised ----------------------------------------------------------------


def set_wm_state(display_name: str, window: int, state: int) -> None:
    """What a window manager does when it minimises (3, IconicState) or restores (1) a window:
    the ICCCM WM_STATE property, which GLFW reads for its ICONIFIED attribute."""
    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XChangeProperty.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong,
                                    ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                                    ctypes.c_void_p, ctypes.c_int]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(display_name.encode())
    assert dpy, f"cannot open display {display_name}"
    try:
        atom = x11.XInternAtom(dpy, b"WM_STATE", 0)
        data = (ctypes.c_long * 2)(state, 0)  # format 32 data is passed as longs
        x11.XChangeProperty(dpy, window, atom, atom, 32, 0, data, 2)  # PropModeReplace
        x11.XFlush(dpy)
    finally:
        x11.XCloseDisplay(dpy)


@pytest.mark.window
def test_minimised_window_waits_for_events_instead_of_spinning(request, tmp_path):
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        pytest.skip("needs Xvfb and xdotool")
    from test_first_run import draws, read_trace, wait_trace
    from test_window import App

    xvfb = request.getfixturevalue("display")
    trace_path = tmp_path / "trace.txt"
    # No vsync, wall clock: a visible window draws as fast as it can.
    a = App(xvfb, ["--seed", "7", "--width", "8", "--depth", "2", "--size", "160x120",
                   "--no-vsync", "--trace-frames", str(trace_path)], tmp_path)

    def waits(trace) -> list[float]:
        return [t for t, what, _ in trace if what == "wait"]

    try:
        wait_trace(trace_path, lambda tr: len(draws(tr)) >= 5, a.proc)
        set_wm_state(xvfb, int(a.window), 3)
        # Minimised for 2 s of the app's own clock, counted from its first wait.
        trace = wait_trace(trace_path, lambda tr: len(waits(tr)) >= 2 and
                           tr[-1][0] - waits(tr)[0] >= 2.0, a.proc)
        first = waits(trace)[0]
        minimised = [(t, what) for t, what, _ in trace if t >= first]
        drawn_since = len(draws(read_trace(trace_path)))
        set_wm_state(xvfb, int(a.window), 1)
        restored = wait_trace(trace_path, lambda tr: len(draws(tr)) > drawn_since, a.proc)
        assert a.proc.poll() is None
        a.proc.send_signal(signal.SIGINT)
        a.proc.wait(30)
    finally:
        if a.proc.poll() is None:
            a.proc.kill()
            a.proc.wait()
    span = minimised[-1][0] - minimised[0][0]
    wakeups = sum(what == "wait" for _, what in minimised)
    print(f"minimised {span:.2f} s: {wakeups} wake-ups, "
          f"{sum(what == 'draw' for _, what in minimised)} frames drawn")
    assert not any(what == "draw" for _, what in minimised)  # nothing drawn while minimised
    # The loop sleeps in wait_events_timeout(0.1): at most one wake-up per 0.1 s, plus the
    # few X events of the change itself. A spinning loop would wake thousands of times.
    assert wakeups <= span / 0.1 + 5
    assert len(draws(restored)) > drawn_since  # restored: drawing again
