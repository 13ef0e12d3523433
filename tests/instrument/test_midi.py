"""MIDI: mapped notes and CCs drive actions and parameters across their ranges; learn; ports.

Without an ALSA sequencer (no /dev/snd/seq, as in containers) python-rtmidi cannot make virtual
ports, so the port tests use an in-process mido port: its ``send`` feeds the raw MIDI bytes
through mido's parser on another thread, as a backend's receive thread would.
"""

from __future__ import annotations

import math
import sys
import threading

import pytest

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.scene import Scene
from realtime_cppn.instrument import midi, osc
from realtime_cppn.show import actions
from realtime_cppn.show.actions import Action

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

mido = pytest.importorskip("mido")
from mido.ports import BaseIOPort  # noqa: E402


class LoopbackPort(BaseIOPort):
    """An in-process MIDI port: what is sent arrives as bytes through mido's parser."""

    def _send(self, msg):
        self._parser.feed(msg.bytes())


def cc(control: int, value: int, channel: int = 0):
    return mido.Message("control_change", channel=channel, control=control, value=value)


def note(n: int, velocity: int = 100, channel: int = 0):
    return mido.Message("note_on", channel=channel, note=n, velocity=velocity)


MAPPING = midi.Mapping.from_dict({
    "notes": {"1:36": "reseed", "1:37": "morph", "1:38": "symmetry", "2:40": "speed=0.5",
              "1:39": "record"},
    "cc": {
        "1:74": {"param": "zoom", "min": 0.25, "max": 4.0, "curve": "exp"},
        "1:75": {"param": "speed", "min": 0.5, "max": 2.0, "curve": "log"},
        "1:76": {"param": "width", "min": 2, "max": 256, "curve": "lin"},
        "1:77": {"param": "z/3", "min": -2.0, "max": 2.0},
        "1:78": "symmetry",  # a parameter on a CC: all symmetries across the knob
        "1:79": "activation",
        "1:20": "pause",  # a button
        "1:21": "record",
    },
})


@pytest.mark.parametrize("kind", midi.CURVES)
def test_curves_hit_both_ends_exactly_and_are_monotonic(kind):
    values = [midi.curve(kind, v / 127) for v in range(128)]
    assert values[0] == 0.0 and values[-1] == 1.0
    assert all(b > a for a, b in zip(values, values[1:]))


def test_curve_shapes_differ_where_they_should():
    assert midi.curve("exp", 0.5) < 0.5 < midi.curve("log", 0.5)
    assert midi.curve("exp", 0.5) == pytest.approx(1 - midi.curve("log", 0.5), abs=0.05)


def test_ccs_drive_parameters_across_their_ranges():
    def value(control: int, v: int):
        (a,) = midi.handle(MAPPING, cc(control, v))
        return a

    assert value(74, 0) == Action("zoom", 0.25)
    assert value(74, 127) == Action("zoom", 4.0)
    mid = value(74, 64).value
    assert 0.25 < mid < 0.25 + (4 - 0.25) * 0.5 * 0.5  # exp: well below the linear midpoint
    assert value(75, 0) == Action("speed", 0.5) and value(75, 127) == Action("speed", 2.0)
    assert value(75, 64).value > 0.5 + 1.5 * 0.6  # log: past the linear midpoint
    assert value(76, 0) == Action("width", 2) and value(76, 127) == Action("width", 256)
    widths = [value(76, v).value for v in range(128)]
    assert widths == sorted(widths) and all(isinstance(w, int) for w in widths)
    assert value(77, 0) == Action("latent", (3, -2.0)) and value(77, 127) == Action("latent", (3, 2.0))
    assert math.isclose(value(77, 64).value[1], -2 + 4 * 64 / 127)
    syms = [value(78, v).value for v in range(128)]
    assert syms[0] == "none" and syms[-1] == osc.PARAMS["symmetry"].choices[-1]
    assert len(set(syms)) == len(osc.PARAMS["symmetry"].choices)
    assert value(79, 0) == Action("activation", ("tanh",))
    # Every mapped value applies to a state without error.
    state = actions.initial_state(Scene(network={"width": 16, "depth": 2}))
    for control in (74, 75, 76, 78, 79):
        for v in (0, 1, 63, 64, 126, 127):
            state = actions.apply(state, value(control, v))
    assert state.scene.view.zoom == 4.0 and state.net("width") == 256


def test_notes_and_buttons_trigger_actions():
    assert midi.handle(MAPPING, note(36)) == [Action("reseed")]
    assert midi.handle(MAPPING, note(37)) == [Action("morph")]
    assert midi.handle(MAPPING, note(38)) == [Action("symmetry")]  # a note cycles
    assert midi.handle(MAPPING, note(39)) == [Action("record")]
    assert midi.handle(MAPPING, note(40, channel=1)) == [Action("speed", 0.5)]
    assert midi.handle(MAPPING, note(40, channel=0)) == []  # other channel: unmapped
    velocity = midi.Mapping.from_dict({"notes": {"1:50": "zoom"}})  # a parameter: by velocity
    assert midi.handle(velocity, note(50, velocity=127)) == [Action("zoom", 4.0)]
    assert midi.handle(MAPPING, note(36, velocity=0)) == []  # note-on at 0 is a note-off
    assert midi.handle(MAPPING, mido.Message("note_off", note=36)) == []
    assert midi.handle(MAPPING, cc(20, 127)) == [Action("pause")]
    assert midi.handle(MAPPING, cc(20, 0)) == []  # the button's release
    assert midi.handle(MAPPING, cc(21, 127)) == [Action("record", True)]
    assert midi.handle(MAPPING, cc(21, 0)) == [Action("record", False)]
    for msg in (mido.Message("clock"), mido.Message("sysex", data=[1, 2, 3]),
                mido.Message("pitchwheel", pitch=8191), cc(1, 64), note(99)):
        assert midi.handle(MAPPING, msg) == []


def test_mapping_round_trips_through_toml():
    text = MAPPING.to_toml()
    table = tomllib.loads(text)["midi"]
    assert midi.Mapping.from_dict(table) == MAPPING
    assert midi.Mapping.from_dict(MAPPING.to_dict()) == MAPPING


@pytest.mark.parametrize("table", [
    {"notes": {"17:36": "reseed"}},
    {"notes": {"1:128": "reseed"}},
    {"notes": {"36": "reseed"}},
    {"notes": {"1:36": "explode"}},
    {"cc": {"1:1": {"param": "nope"}}},
    {"cc": {"1:1": {"param": "zoom", "curve": "cubic"}}},
    {"cc": {"1:1": {"param": "zoom", "min": "low"}}},
    {"cc": {"1:1": {"param": "zoom", "min": float("nan")}}},
    {"cc": {"1:1": {"param": "zoom", "colour": 1}}},
    {"cc": {"1:1": 5}},
    {"pads": {}},
    {"notes": {"1:36": "activation=nope"}},
    [],
])
def test_bad_mapping_tables_are_one_line_errors(table):
    with pytest.raises(CPPNError) as info:
        midi.Mapping.from_dict(table)
    assert "\n" not in str(info.value)


def test_learn_binds_the_next_control_to_the_armed_target():
    learn, mapping = midi.Learn(), midi.Mapping()
    assert not learn.armed
    learn = learn.arm("zoom")
    learn, mapping, used = learn.feed(mapping, mido.Message("clock"))  # ignored: keeps waiting
    assert learn.armed and not used
    learn, mapping, used = learn.feed(mapping, cc(10, 30, channel=2))
    assert used and not learn.armed and learn.last == ("cc", 2, 10)
    assert midi.handle(mapping, cc(10, 127, channel=2)) == [Action("zoom", 4.0)]
    # A note learned onto an action triggers it; the same source re-learned is replaced.
    learn = learn.arm("reseed")
    learn, mapping, _ = learn.feed(mapping, note(60))
    assert midi.handle(mapping, note(60)) == [Action("reseed")]
    learn = learn.arm("new_path")
    learn, mapping, _ = learn.feed(mapping, note(60))
    assert midi.handle(mapping, note(60)) == [Action("new_path")]
    assert len(mapping.bindings) == 2
    # A custom range binds as given; cancel leaves the mapping alone.
    learn = learn.arm(midi.Binding.for_param("speed", 1.0, 3.0, "lin"))
    learn, mapping, _ = learn.feed(mapping, cc(11, 127))
    assert midi.handle(mapping, cc(11, 127)) == [Action("speed", 3.0)]
    learn = learn.arm("width").cancel()
    assert learn.feed(mapping, cc(12, 1)) == (learn, mapping, False)
    with pytest.raises(CPPNError):
        midi.Learn().arm("explode")


def test_midi_input_polls_an_in_process_port_with_learn_first():
    port = LoopbackPort("loopback")
    inp = midi.MidiInput(port, MAPPING)
    sender = threading.Thread(target=lambda: [port.send(m) for m in
                                              (note(36), cc(74, 127), cc(76, 0))])
    sender.start()
    sender.join()
    assert inp.poll() == [Action("reseed"), Action("zoom", 4.0), Action("width", 2)]
    assert inp.poll() == []
    inp.arm("depth")
    port.send(cc(90, 0))  # consumed by learn
    port.send(cc(90, 127))
    assert inp.poll() == [Action("depth", midi.DEFAULT_RANGES["depth"][1])]
    inp.close()
    assert inp.poll() == []  # a closed port reads as nothing, not an error


def test_a_flood_past_the_per_frame_cap_is_deferred_to_the_next_polls_not_dropped():
    port = LoopbackPort("loopback")
    inp = midi.MidiInput(port, MAPPING)
    n = midi.MAX_PER_POLL * 2 + 100
    for i in range(n):
        port.send(cc(74, i % 128))
    counts = [len(inp.poll()) for _ in range(4)]
    assert counts == [midi.MAX_PER_POLL, midi.MAX_PER_POLL, 100, 0]
    # In order: the deferred messages come after the ones before them.
    for i in range(3):
        port.send(cc(74, 127 * (i % 2)))
    assert inp.poll() == [Action("zoom", 0.25), Action("zoom", 4.0), Action("zoom", 0.25)]


def test_learn_in_either_order_control_first_then_the_target():
    port = LoopbackPort("loopback")
    inp = midi.MidiInput(port)
    inp.listen()
    assert inp.learn.armed and inp.learn.target is None
    port.send(cc(30, 5))
    assert inp.poll() == []  # consumed: remembered until the target is named
    assert inp.learn.source == ("cc", 0, 30) and inp.mapping.bindings == {}
    inp.arm("zoom_in")
    assert not inp.learn.armed and inp.learn.last == ("cc", 0, 30)
    port.send(cc(30, 127))
    assert inp.poll() == [Action("zoom_in")]
    # A note that moved first takes a parameter through its velocity; a typo fails at arm.
    inp.listen()
    port.send(note(40))
    inp.poll()
    inp.arm("zoom")
    assert inp.learn.error == "" and inp.mapping.bindings[("note", 0, 40)].param == "zoom"
    with pytest.raises(CPPNError):
        inp.arm("explode")
    inp.arm("width")
    inp.cancel()
    assert not inp.learn.armed


def test_ports_missing_or_unavailable_are_one_line_errors():
    """Here without an ALSA sequencer the backend itself fails; with one, the name is missing.
    Either way: one CPPNError line that says what is there."""
    try:
        names = midi.input_names()
    except CPPNError as exc:
        assert "MIDI is unavailable" in str(exc) and "\n" not in str(exc)
        names = None
    with pytest.raises(CPPNError) as info:
        midi.open_input("no such port 12345")
    assert "\n" not in str(info.value)
    if names is not None:
        assert "ports:" in str(info.value)


def test_rtmidi_virtual_port_when_the_system_has_one():
    try:
        port = mido.open_input("realtime-cppn-test", virtual=True)
        out = mido.open_output("realtime-cppn-test")
    except Exception as exc:
        pytest.skip(f"no virtual MIDI ports here: {str(exc).splitlines()[0]}")
    inp = midi.MidiInput(port, MAPPING)
    out.send(cc(74, 127))
    import time

    deadline = time.monotonic() + 60  # a hang guard, not a budget
    got: list[Action] = []
    while not got and time.monotonic() < deadline:
        got = inp.poll()
    assert got == [Action("zoom", 4.0)]
    out.close()
    inp.close()


def test_learned_mappings_are_saved_into_the_config_file_keeping_the_rest(tmp_path):
    from realtime_cppn.show import keys

    path = tmp_path / "vj.toml"
    path.write_text(
        "# my show\n"
        "[keys]\n"
        '"ctrl+r" = "reseed"  # rebound\n'
        "\n"
        "[midi.cc]\n"
        '"1:1" = "zoom"\n'
        "\n"
        "[other]\n"
        "x = 1\n"
    )
    assert midi.load_config(path).bindings == {("cc", 0, 1): midi.Binding.for_param("zoom")}
    midi.save_config(path, MAPPING)
    text = path.read_text()
    assert text.startswith("# my show\n") and "# rebound" in text
    assert midi.load_config(path) == MAPPING
    assert keys.load_config(path).action_for("ctrl+r") == Action("reseed")
    assert tomllib.loads(text)["other"] == {"x": 1}
    # Saving again replaces, never duplicates, the MIDI tables.
    midi.save_config(path, midi.Mapping())
    assert midi.load_config(path) == midi.Mapping() and text.count("[midi.cc]") == 1
    # A new file is created; a file this cannot safely rewrite is left alone.
    fresh = tmp_path / "new.toml"
    midi.save_config(fresh, MAPPING)
    assert midi.load_config(fresh) == MAPPING
    for content in ('midi.cc."1:1" = "zoom"\n', "[keys\n"):
        odd = tmp_path / "odd.toml"
        odd.write_text(content)
        with pytest.raises(CPPNError):
            midi.save_config(odd, MAPPING)
        assert odd.read_text() == content
    with pytest.raises(CPPNError, match="no such config"):
        midi.load_config(tmp_path / "missing.toml")


def test_port_names_match_by_unique_part_and_a_miss_lists_the_ports(monkeypatch):
    """The matching logic on a port list as rtmidi reports one (the backend call is replaced:
    this machine has no ALSA sequencer to list real ports)."""
    names = ["nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0", "Launchpad X:Launchpad X LPX MIDI 24:0"]
    monkeypatch.setattr(mido, "get_input_names", lambda: list(names))
    opened = []
    monkeypatch.setattr(mido, "open_input", lambda name: opened.append(name) or name)
    assert midi.open_input("nanokontrol") == names[0]
    assert midi.open_input(names[1]) == names[1]
    with pytest.raises(CPPNError) as info:
        midi.open_input("Push 2")
    assert str(info.value).startswith("no MIDI input port 'Push 2'; ports: ")
    assert all(repr(n) in str(info.value) for n in names)
    with pytest.raises(CPPNError, match="several MIDI input ports match"):
        midi.open_input("MIDI")
