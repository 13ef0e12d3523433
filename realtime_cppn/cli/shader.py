"""``realtime-cppn shader --width 32 --depth 4 --path compute|fragment [--storage ubo|ssbo|texture]``.

Prints the exact program the renderer compiles on a GPU for a network's architecture (weights
are not in it: a reseed only uploads data), so anyone can feed it to a GPU compiler or profiler;
``-o FILE`` writes it instead. The text and the weight storage come from
``driver.program_source`` for a desktop GPU's profile; this module only builds the network.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.errors import CPPNError
from ..core.safeio import check_name, write_atomic
from ..rendering import driver
from ..rendering.codegen import glsl
from .args import add_network_arguments, scene_from_args, scene_spec

GPU = driver.DESKTOP_GPU


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_network_arguments(p)
    p.add_argument("--path", required=True, metavar="{" + ",".join(glsl.PATHS) + "}",
                   help="the renderer's shader path")
    p.add_argument("--storage", metavar="{" + ",".join(glsl.STORAGES) + "}",
                   help="where the weights live (default: as the renderer on a desktop GPU: one "
                        f"uniform block of {GPU.max_ubo} bytes, several, a storage buffer, then "
                        "a texture)")
    p.add_argument("-o", "--output", type=Path, help="write the source to this file, not stdout")
    # scene_from_args reads these; a shader does not depend on them.
    p.set_defaults(sigma=None, scale=None, loop=None, path_seed=None)


def run(args: argparse.Namespace) -> int:
    if args.path not in glsl.PATHS:
        raise CPPNError(f"unknown --path {args.path!r}; valid: {', '.join(glsl.PATHS)}")
    if args.storage is not None and args.storage not in glsl.STORAGES:
        raise CPPNError(f"unknown --storage {args.storage!r}; valid: {', '.join(glsl.STORAGES)}")
    out = check_name(args.output) if args.output else None
    spec = scene_spec(args, scene_from_args(args))
    if args.storage == "ubo" and GPU.storage(glsl.layout(spec).size, args.path) != "ubo":
        raise CPPNError(f"the network needs {16 * glsl.layout(spec).size} bytes of uniform blocks; "
                        f"a desktop GPU allows {GPU.max_blocks(args.path)} x {GPU.max_ubo} "
                        "(use --storage ssbo or texture)")
    text, storage = driver.program_source(GPU, spec, args.path, args.storage)
    if out is None:
        print(text, end="")
        return 0
    write_atomic(out, text)
    print(f"wrote {out} ({args.path} path, {storage} weights, {text.count(chr(10))} lines)")
    return 0
