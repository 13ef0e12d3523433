"""Writers, the codec table, the threaded encoder and asynchronous readback, decoded back by PyAV.

Frames here are synthetic smooth gradients (what CPPN art looks like to a codec); the
render command's tests compare real renders.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.media import codecs, encoder, progress, take, writers

av = pytest.importorskip("av")

SIZE = (64, 48)
FPS = 10

# Mean absolute error (levels of 255) each codec may add; at 64x48 the 4:2:0 and 4:2:2 chroma
# subsampling alone costs ~2.5 levels (measured without encoding), more than the codecs.
TOLERANCE = {"h264": 4.0, "prores": 3.0, "prores4444": 0.5, "hap": 4.0, "hap-q": 4.0,
             "hap-alpha": 4.0, "png": 0.0}
ENCODER = {"h264": "h264", "prores": "prores", "prores4444": "prores", "hap": "hap",
           "hap-q": "hap", "hap-alpha": "hap", "png": "png"}


def frames(n: int, size=SIZE, channels: int = 3) -> list[np.ndarray]:
    w, h = size
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    out = []
    for i in range(n):
        t = i / max(n, 1)
        rgb = np.stack([0.5 + 0.5 * np.sin(6 * x + 6 * t), 0.5 + 0.5 * np.cos(5 * y - 4 * t),
                        0.5 + 0.4 * np.sin(4 * (x + y) + 3 * t)], axis=-1)
        if channels == 4:
            rgb = np.concatenate([rgb, np.ones_like(rgb[..., :1])], axis=-1)
        out.append((rgb * 255 + 0.5).astype(np.uint8))
    return out


def decode(path: Path, codec: str) -> tuple[list[np.ndarray], dict]:
    src = str(path / "frame_%06d.png") if codec == "png" else str(path)
    with av.open(src) as container:
        stream = container.streams.video[0]
        info = {"codec": stream.codec_context.name, "size": (stream.width, stream.height),
                "rate": stream.average_rate, "profile": stream.codec_context.profile}
        decoded = list(container.decode(video=0))
        info["times"] = [f.time for f in decoded]
        images = [f.to_ndarray(format="rgb24") for f in decoded]
    return images, info


def output_for(tmp_path: Path, codec: str) -> Path:
    return tmp_path / f"clip{codecs.CODECS[codec].suffix}" if codec != "png" else \
        tmp_path / "seq"


def skip_without_hap(codec: str) -> None:
    if codecs.CODECS[codec].route == "ffmpeg" and codecs.hap_available():
        pytest.skip(codecs.hap_available())


@pytest.mark.parametrize("codec", list(codecs.CODECS))
def test_every_codec_decodes_back(tmp_path, codec):
    skip_without_hap(codec)
    src = frames(12)
    out = output_for(tmp_path, codec)
    with writers.open_writer(out, codec, SIZE, FPS) as w:
        for f in src:
            w.write(f)
    images, info = decode(out, codec)
    assert info["codec"] == ENCODER[codec]
    assert info["size"] == SIZE
    assert len(images) == len(src)
    if codec != "png":
        assert info["rate"] == FPS
        assert info["times"] == pytest.approx([n / FPS for n in range(len(src))])
    if codec == "prores":
        assert info["profile"] == "HQ"
    if codec == "prores4444":
        assert info["profile"] == "4444"
    for got, want in zip(images, src):
        assert np.abs(got.astype(int) - want).mean() <= TOLERANCE[codec]
    # Nothing but the clip is left in the folder: the temporary name was moved into place.
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_h264_is_yuv420p_and_tagged_bt709(tmp_path):
    out = tmp_path / "a.mp4"
    with writers.open_writer(out, "h264", SIZE, FPS) as w:
        w.write(frames(1)[0])
    with av.open(str(out)) as c:
        cc = c.streams.video[0].codec_context
        assert cc.pix_fmt == "yuv420p"
        assert int(cc.colorspace) == 1 and int(cc.color_primaries) == 1


def test_alpha_frames_keep_alpha_in_4444_and_png(tmp_path):
    src = frames(2, channels=4)
    src[1][..., 3] = 100
    for codec in ("prores4444", "png"):
        out = output_for(tmp_path, codec)
        with writers.open_writer(out, codec, SIZE, FPS) as w:
            for f in src:
                w.write(f)
        src_path = str(out / "frame_%06d.png") if codec == "png" else str(out)
        with av.open(src_path) as c:
            alphas = [f.to_ndarray(format="rgba")[..., 3] for f in c.decode(video=0)]
        assert np.abs(alphas[0].astype(int) - 255).max() <= 1
        assert np.abs(alphas[1].astype(int) - 100).max() <= 1


def test_fractional_frame_rate_is_exact(tmp_path):
    out = tmp_path / "ntsc.mp4"
    with writers.open_writer(out, "h264", SIZE, 30000 / 1001) as w:
        for f in frames(3):
            w.write(f)
    _, info = decode(out, "h264")
    assert info["rate"] == pytest.approx(30000 / 1001)
    assert info["times"] == pytest.approx([n * 1001 / 30000 for n in range(3)])


@pytest.mark.parametrize(
    ("codec", "size", "fitted"),
    [("h264", (63, 48), (62, 48)), ("prores", (64, 47), (64, 46)), ("hap", (66, 50), (64, 48)),
     ("hap-q", (3, 3), (4, 4)), ("png", (63, 47), (63, 47))],
)
def test_sizes_are_refused_with_the_nearest_valid_ones(tmp_path, codec, size, fitted):
    assert codecs.fit_size(codecs.CODECS[codec], size) == fitted
    if fitted == size:
        assert codecs.check_size(codecs.CODECS[codec], size) == size
        return
    with pytest.raises(CPPNError, match=f"{size[0]}x{size[1]} is not") as info:
        writers.open_writer(output_for(tmp_path, codec), codec, size, FPS)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []  # refused before anything was created


def test_unknown_codec_lists_the_valid_ones():
    with pytest.raises(CPPNError) as info:
        codecs.get_codec("dnxhd")
    for name in codecs.CODECS:
        assert name in str(info.value)


@pytest.mark.parametrize(("codec", "name"), [("h264", "a.mov"), ("prores", "a.mp4"),
                                              ("hap", "a.mp4"), ("png", "a.mp4")])
def test_container_must_suit_the_codec(tmp_path, codec, name):
    with pytest.raises(CPPNError):
        writers.open_writer(tmp_path / name, codec, SIZE, FPS)


def test_codec_from_the_output_name():
    assert codecs.codec_for_path("x.mp4").name == "h264"
    assert codecs.codec_for_path("x.MOV").name == "prores"
    assert codecs.codec_for_path("frames").name == "png"
    with pytest.raises(CPPNError, match="--codec"):
        codecs.codec_for_path("x.avi")


def test_missing_output_folder_is_refused(tmp_path):
    with pytest.raises(CPPNError, match="does not exist"):
        writers.open_writer(tmp_path / "no" / "a.mp4", "h264", SIZE, FPS)


def test_png_folder_with_foreign_files_is_refused(tmp_path):
    (tmp_path / "seq").mkdir()
    (tmp_path / "seq" / "notes.txt").write_text("mine")
    with pytest.raises(CPPNError, match="not frames"):
        writers.open_writer(tmp_path / "seq", "png", SIZE, FPS)
    assert (tmp_path / "seq" / "notes.txt").read_text() == "mine"


def test_png_frames_store_their_text(tmp_path):
    from PIL import Image

    out = tmp_path / "seq"
    enc = encoder.ThreadedWriter(writers.open_writer(out, "png", SIZE, FPS), block=True)
    enc.submit(frames(1)[0], '{"phase": 0.5}')
    enc.submit(frames(1)[0])
    enc.close()
    with Image.open(out / "frame_000000.png") as im:
        assert im.text == {"realtime-cppn": '{"phase": 0.5}'}
    with Image.open(out / "frame_000001.png") as im:
        assert "realtime-cppn" not in im.text


def test_png_sequence_replaces_an_older_one_whole(tmp_path):
    out = tmp_path / "seq"
    for n in (5, 2):
        with writers.open_writer(out, "png", SIZE, FPS) as w:
            for f in frames(n):
                w.write(f)
    assert sorted(p.name for p in out.iterdir()) == ["frame_000000.png", "frame_000001.png"]


def test_a_failed_recording_leaves_the_old_file_untouched(tmp_path):
    out = tmp_path / "a.mp4"
    out.write_bytes(b"the clip from yesterday")
    with pytest.raises(CPPNError, match="uint8"):
        with writers.open_writer(out, "h264", SIZE, FPS) as w:
            w.write(frames(1)[0])
            w.write(np.zeros((48, 64, 3), np.float32))  # a bad frame stops the recording
    assert out.read_bytes() == b"the clip from yesterday"
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"]


@pytest.mark.parametrize("codec", ["prores", "hap"])
@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
def test_an_interrupted_recording_is_playable(tmp_path, codec, stop):
    """Ctrl-C, or a crash outside the encoder, keeps the frames recorded so far, playable."""
    skip_without_hap(codec)
    out = tmp_path / "a.mov"
    with pytest.raises(stop):
        with writers.open_writer(out, codec, SIZE, FPS) as w:
            for i, f in enumerate(frames(6)):
                if i == 4:
                    raise stop
                w.write(f)
    images, info = decode(out, codec)
    assert len(images) == 4 and info["times"] == pytest.approx([0, 0.1, 0.2, 0.3])
    assert [p.name for p in tmp_path.iterdir()] == ["a.mov"]


class StalledWriter(writers.PngSequenceWriter):
    """A real PNG writer whose encoder stalls until released: a slow disk or a busy CPU."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.go = threading.Event()

    def _write(self, frame: np.ndarray, text: str | None) -> None:
        assert self.go.wait(10)
        super()._write(frame, text)


def test_threaded_writer_drops_and_counts_when_behind(tmp_path):
    out = tmp_path / "seq"
    codec = codecs.CODECS["png"]
    writer = StalledWriter(codecs.check_output(codec, out), codec, SIZE, FPS)
    enc = encoder.ThreadedWriter(writer, maxsize=2, block=False)
    src = frames(10)
    accepted = [enc.submit(f) for f in src]
    # The worker holds at most one frame, the queue two: the rest are dropped, not waited for.
    assert 7 <= enc.dropped <= 8
    assert enc.dropped == accepted.count(False)
    writer.go.set()
    enc.close()
    assert enc.written == enc.submitted == 10 - enc.dropped
    images, _ = decode(out, "png")
    kept = [f for f, ok in zip(src, accepted) if ok]
    assert len(images) == len(kept)
    for got, want in zip(images, kept):
        np.testing.assert_array_equal(got, want)


def test_threaded_writer_blocking_never_drops(tmp_path):
    out = tmp_path / "a.mp4"
    enc = encoder.ThreadedWriter(writers.open_writer(out, "h264", SIZE, FPS), maxsize=1,
                                  block=True)
    for f in frames(8):
        assert enc.submit(f)
    enc.close()
    assert enc.dropped == 0
    assert len(decode(out, "h264")[0]) == 8


def test_threaded_writer_raises_encoder_errors_on_the_caller(tmp_path):
    out = tmp_path / "a.mp4"
    enc = encoder.ThreadedWriter(writers.open_writer(out, "h264", SIZE, FPS), block=True)
    enc.submit(np.zeros((4, 4, 3), np.uint8))  # wrong size: fails on the encoder thread
    with pytest.raises(CPPNError, match="a frame must be"):
        for f in frames(50):
            enc.submit(f)
        enc.close()
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_progress_line_has_rate_and_eta():
    import io

    p = progress.Progress(100, io.StringIO())
    p.start -= 2.0  # as if 2 s had passed
    p.done = 50
    line = p.line()
    assert "50/100 frames" in line and "ETA 0:02" in line and "25.0 fps" in line


# --- asynchronous readback (GL) --------------------------------------------------------------


def test_read_async_equals_read(renderer):
    from realtime_cppn.core.spec import Layer, NetworkSpec

    rng = np.random.default_rng(0)
    spec = NetworkSpec(("x", "y", "r"), 2, (
        Layer(rng.normal(size=(8, 5)).astype(np.float32), rng.normal(size=8).astype(np.float32),
              "tanh"),
        Layer(rng.normal(size=(3, 8)).astype(np.float32), rng.normal(size=3).astype(np.float32),
              "sigmoid"),
    ))
    renderer.set_network(spec, np.array([0.3, -0.2]))
    for dtype in ("f1", "f4"):
        tex = renderer.draw((40, 24), dtype=dtype, display=True)
        handle = renderer.read_async(tex, 3)
        want = renderer.read(tex, 3)
        got = handle.result()
        assert got.dtype == want.dtype and got.shape == (24, 40, 3)
        np.testing.assert_array_equal(got, want)
        with pytest.raises(CPPNError):
            handle.result()
    # Buffers are pooled: a second readback of the same size reuses the first's buffer.
    tex = renderer.draw((40, 24), dtype="f1", display=True)
    first = renderer.read_async(tex, 3)
    buf = first._buf
    first.result()
    second = renderer.read_async(tex, 3)
    assert second._buf is buf
    second.result()


def test_read_async_sees_the_frame_drawn_before_it_not_after(renderer):
    from realtime_cppn.core.spec import Layer, NetworkSpec

    spec = NetworkSpec(("x",), 1, (Layer(np.zeros((1, 2), np.float32) + [[0, 1]],
                                         np.zeros(1, np.float32), "identity"),))
    renderer.set_network(spec, np.array([0.25]))
    tex = renderer.draw((8, 8), dtype="f1", display=True)
    handle = renderer.read_async(tex, 1)
    renderer.set_latent(np.array([0.75]))
    renderer.draw((8, 8), dtype="f1", display=True)  # overwrites the same texture
    assert np.abs(handle.result().astype(int) - round(0.25 * 255)).max() <= 1


# --- live recording (GL) -----------------------------------------------------------------------


def _spec_z():
    from realtime_cppn.core.spec import Layer, NetworkSpec

    rng = np.random.default_rng(1)
    return NetworkSpec(("x", "y", "r"), 1, (
        Layer(rng.normal(size=(8, 4)).astype(np.float32), rng.normal(size=8).astype(np.float32),
              "sin"),
        Layer(rng.normal(size=(3, 8)).astype(np.float32), rng.normal(size=3).astype(np.float32),
              "sigmoid"),
    ), scale=2.0)


@pytest.mark.parametrize(("codec", "size", "recorded"), [("h264", (64, 48), (64, 48)),
                                                         ("hap-q", (66, 50), (64, 48)),
                                                         ("h264", (63, 47), (62, 46))])
def test_live_recorder_at_60fps_drops_nothing(renderer, tmp_path, codec, size, recorded):
    import time

    skip_without_hap(codec)
    renderer.set_network(_spec_z(), np.array([0.0]))
    out = tmp_path / "live.mp4" if codec == "h264" else tmp_path / "live.mov"
    rec = take.LiveRecorder(renderer, out, codec, size, fps=60)
    assert rec.size == recorded and bool(rec.note) == (size != recorded)  # a crop is said
    shown = []
    for n in range(30):
        renderer.set_latent(np.array([n / 10]))
        tex = renderer.draw(size, dtype="f1", display=True)
        shown.append(renderer.read(tex, 3)[: recorded[1], : recorded[0]])
        rec.frame(tex)
        time.sleep(1 / 60)  # the live loop's pace
    summary = rec.stop()
    assert summary["dropped"] == 0 and summary["frames"] == summary["shown"] == 30
    images, info = decode(out, codec)
    assert info["size"] == recorded and len(images) == 30
    err = np.array([[np.abs(g.astype(int) - w).mean() for w in shown] for g in images])
    assert err.diagonal().max() <= 8.0  # live presets, 4:2:0 or DXT on busy 64x48 art
    # Each recorded frame is the frame shown at that moment, not a neighbour.
    assert (err.argmin(axis=1) == np.arange(30)).all()


def test_live_recorder_refuses_a_resized_frame(renderer, tmp_path):
    renderer.set_network(_spec_z(), np.array([0.0]))
    rec = take.LiveRecorder(renderer, tmp_path / "a.mp4", "h264", (64, 48), fps=30)
    rec.frame(renderer.draw((64, 48), dtype="f1", display=True))
    with pytest.raises(CPPNError, match="new size"):
        rec.frame(renderer.draw((32, 32), dtype="f1", display=True))
    assert rec.stop()["frames"] == 1


class Terminal:
    """A stream that says it is a terminal and keeps what the screen line shows after each
    carriage return (characters not overwritten stay, as on a real terminal)."""

    def __init__(self) -> None:
        self.screen = ""

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> None:
        for part in text.split("\r")[1:] if text.startswith("\r") else [text]:
            self.screen = part + self.screen[len(part):]

    def flush(self) -> None:
        pass


def test_progress_line_that_gets_shorter_leaves_no_stale_characters():
    term = Terminal()
    p = progress.Progress(10_000, term, interval=0.0)
    p.start -= 1000.0  # 1000 s for 10 frames: a long ETA
    p.update(10)
    long_line = term.screen
    p.start = p.start + 999.0  # now fast: the ETA is short, the line shorter
    p.update(5000)
    assert "ETA 277:" in long_line and len(p.line()) < len(long_line)
    assert term.screen.rstrip().endswith("ETA 0:01"), term.screen  # nothing of the old ETA


def test_progress_counts_a_unit_of_its_own():
    import io

    p = progress.Progress(200, io.StringIO(), unit="steps")
    p.start -= 2.0
    p.done = 100
    line = p.line()
    assert "100/200 steps" in line and "steps/s" in line and "fps" not in line


def test_live_recorder_keeps_the_length_when_the_encoder_drops(renderer, tmp_path, monkeypatch):
    """Pictures the encoder had no room for are dropped, and the previous picture holds their
    time: the take is as long as the show whatever the encoder managed."""
    renderer.set_network(_spec_z(), np.array([0.0]))
    go = threading.Event()
    original = writers.PyAVWriter._write

    def stalled(self, frame, text):  # a slow disk: nothing is written until released
        assert go.wait(20)
        original(self, frame, text)

    monkeypatch.setattr(writers.PyAVWriter, "_write", stalled)
    rec = take.LiveRecorder(renderer, tmp_path / "a.mp4", "h264", SIZE, fps=10, maxsize=1)
    rec.encoder.gaps = False  # every place of the grid a frame of its own (see the next test)
    for n in range(20):  # 0.1 s of show per frame: one output frame each
        renderer.set_latent(np.array([n / 5]))
        rec.frame(renderer.draw(SIZE, dtype="f1", display=True), n / 10)
        if n == 12:
            go.set()
    summary = rec.stop(end=2.0)
    assert summary["dropped"] >= 5  # the stalled encoder took two pictures, then one at a time
    assert summary["frames"] == 20 and summary["seconds"] == pytest.approx(2.0)
    images, info = decode(tmp_path / "a.mp4", "h264")
    assert len(images) == 20 and info["times"] == pytest.approx([n / 10 for n in range(20)])
    assert summary["duplicated"] == summary["dropped"]  # their time: the previous picture


def test_live_recorder_behind_leaves_copies_to_timestamps(renderer, tmp_path, monkeypatch):
    """An encoder that cannot keep up with the copies of slow pictures encodes each picture's
    first and last copy and lets the first last over the places between: the take keeps its
    length, its timestamps stay on the 30 fps grid, and the stop has no backlog of copies."""
    renderer.set_network(_spec_z(), np.array([0.0]))
    go = threading.Event()
    original = writers.PyAVWriter._write

    def stalled(self, frame, text):
        assert go.wait(20)
        original(self, frame, text)

    monkeypatch.setattr(writers.PyAVWriter, "_write", stalled)
    rec = take.LiveRecorder(renderer, tmp_path / "a.mp4", "h264", SIZE, fps=30, maxsize=2)
    for n in range(6):  # a picture every 0.5 s: 15 places of the grid each
        renderer.set_latent(np.array([n / 5]))
        rec.frame(renderer.draw(SIZE, dtype="f1", display=True), n / 2)
    go.set()
    summary = rec.stop(end=3.0)
    assert summary["held"] > 0 and summary["frames"] + summary["held"] == 90
    with av.open(str(tmp_path / "a.mp4")) as c:
        times = [f.time for f in c.decode(video=0)]
        seconds = c.duration / 1e6
    assert len(times) == summary["frames"] < 90
    assert seconds == pytest.approx(3.0, abs=1 / 30)  # as long as the show
    assert all(abs(t * 30 - round(t * 30)) < 1e-6 for t in times)  # on the grid
    # Pictures start at their own time (the last one is never dropped: the stop waits for it).
    assert times[0] == 0 and pytest.approx(2.5) in times
