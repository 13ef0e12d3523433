"""Audio analysis on synthetic signals (bands, onsets, smoothing) and deterministic file analysis."""

from __future__ import annotations

import math
import wave

import numpy as np
import pytest

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.instrument import audio

R, B = audio.RATE, audio.BLOCK


def analyse(x: np.ndarray, **config) -> list[audio.Features]:
    a = audio.Analyser(audio.AnalyserConfig(**config))
    return [a.process(x[i * B:(i + 1) * B]) for i in range(len(x) // B)]


def tone(freq: float, seconds: float, amp: float = 0.5, rate: int = R) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def clicks(times, seconds: float, rate: int = R, seed: int = 0) -> np.ndarray:
    """Short decaying noise bursts (2 ms) starting at ``times``: a hi-hat / rim click."""
    rng = np.random.default_rng(seed)
    x = np.zeros(int(seconds * rate), np.float32)
    n = int(0.002 * rate)
    for t in times:
        i = int(round(t * rate))
        x[i:i + n] += (0.8 * rng.uniform(-1, 1, n) * np.exp(-np.arange(n) / (n / 5))).astype(np.float32)
    return x


@pytest.mark.parametrize("freq,band", [(50, "bass"), (120, "bass"), (440, "mid"), (2500, "mid"),
                                       (5000, "high"), (12000, "high")])
def test_sine_bursts_land_in_their_band(freq, band):
    silence = np.zeros(int(0.3 * R), np.float32)
    x = np.concatenate([silence, tone(freq, 0.5), silence])
    feats = analyse(x)
    burst = [f for f in feats if 0.45 <= f.time <= 0.75]  # well inside the burst
    for f in burst:
        assert f.levels[band] == pytest.approx(0.5, abs=0.02)  # amplitude of the sine
        # Other bands hold only the burst's onset transient, fading at the release rate.
        assert all(v < 0.05 for k, v in f.levels.items() if k != band)
    before = [f for f in feats if f.time < 0.25]
    assert all(v == 0.0 for f in before for v in f.levels.values())
    assert feats[-1].levels[band] < 0.5 * math.exp(-0.2 / 0.25) + 0.01  # released after it
    assert any(f.onset for f in feats if 0.28 <= f.time <= 0.32)  # the burst starts: an onset


def test_gain_scales_and_the_gate_silences_quiet_input():
    x = tone(1000, 0.5, amp=0.1)
    assert analyse(x)[-1].levels["mid"] == pytest.approx(0.1, abs=0.005)
    assert analyse(x, gain=4.0)[-1].levels["mid"] == pytest.approx(0.4, abs=0.02)
    assert analyse(x, gate=0.2)[-1].levels["mid"] == 0.0
    assert analyse(tone(1000, 0.5, amp=4.0))[-1].levels["mid"] == 1.0  # clipped to 1


def test_attack_is_fast_and_release_follows_its_time_constant():
    x = np.concatenate([tone(100, 0.5), np.zeros(R, np.float32)])
    feats = analyse(x, attack=0.0, release=0.25)
    # Attack 0: the level follows the band at once (the window's overlap spans two blocks).
    on = next(i for i, f in enumerate(feats) if f.levels["bass"] > 0)
    assert feats[on + 1].levels["bass"] == pytest.approx(0.5, abs=0.02)
    # The tone stops at 0.5 s; the window is clear of it one block later. From then on the
    # level decays by exp(-dt / release).
    k = next(i for i, f in enumerate(feats) if f.time >= 0.5 + B / R)
    a, b = feats[k].levels["bass"], feats[k + 10].levels["bass"]
    assert b / a == pytest.approx(math.exp(-10 * B / R / 0.25), rel=1e-6)


@pytest.mark.parametrize("background", [False, True])
def test_clicks_at_a_known_tempo_give_onsets_within_one_block(background):
    bpm, seconds = 128.0, 6.0
    jitter = np.random.default_rng(1).uniform(0, 0.01, 64)
    times = [0.2 + i * 60 / bpm + jitter[i] for i in range(int((seconds - 0.4) * bpm / 60))]
    x = clicks(times, seconds)
    if background:  # a steady bass line and pad under the clicks
        x = x + tone(55, seconds, 0.3) + tone(660, seconds, 0.1)
    feats = analyse(x)
    onsets = [f.time for f in feats if f.onset]
    if background:
        onsets = [t for t in onsets if t > 0.1]  # the tones themselves start at 0
    assert len(onsets) == len(times)
    for t, want in zip(onsets, times):
        assert abs(t - want) <= B / R
    # Tempo from the onsets: the clicks' BPM.
    assert 60 / np.mean(np.diff(onsets)) == pytest.approx(bpm, abs=1.0)


def test_a_steady_tone_gives_no_onsets_and_bad_samples_do_not_poison_the_state():
    feats = analyse(tone(220, 2.0) + tone(3000, 2.0, 0.2))
    assert not any(f.onset for f in feats[2:])
    a = audio.Analyser()
    bad = np.full(B, np.nan, np.float32)
    bad[::2] = np.inf
    f = a.process(bad)
    assert all(math.isfinite(v) for v in f.levels.values()) and math.isfinite(f.flux)
    with pytest.raises(CPPNError):
        a.process(np.zeros(B + 1, np.float32))


def write_wav(path, x: np.ndarray, rate: int, channels: int = 2) -> None:
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    pcm = np.repeat(pcm[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


@pytest.fixture
def wav(tmp_path):
    rate, seconds = 44100, 3.0  # a different rate from the analysis: the source resamples
    times = [0.25 + 0.5 * i for i in range(5)]
    x = clicks(times, seconds, rate) + tone(80, seconds, 0.4, rate) * (np.arange(int(seconds * rate))
                                                                        > rate).astype(np.float32)
    path = tmp_path / "beat.wav"
    write_wav(path, x, rate)
    return path, times


def test_offline_analysis_of_a_file_is_identical_twice_and_follows_the_audio(wav):
    pytest.importorskip("av")
    path, times = wav
    fps = 30
    first = audio.analyse_file(path, fps, z_dim=4)
    second = audio.analyse_file(path, fps, z_dim=4)
    assert len(first) == len(second) >= 3 * fps - 2
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.z_offset, b.z_offset)
        assert (a.speed_scale, a.zoom_scale) == (b.speed_scale, b.zoom_scale)
    z = np.stack([m.z_offset for m in first])  # (frames, 4)
    # Bass (dimension 0) only after the tone starts at 1 s; the onset flash (dimension 3) at
    # every click, within one block and one frame.
    assert np.all(z[: fps - 1, 0] < 0.05) and np.all(z[fps + 3:, 0] > 0.3)
    # (The tone's start at 1 s is an onset too; its abrupt cut at the end of the file is another.)
    flashes = [n for n in range(1, len(first)) if z[n, 3] > z[n - 1, 3] + 0.1 and n / fps < 2.9]
    hits = sorted([*times, 1.0])
    assert len(flashes) == len(hits)
    for n, t in zip(flashes, hits):
        assert t - B / R <= n / fps <= t + 2 * B / R + 1 / fps
    assert max(m.zoom_scale for m in first) > 1.1
    # Less reactivity, less motion; none, none.
    calm = audio.analyse_file(path, fps, frames=60, z_dim=4,
                              reactivity=audio.Reactivity(amount=0.0))
    assert all(not m.z_offset.any() and m.speed_scale == 1 and m.zoom_scale == 1 for m in calm)


def test_file_source_resamples_to_the_fixed_rate_and_releases_blocks_by_time(wav):
    pytest.importorskip("av")
    path, _ = wav
    src = audio.FileSource(path)
    assert src.pending(B / R - 1e-4) == []  # the first block has not ended yet
    assert len(src.pending(B / R)) == 1
    blocks = src.pending(10.0)
    total = (1 + len(blocks)) * B
    assert abs(total - 3.0 * R) <= B  # 3 s at 48 kHz, the last block zero-padded
    assert src.done and src.pending(20.0) == []
    src.close()


def test_bad_audio_files_are_one_line_errors(tmp_path):
    pytest.importorskip("av")
    with pytest.raises(CPPNError, match="no such audio file"):
        audio.FileSource(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 3)
    with pytest.raises(CPPNError) as info:
        audio.FileSource(junk)
    assert "\n" not in str(info.value)
    with pytest.raises(CPPNError):
        audio.analyse_file(junk, 0.0)


def test_a_missing_audio_device_is_one_line_error_listing_the_inputs():
    """Without PortAudio (as here) the error says so; with it, a missing name lists inputs."""
    try:
        inputs = audio.input_devices()
    except CPPNError as exc:
        assert "PortAudio" in str(exc) or "sounddevice" in str(exc)
        return
    with pytest.raises(CPPNError, match="inputs:"):
        audio.find_device("no such device 12345")
    assert isinstance(inputs, list)


def test_reactivity_settings_are_checked_and_stepped():
    r = audio.Reactivity()
    assert r.step(0.1).amount == pytest.approx(0.6)
    assert r.step(-5).amount == 0.0 and r.step(5).amount == 2.0
    for bad in (dict(amount=float("nan")), dict(latent=(("treble", 0, 1.0),)),
                dict(speed=("bass", float("inf")))):
        with pytest.raises(CPPNError):
            audio.Reactivity(**bad)
    with pytest.raises(CPPNError):
        audio.AnalyserConfig(block=3)
