"""The instrument hub: OSC over loopback, an in-process MIDI port, file audio, tempo quantisation,
the scene bank, and start-up / runtime faults, all through ``Instrument.poll`` with injected time.
"""

from __future__ import annotations

import argparse
import logging
import socket
import threading
import time
import wave
from dataclasses import replace

import numpy as np
import pytest

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.scene import Scene
from realtime_cppn.instrument import audio, bank, instrument, midi, osc
from realtime_cppn.instrument.instrument import Instrument
from realtime_cppn.show import actions, keys
from realtime_cppn.show.actions import Action

STATE = actions.initial_state(Scene(network={"seed": 1, "width": 8, "depth": 2}))


def args(**kw) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    instrument.add_arguments(p)
    ns = p.parse_args([])
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


def poll_until(inst: Instrument, t: float, want: int, timeout: float = 5.0) -> list[Action]:
    """Poll (at clock ``t``) until ``want`` actions came out: UDP arrives on another thread."""
    out: list[Action] = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        out += inst.poll(t, STATE).actions
        time.sleep(0.002)
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- OSC ---------------------------------------------------------------------------------------


def test_osc_over_loopback_drives_the_state_like_keys_and_the_instrument_itself():
    udp_client = pytest.importorskip("pythonosc.udp_client")
    port = free_port()
    with Instrument.from_args(args(osc_port=port)) as inst:
        assert (inst.osc.host, inst.osc.port) == ("127.0.0.1", port)
        client = udp_client.SimpleUDPClient("127.0.0.1", port)
        client.send_message("/cppn/zoom_in", [])
        client.send_message("/cppn/width", 16)
        client.send_message("/cppn/z/3", 0.5)
        got = poll_until(inst, 0.0, 3)
        assert got == [Action("zoom_in"), Action("width", 16), Action("latent", (3, 0.5))]
        # The same state as the zoom-in key (+ width) gives.
        by_osc = STATE
        for a in got[:2]:
            by_osc = actions.apply(by_osc, a)
        by_key = actions.apply(actions.apply(STATE, keys.DEFAULT.action_for("equal")),
                               actions.parse("width=16"))
        assert by_osc == by_key
        # The latent offset is show state, set by the one reducer: it stays in z until changed.
        z = actions.z_offset(actions.apply(STATE, got[2]))
        assert z is not None and z[3] == 0.5 and np.count_nonzero(z) == 1
        assert inst.poll(0.0, STATE).z_offset is None  # the instrument's own: audio only
        # Instrument addresses are handled inside (tempo), never handed to the app.
        client.send_message("/cppn/bpm", 90.0)
        client.send_message("/cppn/quantize", "beat")
        client.send_message("/cppn/bpm", float("nan"))  # dropped, logged once
        deadline = time.monotonic() + 60  # a hang guard, not a budget
        while (inst.tempo.bpm != 90 or inst.quantum != "beat") and time.monotonic() < deadline:
            assert inst.poll(0.0, STATE).actions == []
            time.sleep(0.002)
        assert inst.tempo.bpm == 90 and inst.quantum == "beat"
    assert inst.osc is None  # closed: the port is free again
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))


def test_osc_port_zero_is_off_and_a_busy_port_is_one_startup_error():
    pytest.importorskip("pythonosc")
    inst = Instrument.from_args(args(osc_port=0))
    assert inst.osc is None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        with pytest.raises(CPPNError, match="cannot open OSC port"):
            Instrument.from_args(args(osc_port=s.getsockname()[1]))


# --- MIDI --------------------------------------------------------------------------------------

mido = pytest.importorskip("mido")
from mido.ports import BaseIOPort  # noqa: E402


class LoopbackPort(BaseIOPort):
    """An in-process MIDI port: what is sent arrives as bytes through mido's parser."""

    def _send(self, msg):
        self._parser.feed(msg.bytes())


def cc(control: int, value: int):
    return mido.Message("control_change", channel=0, control=control, value=value)


MAPPING = midi.Mapping.from_dict({
    "notes": {"1:36": "reseed"},
    "cc": {"1:74": {"param": "zoom", "min": 0.25, "max": 4.0, "curve": "exp"},
           "1:77": {"param": "z/2", "min": -2.0, "max": 2.0}},
})


def test_midi_port_drives_mapped_parameters_across_their_range_through_poll():
    port = LoopbackPort("loopback")
    inst = Instrument(midi_input=midi.MidiInput(port, MAPPING))
    sender = threading.Thread(target=lambda: [port.send(m) for m in (
        mido.Message("note_on", note=36, velocity=100), cc(74, 0), cc(74, 127), cc(77, 127))])
    sender.start()
    sender.join()
    p = inst.poll(0.0, STATE)
    assert p.actions == [Action("reseed"), Action("zoom", 0.25), Action("zoom", 4.0),
                         Action("latent", (2, 2.0))]
    state = STATE
    for a in p.actions[1:]:
        state = actions.apply(state, a)
    assert state.scene.view.zoom == 4.0 and actions.z_offset(state)[2] == 2.0


def test_midi_learn_binds_a_key_action_and_a_named_parameter_and_saves_them(tmp_path):
    config = tmp_path / "show.toml"
    config.write_text('[keys]\n"x" = "reseed"\n')
    port = LoopbackPort("loopback")
    inst = Instrument(midi_input=midi.MidiInput(port), config_path=config)
    # Arm, press a key: the key is bound, not done; then the control moves.
    assert inst.handle_key_action(actions.parse("zoom_in")) is False  # not learning: the app's
    assert inst.handle_key_action(instrument.parse("midi_learn"))
    inst.poll(0.0, STATE)
    assert inst.learning
    assert inst.handle_key_action(actions.parse("zoom_in")) is True
    port.send(cc(20, 127))
    assert inst.poll(0.1, STATE).actions == []  # consumed by learning
    assert not inst.learning
    port.send(cc(20, 127))
    assert inst.poll(0.2, STATE).actions == [Action("zoom_in")]
    # The reverse order (control first, then the key) and a named parameter with its range.
    inst.handle_key_action(instrument.parse("midi_learn"))
    inst.poll(0.3, STATE)
    port.send(cc(21, 0))
    inst.poll(0.4, STATE)
    assert inst.handle_key_action(actions.parse("pause"))
    port.send(cc(21, 127))
    assert inst.poll(0.5, STATE).actions == [Action("pause")]
    inst.handle_key_action(instrument.parse("midi_learn=speed"))
    inst.poll(0.6, STATE)
    port.send(cc(22, 64))
    inst.poll(0.7, STATE)
    port.send(cc(22, 127))
    assert inst.poll(0.8, STATE).actions == [Action("speed", midi.DEFAULT_RANGES["speed"][1])]
    saved = midi.load_config(config)
    assert saved == inst.midi.mapping and len(saved.bindings) == 3
    assert '"x" = "reseed"' in config.read_text()  # the rest of the file kept
    # Esc cancels learning (and still does its own job).
    inst.handle_key_action(instrument.parse("midi_learn"))
    inst.poll(0.9, STATE)
    assert inst.handle_key_action(Action("escape")) is False and not inst.learning


def test_an_unplugged_midi_port_is_logged_once_and_the_show_goes_on(caplog):
    class Unplugged(LoopbackPort):
        def iter_pending(self):
            raise OSError("device unplugged")

    inst = Instrument(midi_input=midi.MidiInput(Unplugged("gone")))
    with caplog.at_level(logging.WARNING):
        for n in range(5):
            assert inst.poll(n / 60, STATE).actions == []
    assert sum("unplugged" in r.getMessage() for r in caplog.records) == 1


def test_requested_but_missing_ports_and_devices_are_startup_errors_listing_what_exists():
    with pytest.raises(CPPNError) as exc:
        Instrument.from_args(args(midi_in="no such controller"))
    assert ("no MIDI input port" in str(exc.value) and "ports:" in str(exc.value)) or \
        "MIDI is unavailable" in str(exc.value)
    with pytest.raises(CPPNError) as exc:
        Instrument.from_args(args(audio_in="no such soundcard 123"))
    assert "\n" not in str(exc.value)
    assert "inputs:" in str(exc.value) or "live audio needs" in str(exc.value) or \
        "cannot list" in str(exc.value)
    with pytest.raises(CPPNError, match="no such audio file"):
        Instrument.from_args(args(audio_in="missing.wav"))
    with pytest.raises(CPPNError, match="HOST:PORT"):
        Instrument.from_args(args(osc_out="localhost"))
    with pytest.raises(CPPNError, match="reactivity"):
        Instrument.from_args(args(reactivity=3.0))


# --- audio -------------------------------------------------------------------------------------


def write_wav(path, x: np.ndarray, rate: int) -> None:
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


@pytest.fixture
def bass_wav(tmp_path):
    rate = 44100
    n = np.arange(int(2.0 * rate))
    x = 0.6 * np.sin(2 * np.pi * 80 * n / rate) * ((n >= rate) & (n < int(1.6 * rate)))
    path = tmp_path / "bass.wav"
    write_wav(path, x.astype(np.float32), rate)
    return path


def test_file_audio_through_poll_is_deterministic_and_follows_the_sound(bass_wav):
    pytest.importorskip("av")

    def run() -> list[instrument.Poll]:
        with Instrument.from_args(args(audio_in=str(bass_wav), reactivity=1.0)) as inst:
            return [inst.poll(n / 30, STATE) for n in range(60)]

    first, second = run(), run()
    for a, b in zip(first, second):
        assert (a.speed_factor, a.zoom_factor) == (b.speed_factor, b.zoom_factor)
        assert (a.z_offset is None) == (b.z_offset is None)
        if a.z_offset is not None:
            np.testing.assert_array_equal(a.z_offset, b.z_offset)
    quiet = first[:29]  # silence before 1 s
    assert all(p.z_offset is None and p.zoom_factor == 1.0 for p in quiet)
    loud = first[33:47]
    assert all(p.z_offset[0] > 0.5 and p.zoom_factor > 1.2 for p in loud)  # bass -> z0, zoom
    # Reactivity keys scale the response; 0 switches it off.
    with Instrument.from_args(args(audio_in=str(bass_wav), reactivity=1.0)) as inst:
        for _ in range(10):
            inst.handle_key_action(instrument.parse("reactivity_down"))
        polls = [inst.poll(n / 30, STATE) for n in range(60)]
    assert inst.reactivity.amount == 0.0
    assert all(p.z_offset is None and p.zoom_factor == 1.0 for p in polls)


# --- tempo and quantisation -----------------------------------------------------------------


def test_quantised_reseed_is_released_on_the_next_beat():
    inst = Instrument(tempo_=instrument.tempo.Tempo(bpm=120.0), quantum="beat")
    inst.poll(0.1, STATE)
    assert inst.handle_key_action(Action("reseed")) is True  # held, not dispatched
    assert inst.handle_key_action(Action("zoom_in")) is False  # not a quantised change
    for t in (0.2, 0.3, 0.49):
        assert inst.poll(t, STATE).actions == []
    assert inst.poll(0.5, STATE).actions == [Action("reseed")]  # beat 2 at 0.5 s
    assert inst.poll(0.6, STATE).actions == []
    # Bar quantum from OSC / MIDI too: a morph at 0.6 waits for the bar at 2.0 s.
    inst.handle_key_action(instrument.parse("quantize=bar"))
    inst.poll(0.6, STATE)
    inst.handle_key_action(Action("morph", 7))
    assert inst.poll(1.99, STATE).actions == []
    assert inst.poll(2.0, STATE).actions == [Action("morph", 7)]


def test_tap_tempo_bpm_keys_resync_and_loop_length_in_bars():
    inst = Instrument()
    for i in range(8):
        inst.handle_key_action(instrument.parse("tap"))
        inst.poll(10.0 + i * 0.5 + (0.01 if i % 2 else 0.0), STATE)  # jittery hand at 120 BPM
    assert inst.tempo.bpm == pytest.approx(120.0, abs=0.5)
    inst.handle_key_action(instrument.parse("bpm_double"))
    inst.poll(20.0, STATE)
    assert inst.tempo.bpm == pytest.approx(240.0, abs=1.0)
    inst.handle_key_action(instrument.parse("bpm=128"))
    inst.handle_key_action(instrument.parse("resync"))
    inst.poll(21.0, STATE)
    assert inst.tempo.bpm == 128 and inst.tempo.beat_in_bar(21.0) == 0
    inst.handle_key_action(instrument.parse("loop_bars=2"))
    (loop,) = inst.poll(21.1, STATE).actions
    assert loop == Action("loop", pytest.approx(2 * 4 * 60 / 128))
    state = actions.apply(STATE, loop)
    assert state.scene.loop == pytest.approx(3.75) and state.scene.phase == STATE.scene.phase


# --- bank --------------------------------------------------------------------------------------


def test_bank_store_and_recall_morph_or_cut_and_survive_a_restart(tmp_path):
    path = tmp_path / "set.bank.json"
    inst = Instrument.from_args(args(bank=path))
    a = replace(STATE, time=5.0)
    inst.handle_key_action(instrument.parse("bank_store=1"))
    inst.poll(5.0, a)
    assert bank.load(path).recall(1) == a.scene
    # Same architecture, another seed: the recall morphs the weights, the motion continues.
    b = actions.apply(replace(a, scene=replace(a.scene, phase=0.3, path_seed=4)),
                      Action("seed", 99))
    inst.handle_key_action(instrument.parse("bank_recall=1"))
    (rec,) = inst.poll(6.0, b).actions
    assert rec.name == "recall" and rec.value["morph"] is True and rec.value["slot"] == 1
    after = actions.apply(replace(b, time=6.0), rec)
    assert after.seed == 1 and after.morph == actions.Morph(99, 6.0)
    assert (after.scene.phase, after.scene.path_seed) == (0.3, 4)
    # Another architecture: a cut to the whole stored scene.
    c = actions.apply(b, Action("width", 16))
    inst.handle_key_action(instrument.parse("bank_recall=1"))
    (rec,) = inst.poll(7.0, c).actions
    assert rec.value["morph"] is False
    assert actions.apply(c, rec).scene == a.scene and actions.apply(c, rec).morph is None
    # An empty slot says so and does nothing; a restart finds the bank.
    inst.handle_key_action(instrument.parse("bank_recall=5"))
    assert inst.poll(8.0, c).actions == [] and "empty" in inst.message
    again = Instrument.from_args(args(bank=path))
    assert again.bank.recall(1) == a.scene


def test_a_corrupt_bank_is_logged_and_the_show_starts_with_an_empty_one(tmp_path, caplog):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "realtime-cppn/bank", "version": 1, "slots": {"12": {}}}')
    with caplog.at_level(logging.WARNING):
        inst = Instrument.from_args(args(bank=path))
    assert inst.bank.slots == {}
    assert sum("bank" in r.getMessage() for r in caplog.records) == 1


def test_instrument_vocabulary_keys_and_osc_addresses_are_consistent():
    for action, key, _ in instrument.KEY_BINDINGS:
        name = instrument.parse(action).name
        assert name in instrument.INSTRUMENT_ACTIONS
        assert keys.normalize(key) == key
        assert keys.DEFAULT.action_for(key) == instrument.parse(action)  # merged, not shadowed
    # One table: the instrument's actions are the vocabulary's with owner "instrument".
    assert instrument.INSTRUMENT_ACTIONS == actions.named(["instrument"])
    assert set(instrument._HANDLERS) == set(instrument.INSTRUMENT_ACTIONS)  # one handler each
    assert all(actions.ACTIONS[n] is spec for n, spec in instrument.INSTRUMENT_ACTIONS.items())
    assert osc.message_actions("/cppn/tap", [1.0])[0] == [Action("tap")]
    assert osc.message_actions("/cppn/tap", [0.0])[0] == []
    assert osc.message_actions("/cppn/bank_recall", [3])[0] == [Action("bank_recall", 3)]
    for bad in (("/cppn/bank_recall", [12]), ("/cppn/bpm", ["fast"]), ("/cppn/bpm", [1, 2]),
                ("/cppn/quantize", ["often"]), ("/cppn/midi_learn", ["explode"])):
        with pytest.raises(CPPNError):
            osc.message_actions(*bad)
    for made in ("/cppn/nope", "/cppn/recall", "/cppn/loop", "/cppn/latent"):
        with pytest.raises(CPPNError, match="unknown address"):
            osc.message_actions(made, [])
    with pytest.raises(CPPNError, match="the instrument's"):
        actions.apply(STATE, Action("tap"))  # the instrument takes it, not the reducer
    assert audio  # the module is importable without sounddevice (checked in test_osc)


def test_instrument_imports_and_polls_without_the_optional_libraries():
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "for m in ('pythonosc', 'mido', 'rtmidi', 'sounddevice', 'av', 'torch', 'moderngl',"
        " 'glfw'):\n"
        "    sys.modules[m] = None\n"
        "from realtime_cppn.instrument import instrument\nfrom realtime_cppn.show import actions\n"
        "from realtime_cppn.core.scene import Scene\n"
        "inst = instrument.Instrument()\n"
        "print(inst.poll(0.0, actions.initial_state(Scene())).actions)\n"
        "try:\n"
        "    import argparse\n"
        "    instrument.Instrument.from_args(argparse.Namespace(osc_port=9999, osc_host='127.0.0.1'))\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["[]", "CPPNError OSC needs python-osc: pip install "
                                       "'realtime-cppn[vj]'"]


def test_midi_learn_with_no_midi_input_is_refused_and_swallows_no_key():
    inst = Instrument()  # no --midi-in
    assert inst.handle_key_action(instrument.parse("midi_learn"))  # Ctrl+M: the instrument's
    assert inst.poll(0.0, STATE).actions == []
    assert not inst.learning and "needs a MIDI input" in inst.message
    assert inst.handle_key_action(actions.parse("zoom_in")) is False  # the next key still acts
    assert inst.handle_key_action(instrument.parse("midi_learn=speed"))
    inst.poll(0.1, STATE)
    assert not inst.learning


def test_one_table_holds_every_logged_action_typed():
    assert actions.APPLIED == set(actions.ACTIONS) - set(instrument.INSTRUMENT_ACTIONS)
    assert actions.from_log("latent", [3, 1.5]) == Action("latent", (3, 1.5))
    assert actions.from_log("loop", 4) == Action("loop", 4.0)
    assert actions.from_log("activation", ["sin", "tanh"]).value == ("sin", "tanh")
    for name, value in (("latent", [999, 1.0]), ("latent", "x"), ("loop", 0), ("loop", None),
                        ("recall", {"slot": 1}), ("explode", None), ("speed", "fast"),
                        ("tap", None)):
        with pytest.raises(CPPNError):
            actions.from_log(name, value)
