"""Tempo: synthetic taps give the BPM, the grid follows changes without jumping, quantisation."""

from __future__ import annotations

import numpy as np
import pytest

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.instrument import tempo
from realtime_cppn.show.actions import Action


def tap_run(t: tempo.Tempo, times) -> tempo.Tempo:
    for time in times:
        t = t.tap(float(time))
    return t


@pytest.mark.parametrize("bpm", [60.0, 97.0, 128.0, 174.0])
def test_taps_with_human_jitter_give_the_bpm_within_half_a_beat_per_minute(bpm):
    rng = np.random.default_rng(int(bpm))
    period = 60.0 / bpm
    times = 10.0 + np.arange(12) * period + rng.normal(0, 0.004, 12)  # 4 ms timing jitter
    t = tap_run(tempo.Tempo(), times)
    assert abs(t.bpm - bpm) < 0.5
    assert t.beat_phase(times[-1]) == pytest.approx(0.0)  # the last tap is on the beat


def test_a_long_gap_starts_a_new_tap_run():
    t = tap_run(tempo.Tempo(), [0.0, 0.5, 1.0, 1.5])  # 120 BPM
    assert t.bpm == pytest.approx(120.0)
    start = 1.5 + tempo.TAP_RESET + 1.0
    t = tap_run(t, start + np.arange(5) * 0.4)  # 150 BPM, uninfluenced by the old run
    assert t.bpm == pytest.approx(150.0)
    assert len(t.taps) == 5
    one = t.tap(100.0)  # a single tap after a gap keeps the BPM and sets the phase
    assert one.bpm == pytest.approx(150.0) and one.beat(100.0) == 0.0


def test_only_the_latest_taps_count():
    t = tap_run(tempo.Tempo(), np.arange(8) * 0.5)  # 120
    t = tap_run(t, 3.5 + np.arange(1, 9) * 0.4)  # then 150 (no gap): 8 newer taps replace all
    assert t.bpm == pytest.approx(150.0)


def test_bpm_set_double_half_keep_the_beat_position():
    t = tempo.Tempo(bpm=120.0, anchor=0.0)
    now = 10.25  # beat 20.5
    assert t.beat(now) == pytest.approx(20.5)
    for changed in (t.set_bpm(90.0, now), t.double(now), t.half(now)):
        assert changed.beat(now) == pytest.approx(20.5)
    assert t.double(now).bpm == 240.0 and t.half(now).bpm == 60.0
    assert t.set_bpm(1000, now).bpm == tempo.BPM_RANGE[1]  # clamped
    assert t.set_bpm(1, now).bpm == tempo.BPM_RANGE[0]
    with pytest.raises(CPPNError):
        t.set_bpm(float("nan"), now)


def test_beat_and_bar_phase_and_resync():
    t = tempo.Tempo(bpm=120.0, anchor=1.0, beats_per_bar=4)
    assert t.beat_phase(1.25) == pytest.approx(0.5)
    assert t.bar_phase(2.0) == pytest.approx(0.5)  # beat 2 of 4
    assert t.beat_in_bar(2.6) == 3
    r = t.resync(7.3)
    assert r.beat(7.3) == 0.0 and r.beat_in_bar(7.3) == 0 and r.bpm == 120.0
    assert t.loop_seconds(2) == pytest.approx(4.0)  # 2 bars of 4 beats at 120
    with pytest.raises(CPPNError):
        tempo.Tempo(beats_per_bar=0)


def test_quantised_actions_wait_for_the_next_beat_or_bar():
    t = tempo.Tempo(bpm=120.0, anchor=0.0)
    q = tempo.Quantizer()
    q.submit(Action("reseed"), 0.1, t, "beat")  # next beat at 0.5
    q.submit(Action("morph"), 0.1, t, "bar")  # next bar at 2.0
    q.submit(Action("pause"), 0.1, t, None)  # now
    assert q.poll(0.1) == [Action("pause")]
    assert q.poll(0.49) == []
    assert q.poll(0.5) == [Action("reseed")]
    assert q.poll(1.99) == []
    assert q.poll(2.0) == [Action("morph")]
    q.submit(Action("reseed"), 2.0, t, "bar")  # on a bar line: the next one, not this one
    assert q.poll(2.0) == [] and q.poll(4.0) == [Action("reseed")]
    assert t.next_time(0.5, "beat") == pytest.approx(1.0)
    with pytest.raises(CPPNError):
        t.next_time(0.0, "bars")
