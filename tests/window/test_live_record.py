"""Live recording end to end: the record key in a real window under Xvfb (xdotool key presses),
the video decoded back with PyAV, the performance log read back, and the log replayed.

The app runs paused on a fixed-step clock, so every recorded frame is a headless render of the
state it shows: the video must hold the picture without the REC badge or any overlay, while the
window (photographed from outside) shows the badge.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from test_window import NET, SIZE, App, display, headless  # noqa: F401 (display: a fixture)

from realtime_cppn.media import perflog

pytestmark = pytest.mark.window

H264_TOL = 6.0  # mean 8-bit levels: 4:2:0 chroma and the live preset on busy 160x120 art


def decode(path):
    import av

    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(stream)]
        return frames, stream.codec_context.name, (stream.width, stream.height)


def wait_title(a: App, pattern: str, present: bool = True, timeout: float = 120.0) -> str:
    end = time.monotonic() + timeout
    title = ""
    while time.monotonic() < end:
        title = a.title()
        if bool(re.search(pattern, title)) == present:
            return title
        time.sleep(0.1)
    pytest.fail(f"title {title!r} never {'showed' if present else 'lost'} {pattern!r}")


def test_record_key_records_the_output_and_the_log_replays_it(request, tmp_path, renderer,
                                                              monkeypatch):
    from realtime_cppn import api
    from realtime_cppn.cli.main import main

    takes = tmp_path / "takes"
    args = ["--seed", "7", *NET, "--size", f"{SIZE[0]}x{SIZE[1]}", "--fixed-fps", "20",
            "--paused", "--record-dir", str(takes), "--record-codec", "h264"]
    a = App(request.getfixturevalue("display"), args, tmp_path)
    try:
        plain = a.wait_for(headless(renderer, 7))
        a.key("ctrl+r")
        wait_title(a, r"\| REC")
        # The window shows the REC badge at its top right; the picture under it is unchanged.
        end = time.monotonic() + 120  # a hang guard, not a budget
        corner = 0.0
        while time.monotonic() < end:
            shot = a.shot()
            corner = np.abs(shot[:30, -70:].astype(int) - plain[:30, -70:]).mean()
            if corner > 20:
                break
            time.sleep(0.2)
        assert corner > 20, "no REC badge in the window"
        assert np.abs(shot[40:, :].astype(int) - plain[40:, :]).max() <= 2
        time.sleep(0.5)
        a.key("r")
        end = time.monotonic() + 120  # a hang guard, not a budget
        while a.seed() == 7 and time.monotonic() < end:
            time.sleep(0.1)
        new_seed = a.seed()
        assert new_seed != 7
        a.key("bracketright", "s")
        time.sleep(1.0)
        a.key("ctrl+r")
        wait_title(a, r"\| REC", present=False)
        a.key("ctrl+q")
        assert a.stop() == 0
    finally:
        if a.proc.poll() is None:
            a.proc.kill()
            a.proc.wait()
    out = a.proc.stdout.read()
    m = re.search(r"recorded (\S+): [\d.]+ s at 20 fps, \d+ frames drawn, (\d+) written "
                  r"\(\d+ duplicated, \d+ skipped, (\d+) dropped(?:, \d+ held by longer frames)?\); "
                  r"performance log (\S+)", out)
    assert m, out
    video, frames_said, dropped, log_path = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
    print(f"live take: {frames_said} frames, {dropped} dropped")  # the measured figure

    # The video: H.264, the window's size, every frame the headless picture of its state.
    frames, codec, size = decode(video)
    assert codec == "h264" and size == SIZE
    assert len(frames) == frames_said > 10
    first = headless(renderer, 7)
    assert np.abs(frames[0].astype(int) - first).mean() <= H264_TOL  # no badge recorded
    assert np.abs(frames[0][:30, -70:].astype(int) - first[:30, -70:]).mean() <= H264_TOL

    # The log: the starting scene and the keys pressed between the two Ctrl+R, in order.
    log = perflog.read(log_path)
    assert log.scene.network["seed"] == 7 and log.header["fps"] == 20
    names = [e.action for e in log.events]
    assert names == ["reseed", "speed_double", "symmetry", "record"]
    assert log.events[0].value == new_seed and log.events[2].value is None
    assert log.events[-1].args["frames"] == len(frames) and log.events[-1].value is False

    # Replayed at the take's size and rate, the log gives the live frames back.
    monkeypatch.setattr(api, "_default", renderer)
    assert log.header["size"] == list(SIZE)  # so replay defaults to the take's size and rate
    assert main(["replay", log_path, "-o", str(tmp_path / "replay"), "--codec", "png",
                 "--no-progress"]) == 0
    from PIL import Image

    replayed = [np.asarray(Image.open(p).convert("RGB"))
                for p in sorted((tmp_path / "replay").glob("frame_*.png"))]
    if dropped == 0:
        assert len(replayed) == len(frames)
        err = [np.abs(r.astype(int) - f).mean() for r, f in zip(replayed, frames)]
        assert max(err) <= H264_TOL
    last = headless(renderer, new_seed, path_seed=7)
    assert np.abs(replayed[0].astype(int) - first).max() <= 2
    assert np.abs(replayed[-1].astype(int) - last).mean() > 5  # the symmetry key took effect


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_ctrl_c_while_recording_leaves_a_playable_take_and_a_whole_log(request, tmp_path,
                                                                         signame):
    """Ctrl-C, SIGTERM (a service stopping) and SIGHUP (the terminal closed) all finish the
    take and its log."""
    import signal

    takes = tmp_path / "takes"
    a = App(request.getfixturevalue("display"),
            ["--seed", "7", *NET, "--size", f"{SIZE[0]}x{SIZE[1]}", "--fixed-fps", "20",
             "--action", "record", "--record-dir", str(takes)], tmp_path)
    try:
        wait_title(a, r"\| REC")
        time.sleep(1.0)
        a.proc.send_signal(getattr(signal, signame))
        assert a.stop() == 130
    finally:
        if a.proc.poll() is None:
            a.proc.kill()
            a.proc.wait()
    assert "interrupted" in a.proc.stderr.read()
    (video,) = takes.glob("*.mp4")
    frames, codec, size = decode(video)
    assert codec == "h264" and size == SIZE and len(frames) > 5
    log = perflog.read(takes / (video.stem + ".jsonl"))
    assert not log.truncated and log.events[-1].action == "record"
    assert log.events[-1].args["frames"] == len(frames)
