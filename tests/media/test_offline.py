"""The offline render loop (``media.offline``) with frames made on the host: pipelined
readback handed on in order, a canvas cropped to the codec's size, a stop signal finishing the
clip with what it holds, any other error leaving no file. Files are decoded back."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.media import codecs, offline, writers

SIZE = (16, 12)
PROG = "realtime-cppn"


def picture(n: int, size=SIZE) -> np.ndarray:
    w, h = size
    out = np.zeros((h, w, 3), np.uint8)
    out[..., 0] = n * 20
    out[..., 1] = np.arange(w, dtype=np.uint8)[None, :] * 10
    out[..., 2] = np.arange(h, dtype=np.uint8)[:, None] * 10
    return out


class Handle:
    """A pending readback of a fake texture (an int), counting how it ended."""

    def __init__(self, log: list, n: int) -> None:
        self.log, self.n = log, n

    def result(self) -> np.ndarray:
        self.log.append(("result", self.n))
        return picture(self.n)

    def release(self) -> None:
        self.log.append(("release", self.n))


def png_clip(path: Path):
    codec = codecs.get_codec("png")
    return lambda: writers.open_writer(path, codec, SIZE, 10)


def read_seq(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.iterdir())]


def test_readback_is_pipelined_and_handed_on_in_order():
    log, got = [], []

    def read(tex):
        log.append(("read", tex))
        return Handle(log, tex)

    offline.draw_all(3, lambda n: (n, f"t{n}"), read,
                     lambda frame, text: got.append((int(frame[0, 0, 0]) // 20, text)))
    assert got == [(0, "t0"), (1, "t1"), (2, "t2")]
    # frame n's readback starts before frame n-1's is collected: the two overlap
    assert log == [("read", 0), ("read", 1), ("result", 0), ("read", 2), ("result", 1),
                   ("result", 2)]


def test_a_failed_frame_hands_its_pending_readback_back():
    log = []

    def draw(n):
        if n == 2:
            raise CPPNError("the driver gave up")
        return n, None

    with pytest.raises(CPPNError):
        offline.draw_all(5, draw, lambda tex: Handle(log, tex), lambda *_: None)
    assert ("release", 1) in log and ("result", 1) not in log


def test_host_frames_are_cropped_to_the_writer_and_keep_their_text(tmp_path, capsys):
    out = tmp_path / "seq"
    big = (SIZE[0] + 3, SIZE[1] + 2)  # a canvas the writer cannot take whole
    status = offline.write_clip(png_clip(out), 4, lambda n: (picture(n, big), None), None,
                                output=out, fps=10, prog=PROG, progress=False,
                                wrote=lambda w, _s: f"wrote {out}: {w.frames} frames")
    assert status == 0
    assert capsys.readouterr().out == f"wrote {out}: 4 frames\n"
    frames = read_seq(out)
    assert len(frames) == 4
    for n, frame in enumerate(frames):
        np.testing.assert_array_equal(frame, picture(n, big)[:SIZE[1], :SIZE[0]])


def test_a_stop_signal_finishes_the_clip_with_the_frames_drawn(tmp_path, capsys):
    out = tmp_path / "seq"

    def draw(n):
        if n == 5:
            os.kill(os.getpid(), signal.SIGTERM)  # a real signal: the clip ends about here
        return picture(n), None

    from realtime_cppn.media.writers import STOP_SIGNALS

    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    try:
        status = offline.write_clip(png_clip(out), 100, draw, None, output=out, fps=10,
                                    prog=PROG, progress=False, wrote=lambda *_: "not reached")
        # after a stop signal the run is ending: later ones are ignored from here on
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        # This process goes on testing: every stop signal as it was (an ignored SIGINT or SIGHUP
        # would be inherited by every app a later test starts, which then never sees its Ctrl-C).
        for sig, handler in before.items():
            signal.signal(sig, handler)
    err = capsys.readouterr().err
    assert status == 128 + signal.SIGTERM
    done = int(err.split("holds the first ")[1].split(" of ")[0])
    assert f"{PROG}: interrupted (SIGTERM): {out} holds the first {done} of 100 frames" in err
    frames = read_seq(out)
    assert 4 <= done <= 6 and len(frames) == done
    for n, frame in enumerate(frames):
        np.testing.assert_array_equal(frame, picture(n))


def test_an_error_drops_the_clip_and_an_earlier_file_stays(tmp_path):
    out = tmp_path / "clip.mp4"
    out.write_bytes(b"yesterday's set")

    def draw(n):
        if n == 3:
            raise CPPNError("the driver gave up")
        return picture(n), None

    codec = codecs.get_codec("h264")
    with pytest.raises(CPPNError):
        offline.write_clip(lambda: writers.open_writer(out, codec, SIZE, 10), 10, draw, None,
                           output=out, fps=10, prog=PROG, progress=False,
                           wrote=lambda *_: "not reached")
    assert out.read_bytes() == b"yesterday's set"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no hidden partial left
