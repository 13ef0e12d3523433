"""Audio-reactive offline renders: deterministic frames driven by the file's analysis, the audio
muxed back (decoded with PyAV: the right codec and duration, trimmed or padded), and a picture
that reacts where the audio is loud and only there."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from realtime_cppn import api
from realtime_cppn.cli import main as cli
from realtime_cppn.media import codecs, writers

av = pytest.importorskip("av")

NET = ["--width", "8", "--depth", "2", "--seed", "3", "--loop", "2"]
CLIP = [*NET, "--size", "64x48", "--fps", "10", "--no-progress"]
RATE = 44100  # not the muxed 48 kHz: the track is resampled
LOUD = (0.5, 1.5)  # seconds of 80 Hz bass; silence around it


@pytest.fixture
def command(renderer, monkeypatch, capsys):
    monkeypatch.setattr(api, "_default", renderer)

    def run(*argv: str) -> tuple[int, str, str]:
        status = cli.main(["render", *argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    """2 s stereo: bass from 0.5 s to 1.5 s (left and right), silence around it."""
    n = np.arange(int(2.0 * RATE))
    loud = (n >= LOUD[0] * RATE) & (n < LOUD[1] * RATE)
    x = 0.6 * np.sin(2 * np.pi * 80 * n / RATE) * loud
    pcm = (np.stack([x, 0.5 * x], axis=1) * 32767).astype("<i2")  # (n, 2)
    path = tmp_path_factory.mktemp("audio") / "song.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return path


def frames_of(out: Path) -> list[np.ndarray]:
    src = str(out / "frame_%06d.png") if out.is_dir() else str(out)
    with av.open(src) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def audio_of(out: Path) -> tuple[str, float, np.ndarray]:
    """(codec, stream duration in s, decoded samples (C, n) at 48 kHz)."""
    with av.open(str(out)) as c:
        s = c.streams.audio[0]
        duration = float(s.duration * s.time_base)
        channels = s.codec_context.channels
        chunks = []
        for f in c.decode(s):
            x = f.to_ndarray().astype(np.float64)  # planar (C, n) or packed (1, n * C)
            x = x.reshape(channels, -1) if f.format.is_planar else x.reshape(-1, channels).T
            chunks.append(x / (32768.0 if f.format.name.startswith("s16") else 1.0))
        return s.codec_context.name, duration, np.concatenate(chunks, axis=1)


def mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def test_reactive_mp4_is_identical_twice_and_carries_the_audio_for_the_clip(command, song,
                                                                          tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    for out in (a, b):
        status, stdout, _ = command(*CLIP, "--audio", str(song), "--reactivity", "1", "-o", str(out))
        assert status == 0 and "aac audio" in stdout
    fa, fb = frames_of(a), frames_of(b)
    assert len(fa) == len(fb) == 20  # as long as the audio: 2 s at 10 fps
    for x, y in zip(fa, fb):
        np.testing.assert_array_equal(x, y)
    codec, duration, samples = audio_of(a)
    assert codec == "aac" and samples.shape[0] == 2
    assert duration == pytest.approx(2.0, abs=0.03)
    # AAC decodes with up to one 1024-sample frame of tail padding.
    assert 2.0 * 48000 <= samples.shape[1] <= 2.0 * 48000 + 1024


def test_mov_gets_pcm_trimmed_or_padded_to_exactly_the_clip(command, song, tmp_path):
    short, long_ = tmp_path / "short.mov", tmp_path / "long.mov"
    assert command(*CLIP, "--audio", str(song), "--duration", "1.2", "-o", str(short))[0] == 0
    assert command(*CLIP, "--audio", str(song), "--duration", "3", "-o", str(long_))[0] == 0
    codec, duration, x = audio_of(short)
    assert codec == "pcm_s16le" and x.shape == (2, int(1.2 * 48000)) and duration == 1.2
    # The audio is where it was: silent, then the bass at 0.6 (left) / 0.3 (right) amplitude.
    rms = lambda seg: float(np.sqrt(np.mean(seg ** 2)))  # noqa: E731
    assert rms(x[:, : int(0.45 * 48000)]) < 1e-3
    assert rms(x[0, int(0.6 * 48000):]) == pytest.approx(0.6 / np.sqrt(2), rel=0.02)
    assert rms(x[1, int(0.6 * 48000):]) == pytest.approx(0.3 / np.sqrt(2), rel=0.02)
    codec, duration, x = audio_of(long_)
    assert x.shape == (2, 3 * 48000) and rms(x[:, int(2.05 * 48000):]) == 0.0  # padded silence
    assert len(frames_of(long_)) == 30
    aac = tmp_path / "aac.mov"
    assert command(*CLIP, "--audio", str(song), "--audio-codec", "aac", "-o", str(aac))[0] == 0
    assert audio_of(aac)[0] == "aac"


def test_the_picture_reacts_where_the_audio_is_loud_and_only_there(command, song, tmp_path):
    reactive, reactive2, plain = tmp_path / "r", tmp_path / "r2", tmp_path / "p"
    status, _, err = command(*CLIP, "--audio", str(song), "--reactivity", "1", "-o", str(reactive))
    assert status == 0 and "carries no audio" in err  # PNG: said, not silently dropped
    assert command(*CLIP, "--audio", str(song), "--reactivity", "1", "-o", str(reactive2))[0] == 0
    assert command(*CLIP, "--duration", "2", "-o", str(plain))[0] == 0
    r, r2, p = frames_of(reactive), frames_of(reactive2), frames_of(plain)
    assert len(r) == len(p) == 20
    for x, y in zip(r, r2):
        np.testing.assert_array_equal(x, y)  # PNG: bit-exact twice
    # Silence before 0.5 s: exactly the plain clip. Loud (0.6 .. 1.4 s): clearly another picture.
    for n in range(4):
        np.testing.assert_array_equal(r[n], p[n])
    diffs = [mae(r[n], p[n]) for n in range(6, 15)]
    assert min(diffs) > 3.0, diffs
    # No reactivity: the audio rides along, the picture is the plain clip.
    calm = tmp_path / "calm"
    assert command(*CLIP, "--audio", str(song), "--reactivity", "0", "-o", str(calm))[0] == 0
    for x, y in zip(frames_of(calm), p):
        np.testing.assert_array_equal(x, y)


def test_bad_audio_requests_are_one_line_errors_and_write_nothing(command, song, tmp_path):
    out = tmp_path / "x.mp4"
    for argv, words in (
        (["--audio", str(tmp_path / "missing.wav")], "no such audio file"),
        (["--audio", str(song), "--audio-codec", "pcm"], "PCM audio goes into .mov"),
        (["--reactivity", "1"], "need --audio"),
        (["--audio", str(song), "--reactivity", "5"], "reactivity must be 0..2"),
    ):
        status, _, err = command(*CLIP, *argv, "-o", str(out))
        assert status == 2 and words in err and len(err.strip().splitlines()) == 1, err
    not_audio = tmp_path / "not.wav"
    not_audio.write_bytes(b"RIFF....WAVEjunk")
    status, _, err = command(*CLIP, "--audio", str(not_audio), "-o", str(out))
    assert status == 2 and "audio" in err
    assert not out.exists() and list(tmp_path.iterdir()) == [not_audio]


def test_writers_take_audio_only_where_a_container_can_hold_it(tmp_path, song):
    with pytest.raises(Exception, match="PNG sequence carries no audio"):
        writers.open_writer(tmp_path / "seq", "png", (64, 48), 10, audio=song)


@pytest.mark.parametrize("codec,suffix", [("h264", ".mp4"), ("prores", ".mov"), ("hap", ".mov")])
def test_every_video_codec_muxes_audio_as_long_as_the_frames_written(tmp_path, song, codec,
                                                                     suffix):
    if codec == "hap" and codecs.hap_available():
        pytest.skip(codecs.hap_available())
    out = tmp_path / f"clip{suffix}"
    with writers.open_writer(out, codec, (64, 48), 10, audio=song) as w:
        for i in range(13):  # a clip cut short: 1.3 s, whatever the audio's length
            w.write(np.full((48, 64, 3), 8 * i, np.uint8))
    name, duration, x = audio_of(out)
    assert duration == pytest.approx(1.3, abs=0.025)
    assert 1.3 * 48000 <= x.shape[1] <= 1.3 * 48000 + (1024 if name == "aac" else 0)
    if codec != "hap":  # PyAV's wheel cannot decode HAP
        assert len(frames_of(out)) == 13
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary files left
