"""Argument helpers every command shares: the parser, the scene options and the scene they describe.

A leaf of the cli: it imports the layers below and no other cli module.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from ..core import activations, spec
from ..core.argtypes import activation_list as _activation_list
from ..core.argtypes import integer as _int
from ..core.argtypes import number as _float
from ..core.argtypes import size as _size
from ..core.argtypes import symmetry as _symmetry
from ..core.errors import CPPNError
from ..core.scene import Scene

PROG = "realtime-cppn"

__all__ = ["PROG", "Parser", "_activation_list", "_float", "_int", "_size", "_symmetry",
           "add_scene_arguments", "load_scene", "scene_from_args", "scene_spec"]


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage too by default)
        raise CPPNError(message)


def add_network_arguments(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The network's architecture options (the group is returned for commands to extend)."""
    g = p.add_argument_group("network")
    g.add_argument("--scene", type=Path, help="start from a scene (.json) or a PNG this tool wrote")
    g.add_argument("--seed", type=_int, help="weight seed (default 0)")
    g.add_argument("--width", type=_int, help="units per hidden layer (default 32)")
    g.add_argument("--depth", type=_int, help="hidden layers (default 4)")
    g.add_argument("--activation", type=_activation_list,
                   help=f"hidden activation, or a comma list per layer: {', '.join(activations.NAMES)}")
    g.add_argument("--output-activation", help="output activation (default sigmoid)")
    g.add_argument("--inputs", help="coordinate features, comma list of x,y,r,b (default x,y,r)")
    g.add_argument("--z-dim", type=_int, help="latent size (default 8; 0 for none)")
    g.add_argument("--channels", type=_int, choices=(1, 2, 3), help="3 rgb, 1 mono, 2 uv")
    return g


def add_scene_arguments(p: argparse.ArgumentParser) -> None:
    """Options that describe a scene: the network, the view and the loop (shared by commands)."""
    g = add_network_arguments(p)
    g.add_argument("--sigma", type=_float, help="weight standard deviation (default 1.0)")
    g.add_argument("--scale", type=_float, help="coordinate scale (default 2.0)")
    v = p.add_argument_group("view")
    v.add_argument("--zoom", type=_float, help="magnification (default 1)")
    v.add_argument("--symmetry", type=_symmetry, metavar="{none,x,y,xy,k2..k12}",
                   help="mirror x/y (the seed's abs()), or an n-fold kaleidoscope kN")
    v.add_argument("--color", choices=spec.COLOR_MODES, help="rgb, hsv (outputs as h,s,v), palette")
    v.add_argument("--palette", choices=tuple(spec.PALETTES), help="gradient for --color palette")
    v.add_argument("--texture", type=Path, help="image a uv network (--channels 2) remaps")
    v.add_argument("--wrap", choices=spec.WRAPS, help="texture wrap for uv outside [0, 1]")
    v.add_argument("--uv-normalize", action="store_true", default=None,
                   help="stretch the uv map by its per-frame min/max (the seed's way; flickers)")
    v.add_argument("--loop", type=_float, help="seconds per latent loop (default 8)")
    v.add_argument("--path-seed", type=_int, help="which latent path (default: the weight seed)")


_NETWORK_FLAGS = {
    "seed": "seed", "width": "width", "depth": "depth", "activation": "activation",
    "output_activation": "output_activation", "z_dim": "z_dim", "channels": "out_channels",
    "sigma": "sigma", "scale": "scale",
}


def scene_from_args(args: argparse.Namespace) -> Scene:
    """A Scene from --scene (if given) overridden by any explicit flag."""
    base = Scene()
    if getattr(args, "scene", None):
        base = load_scene(args.scene)
    network = dict(base.network)
    for flag, key in _NETWORK_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            network[key] = list(value) if isinstance(value, tuple) else value
    if getattr(args, "inputs", None):
        network["inputs"] = [s.strip() for s in args.inputs.split(",") if s.strip()]
    view = base.view
    overrides = {
        k: getattr(args, k)
        for k in ("zoom", "symmetry", "color", "palette", "wrap", "uv_normalize")
        if getattr(args, k, None) is not None
    }
    if overrides:
        view = replace(view, **overrides)
    path_seed = args.path_seed if args.path_seed is not None else (
        network.get("seed", 0) if args.seed is not None or not base.network else base.path_seed
    )
    return Scene(
        network=network,
        view=view,
        loop=args.loop if args.loop is not None else base.loop,
        path_seed=path_seed,
        phase=base.phase,
        texture=str(args.texture) if getattr(args, "texture", None) else base.texture,
    )


def load_scene(path: Path) -> Scene:
    """A scene from a .json scene file or a PNG this tool wrote (scenefile.load checks both)."""
    from ..media import scenefile

    return scenefile.load(path).scene


def scene_spec(args: argparse.Namespace, scene: Scene):
    """The network to render: a --scene file's stored weights when its network is not
    overridden by flags, else the config's seeded weights."""
    if getattr(args, "scene", None):
        from ..media import scenefile

        # A PNG holds no weights: network() draws the config's, as for no --scene at all.
        return scenefile.network(scenefile.load(args.scene), scene)
    from ..nn.build import scene_network

    return scene_network(scene)
