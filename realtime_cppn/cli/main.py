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

from ..core.errors import CPPNError
from .args import PROG, Parser

# name -> (module, one-line help); the first is the default when no subcommand is given.
COMMANDS: dict[str, tuple[str, str]] = {
    "live": ("realtime_cppn.cli.live", "open the live window (the default)"),
    "still": ("realtime_cppn.cli.still", "render one image to a PNG"),
    "fit": ("realtime_cppn.cli.fit", "train a CPPN to reproduce an image"),
    "grid": ("realtime_cppn.cli.grid", "render a grid of networks: width x depth"),
    "render": ("realtime_cppn.cli.render", "render a clip offline"),
    "replay": ("realtime_cppn.cli.replay", "render a recorded performance log again, frame-exact"),
    "export": ("realtime_cppn.cli.export", "export a scene as a Shadertoy, ISF or glslViewer shader"),
    "doctor": ("realtime_cppn.cli.doctor", "say what this machine can run (OpenGL, display, codecs, "
                                           "OSC, MIDI, audio, video out) and why not"),
    "shader": ("realtime_cppn.cli.shader", "print the exact shader the renderer compiles for a network"),
}


# --- entry point ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description="Random CPPN art, live on the GPU.")
    parser.add_argument("--version", action="store_true",
                        help="print the version, the libraries' versions and the OpenGL renderer")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
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
