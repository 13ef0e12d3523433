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
from .spec import MAX_Z, View

FORMAT = "realtime-cppn/scene"
VERSION = 1
PNG_KEY = "realtime-cppn"
SEED_MAX = 2**64 - 1  # what torch's generator takes; the app's own draws stay below 2**31

# The network fields and their ranges, once for everything that reads a network config without
# torch (the reducer, banks, scene files); model.CPPNConfig holds the same defaults and limits
# (MAX_WIDTH, MAX_DEPTH), and a test checks they agree.
NETWORK_DEFAULTS: dict = {
    "seed": 0, "width": 32, "depth": 4, "activation": "tanh", "inputs": ["x", "y", "r"],
    "z_dim": 8, "out_channels": 3, "output_activation": "sigmoid", "sigma": 1.0, "scale": 2.0,
}
NETWORK_RANGES: dict[str, tuple[int, int]] = {
    "width": (1, 1024), "depth": (1, 64), "z_dim": (0, MAX_Z), "out_channels": (1, 3),
    "seed": (0, SEED_MAX),
}
MAX_NESTING = 32  # a scene is four levels deep; deeper JSON is hostile, not a scene


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
        check_nesting(d, "scene")
        try:
            v = d.get("view", {})
            if not isinstance(v, dict):
                raise CPPNError("scene view must be an object")
            center = v.get("center", (0.0, 0.0))
            if not isinstance(center, (list, tuple)):
                raise CPPNError(f"scene view center must be two numbers, got {center!r}")
            view = View(
                zoom=_number(v.get("zoom", 1.0), "zoom"),
                center=tuple(_number(c, "view center") for c in center),
                symmetry=str(v.get("symmetry", "none")),
                color=str(v.get("color", "rgb")),
                palette=str(v.get("palette", "rainbow")),
                wrap=str(v.get("wrap", "mirror")),
                uv_normalize=bool(v.get("uv_normalize", False)),
            )
            network = d.get("network", {})
            if not isinstance(network, dict):
                raise CPPNError("scene network must be an object")
            network = check_network(network, "scene network")
            return cls(
                network=network,
                view=view,
                loop=_number(d.get("loop", 8.0), "loop"),
                path_seed=_integer(d.get("path_seed", 0), "path_seed", 0, SEED_MAX),
                phase=_number(d.get("phase", 0.0), "phase"),
                texture=str(d.get("texture", "")),
            )
        except (TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, CPPNError):
                raise
            raise CPPNError(f"malformed scene: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> Scene:
        return cls.from_dict(parse_json(text, "scene"))


def parse_json(text: str | bytes, what: str) -> object:
    """JSON from an untrusted file: malformed or absurdly nested text is one CPPNError."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CPPNError(f"{what} is not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise CPPNError(f"{what} is not UTF-8 text") from None
    except RecursionError:
        raise CPPNError(f"{what} is nested deeper than {MAX_NESTING} levels") from None
    check_nesting(doc, what)
    return doc


def check_nesting(doc: object, what: str, limit: int | None = None) -> None:
    """Refuse documents nested deeper than ``limit`` (a scene is about four levels deep), so
    nothing downstream recurses into a hostile file. Iterative: no recursion of its own."""
    limit = MAX_NESTING if limit is None else limit
    stack = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            raise CPPNError(f"{what} is nested deeper than {limit} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


def _number(v: object, what: str) -> float:
    """A finite JSON number (not a bool, not a string)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise CPPNError(f"{what} must be a number, got {_show(v)}")
    try:
        f = float(v)
    except OverflowError:
        raise CPPNError(f"{what} must be a finite number, got {_show(v)}") from None
    if not math.isfinite(f):
        raise CPPNError(f"{what} must be a finite number, got {_show(v)}")
    return f


def _integer(v: object, what: str, lo: int, hi: int) -> int:
    """An integer in lo..hi (an integral float such as 3.0 counts; bools and strings do not)."""
    if isinstance(v, float) and math.isfinite(v) and v == int(v):
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise CPPNError(f"{what} must be an integer in {lo}..{hi}, got {_show(v)}")
    return v


def _show(v: object) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def check_network(network: dict, where: str) -> dict:
    """``network`` with the fields a file may set checked by type and range before anything is
    built (torch would take ``width: true`` as 1 and fail on a seed of 2**64 with a traceback),
    integral floats made ints. Absent fields take the model's defaults; unknown ones are refused
    when the network is built (a fitted scene names its fit there instead)."""
    network = dict(network)
    for key, (lo, hi) in NETWORK_RANGES.items():
        if key in network:
            network[key] = _integer(network[key], f"{where} {key}", lo, hi)
    for key in ("sigma", "scale"):
        if key in network and not _number(network[key], f"{where} {key}") > 0:
            raise CPPNError(f"{where} {key} must be a positive number, got {network[key]!r}")
    for key in ("activation", "inputs"):
        v = network.get(key)
        names = list(v) if isinstance(v, (list, tuple)) else [v]
        if key in network and (not names or not all(isinstance(n, str) for n in names)):
            raise CPPNError(f"{where} {key} must be a name or a list of names, got {_show(v)}")
    if "output_activation" in network and not isinstance(network["output_activation"], str):
        raise CPPNError(f"{where} output_activation must be a name, "
                        f"got {_show(network['output_activation'])}")
    return network
