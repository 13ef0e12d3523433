"""The command line: ``realtime-cppn [live] | still | ...``; one vocabulary of options for all.

Every error a user can cause ends as one line on stderr and exit status 2, never a traceback.
Subcommands live in their own modules and register here in COMMANDS: each has
``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
from dataclasses import replace
from pathlib import Path

from ..core import activations, spec
from ..core.errors import CPPNError
from ..core.scene import Scene

PROG = "realtime-cppn"

# name -> (module, one-line help); the first is the default when no subcommand is given.
COMMANDS: dict[str, tuple[str, str]] = {
    "live": ("realtime_cppn.window.app", "open the live window (the default)"),
    "still": ("realtime_cppn.cli.main", "render one image to a PNG"),
    "fit": ("realtime_cppn.cli.fit", "train a CPPN to reproduce an image"),
    "grid": ("realtime_cppn.cli.grid", "render a grid of networks: width x depth"),
    "render": ("realtime_cppn.cli.render", "render a clip offline"),
    "replay": ("realtime_cppn.cli.replay", "render a recorded performance log again, frame-exact"),
    "export": ("realtime_cppn.cli.export", "export a scene as a Shadertoy, ISF or glslViewer shader"),
    "doctor": ("realtime_cppn.cli.doctor", "say what this machine can run (OpenGL, display, codecs, "
                                           "OSC, MIDI, audio, video out) and why not"),
    "shader": ("realtime_cppn.cli.shader", "print the exact shader the renderer compiles for a network"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage too by default)
        raise CPPNError(message)


def _arg(fn):
    """argparse shows an ArgumentTypeError's own text; any other error becomes 'invalid value'."""

    def conv(text: str):
        try:
            return fn(text)
        except CPPNError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    conv.__name__ = fn.__name__
    return conv


@_arg
def _activation_list(text: str) -> str | tuple[str, ...]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    for n in names:
        activations.get(n)
    if not names:
        raise CPPNError("--activation needs a name")
    return names[0] if len(names) == 1 else tuple(names)


@_arg
def _symmetry(text: str) -> str:
    spec.View(symmetry=text)
    return text


@_arg
def _size(text: str) -> tuple[int, int]:
    return spec.parse_size(text)


def _typed(fn, what: str):
    def conv(text: str):
        try:
            return fn(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{what} expected, got {text!r}") from None

    conv.__name__ = what
    return conv


_int = _typed(int, "an integer")
_float = _typed(float, "a number")


def add_scene_arguments(p: argparse.ArgumentParser) -> None:
    """Options that describe a scene: the network, the view and the loop (shared by commands)."""
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


# --- still ------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_scene_arguments(p)
    p.add_argument("--size", type=_size,
                   help="WxH (default: the size of a --scene PNG, else 1024x1024)")
    p.add_argument("--time", type=_float, help="seconds along the latent loop (default: scene's)")
    p.add_argument("-o", "--output", type=Path, default=Path("cppn.png"), help="PNG to write")


MAX_STILL_PIXELS = 8192 * 8192  # ~100 bytes a pixel while a still renders on the cpu path: 6.5 GB
STILL_DEFAULT_SIDE = 4096  # a --scene PNG's own size is capped to this unless --size says more


def run(args: argparse.Namespace) -> int:
    from ..api import default_renderer
    from ..media.images import check_png_output, save_png
    from ..nn.build import scene_z

    output = check_png_output(args.output)
    scene = scene_from_args(args)
    if args.time is not None:
        scene = scene.at_time(args.time)
    size = check_still_size(args.size or _still_size(args.scene))
    net_spec = scene_spec(args, scene)
    renderer = default_renderer()
    limit = getattr(renderer, "max_size", None)
    if limit is not None and max(size) > limit:
        raise CPPNError(f"--size {size[0]}x{size[1]} is over this GPU's limit of {limit} pixels "
                        f"a side")
    if scene.texture:
        from ..media.images import load_texture

        renderer.set_texture(load_texture(scene.texture))
    renderer.set_network(net_spec, scene_z(scene, net_spec))
    frame = renderer.read(renderer.draw(size, scene.view, display=True), 3)
    save_png(output, frame, scene)
    print(f"wrote {output} ({size[0]}x{size[1]})")
    return 0


def check_still_size(size: tuple[int, int]) -> tuple[int, int]:
    """A still's size, refused above MAX_STILL_PIXELS (the memory one render may take)."""
    w, h = spec.check_size(size)
    if w * h > MAX_STILL_PIXELS:
        raise CPPNError(f"--size {w}x{h} is {w * h / 1e6:.0f} megapixels; a still is at most "
                        f"{MAX_STILL_PIXELS / 1e6:.0f} megapixels (8192x8192)")
    return w, h


def _still_size(scene_path: Path | None) -> tuple[int, int]:
    """A PNG given as --scene is rendered again at its own size, scaled down to at most
    STILL_DEFAULT_SIDE on its long side (a bigger one needs an explicit --size); anything else
    at 1024x1024."""
    from ..core.safeio import open_regular
    from ..media.images import PNG_MAGIC, read_png_scene

    if scene_path is None:
        return (1024, 1024)
    with open_regular(scene_path, "scene file") as f:
        if f.read(8) != PNG_MAGIC:
            return (1024, 1024)
    w, h = read_png_scene(scene_path)[1]
    k = min(1.0, STILL_DEFAULT_SIDE / max(w, h, 1))
    return max(1, round(w * k)), max(1, round(h * k))


# --- entry point ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Random CPPN art, live on the GPU.")
    parser.add_argument("--version", action="store_true",
                        help="print the version, the libraries' versions and the OpenGL renderer")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(p)
    return parser


def _command(argv: list[str]) -> list[str]:
    """``argv`` with its command first: none given means the live window; a word that names no
    command is refused with the nearest one (``stil`` -> ``still``)."""
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        return [next(iter(COMMANDS)), *argv]
    if argv[0] in COMMANDS or argv[0] in ("-h", "--help"):
        return argv
    near = difflib.get_close_matches(argv[0], list(COMMANDS), n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    raise CPPNError(f"unknown command {argv[0]!r}; {hint}commands: {', '.join(COMMANDS)}")


def _version() -> int:
    from . import doctor as doctor_cmd

    print(doctor_cmd.versions())
    _, ok, detail = doctor_cmd.gl_check()
    print(f"OpenGL: {detail}" if ok else f"OpenGL: unavailable: {detail}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["--version"]:
            return _version()
        args = build_parser().parse_args(_command(argv))
        module = importlib.import_module(COMMANDS[args.command][0])
        return int(module.run(args) or 0)
    except CPPNError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
