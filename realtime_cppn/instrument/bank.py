"""Scene banks: nine slots of Scenes to store and recall live, saved as one JSON file.

A bank file is plain JSON, never pickle::

    {"format": "realtime-cppn/bank", "version": 1,
     "slots": {"1": <Scene.to_dict()>, "4": {...}}}

Scenes name their network by config and seed (weights are a pure function of them), so no
weights are stored; a fitted network belongs in a scene file (``scenefile``). Loading trusts
nothing: size, JSON, format, version, slot numbers and every scene are checked, and any problem
is one CPPNError line (the app logs it and plays on with an empty bank). ``can_morph`` tells the
app whether a recall can morph (same architecture: only the seed differs) or must cut.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import CPPNError
from ..core.safeio import read_limited, write_atomic
from ..core.scene import NETWORK_DEFAULTS, Scene, check_network, parse_json

FORMAT = "realtime-cppn/bank"
VERSION = 1
SLOTS = tuple(range(1, 10))
MAX_BYTES = 4 << 20  # nine scenes are a few kilobytes; a bigger file is not a bank


def _check_slot(slot: Any) -> int:
    if isinstance(slot, bool) or not isinstance(slot, int) or slot not in SLOTS:
        raise CPPNError(f"bank slots are 1-9, got {slot!r}")
    return slot


def _check_network(network: dict, where: str) -> None:
    """The fields a bank scene must get right to be playable (the rest is checked at build)."""
    check_network({**NETWORK_DEFAULTS, **network}, f"{where}: network")


@dataclass(frozen=True)
class Bank:
    """Slot (1-9) -> Scene. Immutable: store and clear return a new Bank."""

    slots: Mapping[int, Scene] = field(default_factory=dict)

    def store(self, slot: int, scene: Scene) -> Bank:
        _check_slot(slot)
        _check_network(scene.network, f"slot {slot}")
        return Bank({**self.slots, slot: scene})

    def recall(self, slot: int) -> Scene | None:
        """The scene in ``slot``, or None when it is empty (the app says so and plays on)."""
        return self.slots.get(_check_slot(slot))

    def clear(self, slot: int) -> Bank:
        _check_slot(slot)
        return Bank({k: v for k, v in self.slots.items() if k != slot})

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION,
                "slots": {str(k): self.slots[k].to_dict() for k in sorted(self.slots)}}

    @classmethod
    def from_dict(cls, doc: Any, where: str = "bank") -> Bank:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise CPPNError(f"{where} is not a realtime-cppn bank")
        if doc.get("version") != VERSION:
            raise CPPNError(f"{where}: unsupported bank version {doc.get('version')!r}")
        raw = doc.get("slots")
        if not isinstance(raw, dict):
            raise CPPNError(f"{where}: 'slots' must be an object of slot number -> scene")
        slots: dict[int, Scene] = {}
        for key, value in raw.items():
            if not (isinstance(key, str) and key.isdigit() and int(key) in SLOTS):
                raise CPPNError(f"{where}: bank slots are 1-9, got {key!r}")
            try:
                scene = Scene.from_dict(value)
                _check_network(scene.network, f"slot {key}")
            except CPPNError as exc:
                raise CPPNError(f"{where}: slot {key}: {exc}") from None
            slots[int(key)] = scene
        return cls(slots)


def can_morph(a: Scene, b: Scene) -> bool:
    """Whether recalling ``b`` from ``a`` can morph the weights (the same architecture: the
    networks differ at most in their seed)."""
    def arch(s: Scene) -> dict:
        net = {**NETWORK_DEFAULTS, **s.network}
        net.pop("seed", None)
        return net

    return arch(a) == arch(b)


def save(bank: Bank, path: str | Path) -> Path:
    """Write ``bank`` to ``path`` through a temporary file, so a failure leaves the old one."""
    path = Path(path)
    data = json.dumps(bank.to_dict(), indent=2, sort_keys=True) + "\n"
    try:
        write_atomic(path, data)
    except CPPNError as exc:
        raise CPPNError(f"bank: {exc}") from None
    return path


def load(path: str | Path) -> Bank:
    """The bank in ``path``; any problem with the file is one CPPNError line. A FIFO, a device
    or a file over MAX_BYTES is refused before it is read."""
    path = Path(path)
    where = f"bank {path.name}"
    data = read_limited(path, MAX_BYTES, "bank file")
    doc = parse_json(data, where)
    try:
        return Bank.from_dict(doc, where)
    except CPPNError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        raise CPPNError(f"{where}: malformed ({type(exc).__name__}: {exc})") from None
