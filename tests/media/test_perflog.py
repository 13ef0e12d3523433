"""The performance log: JSON lines written, read back, and refused when malformed."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.scene import Scene
from realtime_cppn.core.spec import View
from realtime_cppn.media import perflog

SCENE = Scene(network={"seed": 3, "width": 8}, view=View(zoom=1.5), loop=4.0, path_seed=2,
              phase=0.25)


@dataclass(frozen=True)
class Action:  # the live vocabulary's shape (actions.Action): a name and one optional value
    name: str
    value: object = None


def test_round_trip(tmp_path):
    path = tmp_path / "show.jsonl"
    with perflog.Writer(path, SCENE, state={"speed": 1.0, "paused": False}, fps=60) as w:
        w.write(0.0, Action("reseed", 1234))
        w.write(1.25, Action("activation", ("sin", "tanh")))
        w.write(1.25, "toggle_info")
        w.write(2.5, "speed", {"value": 0.5})
    log = perflog.read(path, known={"reseed", "activation", "toggle_info", "speed"})
    assert log.scene == SCENE
    assert log.header["state"] == {"speed": 1.0, "paused": False} and log.header["fps"] == 60
    assert [(e.t, e.action, e.value) for e in log.events] == [
        (0.0, "reseed", 1234), (1.25, "activation", ["sin", "tanh"]), (1.25, "toggle_info", None),
        (2.5, "speed", 0.5)]
    assert log.duration == 2.5 and len(log.until(1.25)) == 3 and not log.truncated
    lines = path.read_text().splitlines()
    assert json.loads(lines[2]) == {"t": 1.25, "action": "activation",
                                    "args": {"value": ["sin", "tanh"]}}


def test_every_line_is_flushed_and_a_cut_last_line_is_dropped(tmp_path):
    path = tmp_path / "show.jsonl"
    w = perflog.Writer(path, SCENE)
    w.write(0.5, "reseed", {"value": 1})
    w.write(0.75, "speed", {"value": 2.0})
    # Read while still open (as after a crash): everything written is there.
    assert len(perflog.read(path).events) == 2
    w.close()
    text = path.read_text()
    path.write_text(text[:-9])  # the show died while writing the last line
    log = perflog.read(path)
    assert log.truncated and [e.action for e in log.events] == ["reseed"]


def test_writer_refuses_bad_events(tmp_path):
    with perflog.Writer(tmp_path / "a.jsonl", SCENE) as w:
        w.write(1.0, "speed", {"value": 2})
        with pytest.raises(CPPNError, match="backwards"):
            w.write(0.5, "speed")
        with pytest.raises(CPPNError, match="plain JSON"):
            w.write(2.0, "speed", {"value": object()})
        with pytest.raises(CPPNError, match="finite"):
            w.write(float("nan"), "speed")
        with pytest.raises(CPPNError, match="lower-case name"):
            w.write(2.0, "Speed Up")
    with pytest.raises(CPPNError, match="closed"):
        w.write(3.0, "speed")
    with pytest.raises(CPPNError, match="cannot write"):
        perflog.Writer(tmp_path / "missing" / "a.jsonl", SCENE)


HEADER = json.dumps({"format": perflog.FORMAT, "version": 1, "scene": SCENE.to_dict()})


@pytest.mark.parametrize(("text", "match"), [
    ("", "empty"),
    ("{\n", "not valid JSON"),
    ('{"format": "other"}\n', "not a realtime-cppn performance log"),
    (HEADER.replace('"version": 1', '"version": 9') + "\n", "version"),
    (json.dumps({"format": perflog.FORMAT, "version": 1, "scene": {"loop": 1}}) + "\n",
     "starting scene"),
    (HEADER + '\n{"t": 1, "action": "reseed"}\n[1]\n', "line 3"),
    (HEADER + '\n{"t": 2, "action": "reseed"}\n{"t": 1, "action": "reseed"}\n', "goes back"),
    (HEADER + '\n{"t": -1, "action": "reseed"}\n', "line 2: time"),
    (HEADER + '\n{"t": 1, "action": "reseed", "args": 5}\n', "args must be an object"),
    (HEADER + '\n{"t": 1, "action": "reseed", "extra": 1}\n', "an event is"),
    (HEADER + '\n{"t": 1, "action": "self_destruct"}\n', "unknown action 'self_destruct'"),
    (HEADER + '\nnot json\n{"t": 1, "action": "reseed"}\n', "line 2 is not valid JSON"),
])
def test_malformed_logs_are_one_clear_error(tmp_path, text, match):
    path = tmp_path / "show.jsonl"
    path.write_text(text)
    with pytest.raises(CPPNError, match=match) as info:
        perflog.read(path, known=lambda name: name in {"reseed", "speed"})
    assert "\n" not in str(info.value)


def test_missing_log(tmp_path):
    with pytest.raises(CPPNError, match="no such performance log"):
        perflog.read(tmp_path / "none.jsonl")
