"""Scene banks: store / recall, a JSON round trip, and corrupt files as one-line CPPNErrors."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.scene import Scene
from realtime_cppn.core.spec import View
from realtime_cppn.instrument import bank


def scene(seed: int, **net) -> Scene:
    return Scene(network={"seed": seed, "width": 16, "depth": 3, "activation": "sin", **net},
                 view=View(zoom=1.5, symmetry="k6"), loop=4.0, path_seed=seed + 1, phase=0.25)


def test_store_recall_clear():
    b = bank.Bank().store(1, scene(1)).store(9, scene(9))
    assert b.recall(1) == scene(1) and b.recall(9) == scene(9) and b.recall(5) is None
    b2 = b.store(1, scene(2))
    assert b2.recall(1) == scene(2) and b.recall(1) == scene(1)  # immutable
    assert b2.clear(1).recall(1) is None
    for slot in (0, 10, "1", True, 1.0):
        with pytest.raises(CPPNError):
            b.recall(slot)


def test_save_and_load_round_trip_exactly(tmp_path):
    b = bank.Bank().store(3, scene(3)).store(7, scene(7, activation=["sin", "tanh", "relu"]))
    path = bank.save(b, tmp_path / "set.json")
    loaded = bank.load(path)
    assert loaded == b
    assert loaded.recall(7).network["activation"] == ["sin", "tanh", "relu"]
    assert json.loads(path.read_text())["format"] == bank.FORMAT
    assert not list(tmp_path.glob("*.partial"))


def test_can_morph_only_within_an_architecture():
    assert bank.can_morph(scene(1), scene(2))
    assert bank.can_morph(scene(1), replace(scene(1), view=View(zoom=3.0)))
    assert not bank.can_morph(scene(1), scene(1, width=32))
    assert not bank.can_morph(scene(1), scene(1, activation="tanh"))
    assert bank.can_morph(Scene(network={"seed": 1}), Scene(network={"seed": 5, "width": 32}))


GOOD = bank.Bank().store(1, scene(1)).to_dict()


@pytest.mark.parametrize("content", [
    b"",
    b"{",
    b"\xff\xfe\x00garbage",
    b"[]",
    b"null",
    json.dumps({"format": "something-else"}).encode(),
    json.dumps({**GOOD, "version": 99}).encode(),
    json.dumps({**GOOD, "slots": []}).encode(),
    json.dumps({**GOOD, "slots": {"0": GOOD["slots"]["1"]}}).encode(),
    json.dumps({**GOOD, "slots": {"10": GOOD["slots"]["1"]}}).encode(),
    json.dumps({**GOOD, "slots": {"one": GOOD["slots"]["1"]}}).encode(),
    json.dumps({**GOOD, "slots": {"1": "scene"}}).encode(),
    json.dumps({**GOOD, "slots": {"1": {**GOOD["slots"]["1"], "loop": -1}}}).encode(),
    json.dumps({**GOOD, "slots": {"1": {**GOOD["slots"]["1"], "view": {"zoom": "far"}}}}).encode(),
    json.dumps({**GOOD, "slots": {"1": {**GOOD["slots"]["1"], "view": {"symmetry": "k999"}}}}).encode(),
    json.dumps({**GOOD, "slots": {"1": {**GOOD["slots"]["1"], "network": {"width": 10**9}}}}).encode(),
    json.dumps({**GOOD, "slots": {"1": {**GOOD["slots"]["1"], "network": {"seed": "x"}}}}).encode(),
    json.dumps({**GOOD, "slots": {"1": {**GOOD["slots"]["1"], "phase": "NaN"}}}).encode(),
    b"[" * 100000 + b"]" * 100000,  # deep nesting
])
def test_corrupt_banks_are_one_line_errors(tmp_path, content):
    path = tmp_path / "bank.json"
    path.write_bytes(content)
    with pytest.raises(CPPNError) as info:
        bank.load(path)
    assert "\n" not in str(info.value)


def test_missing_oversized_and_unwritable_banks(tmp_path):
    with pytest.raises(CPPNError, match="no such bank"):
        bank.load(tmp_path / "missing.json")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (bank.MAX_BYTES + 1))
    with pytest.raises(CPPNError, match="at most"):
        bank.load(big)
    with pytest.raises(CPPNError, match="is a folder"):
        bank.load(tmp_path)  # a directory
    with pytest.raises(CPPNError, match="cannot write"):
        bank.save(bank.Bank(), tmp_path / "no" / "such" / "dir" / "bank.json")
