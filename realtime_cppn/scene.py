"""Scene: everything needed to render a picture again, as plain JSON-able values.

A scene names the network by its config (architecture, activations, seed: weights are a pure
function of them), the view, and the position on the latent loop. PNGs this tool writes carry the
scene as a text chunk (key ``realtime-cppn``), so any still or screenshot can be rendered again.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace

from .errors import CPPNError
from .spec import View

FORMAT = "realtime-cppn/scene"
VERSION = 1
PNG_KEY = "realtime-cppn"


@dataclass(frozen=True)
class Scene:
    network: dict = field(default_factory=dict)  # CPPNConfig fields (model.CPPNConfig.to_dict)
    view: View = field(default_factory=View)
    loop: float = 8.0  # seconds per latent loop
    path_seed: int = 0  # which closed latent path
    phase: float = 0.0  # position on the loop, in loops (time / loop at speed 1)
    texture: str = ""  # image file a uv network remaps ("" = the built-in grid)

    def __post_init__(self) -> None:
        if not (isinstance(self.loop, (int, float)) and math.isfinite(self.loop) and self.loop > 0):
            raise CPPNError(f"loop must be a positive number of seconds, got {self.loop!r}")
        if not (isinstance(self.phase, (int, float)) and math.isfinite(self.phase)):
            raise CPPNError(f"phase must be a finite number, got {self.phase!r}")

    def at_time(self, seconds: float) -> Scene:
        return replace(self, phase=seconds / self.loop)

    def to_dict(self) -> dict:
        view = asdict(self.view)
        view.pop("extra", None)
        view["center"] = list(self.view.center)
        return {
            "format": FORMAT,
            "version": VERSION,
            "network": self.network,
            "view": view,
            "loop": self.loop,
            "path_seed": self.path_seed,
            "phase": self.phase,
            "texture": self.texture,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> Scene:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise CPPNError("not a realtime-cppn scene")
        if d.get("version") != VERSION:
            raise CPPNError(f"unsupported scene version {d.get('version')!r}")
        try:
            v = d.get("view", {})
            if not isinstance(v, dict):
                raise CPPNError("scene view must be an object")
            view = View(
                zoom=float(v.get("zoom", 1.0)),
                center=tuple(float(c) for c in v.get("center", (0.0, 0.0))),
                symmetry=str(v.get("symmetry", "none")),
                color=str(v.get("color", "rgb")),
                palette=str(v.get("palette", "rainbow")),
                wrap=str(v.get("wrap", "mirror")),
                uv_normalize=bool(v.get("uv_normalize", False)),
            )
            network = d.get("network", {})
            if not isinstance(network, dict):
                raise CPPNError("scene network must be an object")
            return cls(
                network=network,
                view=view,
                loop=float(d.get("loop", 8.0)),
                path_seed=int(d.get("path_seed", 0)),
                phase=float(d.get("phase", 0.0)),
                texture=str(d.get("texture", "")),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, CPPNError):
                raise
            raise CPPNError(f"malformed scene: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> Scene:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise CPPNError(f"scene is not valid JSON: {exc}") from None
