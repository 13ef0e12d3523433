"""Live takes last as long as the show they recorded: a headless ``Live`` on an injected clock
draws at one rate, the take is written at its own constant rate, and the file decoded back by
PyAV has the show clock's duration, one output frame per 1 / fps of show time, each the latest
picture drawn at or before it. Take names are claimed with O_EXCL (a dangling link is skipped).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from realtime_cppn.core.scene import Scene
from realtime_cppn.live.live import Live, RecordSettings
from realtime_cppn.show import actions

av = pytest.importorskip("av")

SIZE = (64, 48)
NET = {"seed": 7, "width": 8, "depth": 2}
H264_TOL = 8.0  # mean levels: 4:2:0 chroma and the live preset on busy 64x48 art


class StepClock:
    """A show clock that advances by the given steps, one per frame (then by the last)."""

    def __init__(self, *steps: float) -> None:
        self.steps = list(steps)
        self.t = -1.0

    def tick(self) -> tuple[float, float]:
        if self.t < 0:
            self.t = 0.0
            return 0.0, 0.0
        dt = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        self.t += dt
        return self.t, dt


def decode(path):
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        decoded = list(c.decode(stream))
        rate = stream.average_rate
        return [f.to_ndarray(format="rgb24") for f in decoded], [f.time for f in decoded], rate


@pytest.fixture
def take(renderer, gl_context, tmp_path):
    """Record ``frames`` drawn frames on ``clock`` into a take at ``fps``; returns the stop
    summary, the pictures drawn (what the recorder was handed) and the drawn frames' times."""

    def record(clock, fps: float, frames: int, codec: str = "h264"):
        state = actions.initial_state(Scene(network=dict(NET), path_seed=3), speed=2.0)
        live = Live(renderer, state, clock=clock, screenshot_dir=tmp_path,
                    record=RecordSettings(tmp_path / "takes", codec, fps, wait=True))
        fbo = gl_context.simple_framebuffer(SIZE)
        drawn, times = [], []
        live.dispatch("record")
        try:
            for n in range(frames + 1):
                if n == frames:
                    live.dispatch("record")  # stops at this frame's time: the first not recorded
                live.update()
                if live.recording is not None:
                    live.render(fbo, SIZE)
                    drawn.append(renderer.read(live.recording.capture.texture, 3))
                    times.append(live.state.time)
            end = live.state.time
        finally:
            live.close()
        assert not live.error, live.error
        summary = live.last_recording
        summary["end"] = end
        return summary, drawn, times

    return record


@pytest.mark.parametrize("codec", ["h264", "prores", "hap-q"])
def test_a_10fps_show_recorded_at_30fps_lasts_as_long_as_the_show(take, codec):
    from realtime_cppn.media import codecs
    from realtime_cppn.show.clock import FixedClock

    if codecs.CODECS[codec].route == "ffmpeg" and codecs.hap_available():
        pytest.skip(codecs.hap_available())
    summary, drawn, times = take(FixedClock(10), 30, 20, codec)  # 2.0 s of show, 0.1 s a frame
    show_time = summary["end"] - times[0]
    assert show_time == pytest.approx(2.0)
    images, stamps, rate = decode(summary["path"])
    assert rate == 30
    assert len(images) == summary["frames"] == 60  # 2.0 s x 30 fps
    assert stamps[-1] + 1 / 30 == pytest.approx(show_time)  # the file's duration
    assert summary["drawn"] == 20 and summary["duplicated"] == 40 and summary["skipped"] == 0
    print(f"{codec}: 10 fps show, 30 fps take: {show_time:.3f} s of show, "
          f"{len(images) / 30:.3f} s of video, {summary['drawn']} drawn, "
          f"{summary['frames']} written, {summary['duplicated']} duplicated")
    # Output frame n shows the picture drawn at or before n / 30 s: picture n // 3.
    err = np.array([[np.abs(g.astype(int) - d).mean() for d in drawn] for g in images])
    assert (err.argmin(axis=1) == np.arange(60) // 3).all()
    assert err[np.arange(60), np.arange(60) // 3].max() <= H264_TOL


def test_an_uneven_show_keeps_its_time_and_a_fast_one_skips_pictures(take):
    # Frames 0.05 s, 0.25 s, 0.01 s, ... apart: the file follows the show clock, not the count.
    steps = (0.05, 0.25, 0.01, 0.01, 0.3, 0.08, 0.1, 0.2)
    summary, drawn, times = take(StepClock(*steps), 25, 12)
    show_time = summary["end"] - times[0]
    images, stamps, rate = decode(summary["path"])
    assert rate == 25
    assert abs(len(images) / 25 - show_time) <= 1 / 25  # within a frame
    assert summary["frames"] == len(images)
    assert summary["skipped"] >= 1  # two frames 0.01 s apart share one 0.04 s output frame
    assert summary["drawn"] == 12
    assert summary["frames"] - summary["duplicated"] == summary["drawn"] - summary["skipped"]
    for n, image in enumerate(images):  # each output frame: the latest picture at or before it
        t = times[0] + n / 25
        latest = max(k for k, tk in enumerate(times) if tk <= t + 1e-9)
        errs = [np.abs(image.astype(int) - d).mean() for d in drawn]
        assert errs[latest] <= H264_TOL and int(np.argmin(errs)) == latest


def test_ntsc_take_rate_is_exact(take):
    from realtime_cppn.show.clock import FixedClock

    summary, _, times = take(FixedClock(10), 29.97, 10)
    _, _, rate = decode(summary["path"])
    assert rate == Fraction(30000, 1001)
    assert summary["frames"] == 30  # ceil(1.0 s x 29.97)


def test_take_names_never_follow_a_dangling_link(renderer, gl_context, tmp_path):
    folder = tmp_path / "takes"
    folder.mkdir()
    victim = tmp_path / "victim.mp4"
    (folder / "cppn-rec-000.mp4").symlink_to(victim)  # dangling: a writer must not create it
    (folder / "cppn-rec-001.jsonl").write_text("an earlier log\n")  # its number is taken too
    from realtime_cppn.show.clock import FixedClock

    live = Live(renderer, actions.initial_state(Scene(network=dict(NET), path_seed=3)),
                clock=FixedClock(30), screenshot_dir=tmp_path,
                record=RecordSettings(folder, "h264", wait=True))
    fbo = gl_context.simple_framebuffer(SIZE)
    live.dispatch("record")
    try:
        for _ in range(5):
            live.update()
            live.render(fbo, SIZE)
    finally:
        live.close()
    assert not victim.exists() and not victim.is_symlink()
    assert (folder / "cppn-rec-001.jsonl").read_text() == "an earlier log\n"
    assert live.last_recording["path"] == str(folder / "cppn-rec-002.mp4")
    assert sorted(p.name for p in folder.iterdir()) == [
        "cppn-rec-000.mp4", "cppn-rec-001.jsonl", "cppn-rec-002.jsonl", "cppn-rec-002.mp4"]
    assert len(decode(folder / "cppn-rec-002.mp4")[0]) == 5


def test_a_take_stopped_in_the_frame_it_started_names_no_video(renderer, gl_context, tmp_path,
                                                               capsys):
    # The live soak: Ctrl+R twice within one frame printed "recorded cppn-rec-045.mp4: 0.00 s",
    # a file that was never written (a take with no frame has no video to keep).
    from realtime_cppn.media import perflog

    state = actions.initial_state(Scene(network=dict(NET), path_seed=3))
    live = Live(renderer, state, clock=StepClock(1 / 60), screenshot_dir=tmp_path,
                record=RecordSettings(tmp_path / "takes", "h264", 60, wait=True))
    fbo = gl_context.simple_framebuffer(SIZE)
    live.update()
    live.render(fbo, SIZE)
    live.dispatch("record")
    live.dispatch("record")
    live.update()
    live.render(fbo, SIZE)
    live.close()
    out = capsys.readouterr().out
    log = tmp_path / "takes" / "cppn-rec-000.jsonl"
    assert sorted(p.name for p in (tmp_path / "takes").iterdir()) == [log.name]
    assert f"nothing recorded: the take stopped before its first frame; performance log {log}" \
        in out and ".mp4" not in out
    assert live.last_recording is None and not live.error and live.recording is None
    assert perflog.read(log).header["video"] == "cppn-rec-000.mp4"  # whole, replayable
