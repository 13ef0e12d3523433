"""``realtime-cppn shader --width 32 --depth 4 --path compute|fragment [--storage ubo|texture]``.

Prints the exact program the renderer compiles on a GPU for a network's architecture (weights
are not in it: a reseed only uploads data), so anyone can feed it to a GPU compiler or profiler;
``-o FILE`` writes it instead. The text comes from ``glsl.source``; this module only builds the
network from the flags and picks the weight storage the renderer would.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core import activations
from ..core.errors import CPPNError
from ..core.safeio import check_name, write_atomic
from ..core.spec import NetworkSpec
from ..rendering.codegen import glsl
from .args import _activation_list, _int, scene_from_args, scene_spec

# GL_MAX_UNIFORM_BLOCK_SIZE on NVIDIA and AMD desktop drivers; GL itself promises only 16 KiB,
# and the renderer reads the real limit from the context it runs in.
GPU_MAX_UBO = 65536
STORAGES = ("ubo", "texture")


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("network")
    g.add_argument("--scene", type=Path, help="take the network from a scene (.json) or a PNG")
    g.add_argument("--seed", type=_int, help="weight seed (default 0; the source does not change)")
    g.add_argument("--width", type=_int, help="units per hidden layer (default 32)")
    g.add_argument("--depth", type=_int, help="hidden layers (default 4)")
    g.add_argument("--activation", type=_activation_list,
                   help=f"hidden activation, or a comma list per layer: {', '.join(activations.NAMES)}")
    g.add_argument("--output-activation", help="output activation (default sigmoid)")
    g.add_argument("--inputs", help="coordinate features, comma list of x,y,r,b (default x,y,r)")
    g.add_argument("--z-dim", type=_int, help="latent size (default 8; 0 for none)")
    g.add_argument("--channels", type=_int, choices=(1, 2, 3), help="3 rgb, 1 mono, 2 uv")
    p.add_argument("--path", required=True, metavar="{" + ",".join(glsl.PATHS) + "}",
                   help="the renderer's shader path")
    p.add_argument("--storage", metavar="{" + ",".join(STORAGES) + "}",
                   help="where the weights live (default: a uniform block where the network "
                        f"fits {GPU_MAX_UBO} bytes, else a texture, as the renderer on a GPU)")
    p.add_argument("-o", "--output", type=Path, help="write the source to this file, not stdout")
    # scene_from_args reads these; a shader does not depend on them.
    p.set_defaults(sigma=None, scale=None, loop=None, path_seed=None)


def storage_for(spec: NetworkSpec, storage: str | None) -> str:
    """The weight storage for ``spec``: the one asked for, else the renderer's choice on a GPU."""
    need = 16 * glsl.layout(spec).size
    if storage is None:
        return "ubo" if need <= GPU_MAX_UBO else "texture"
    if storage not in STORAGES:
        raise CPPNError(f"unknown --storage {storage!r}; valid: {', '.join(STORAGES)}")
    if storage == "ubo" and need > GPU_MAX_UBO:
        raise CPPNError(f"the network needs {need} bytes of uniform block; GPUs allow "
                        f"{GPU_MAX_UBO} (use --storage texture)")
    return storage


def run(args: argparse.Namespace) -> int:
    if args.path not in glsl.PATHS:
        raise CPPNError(f"unknown --path {args.path!r}; valid: {', '.join(glsl.PATHS)}")
    if args.storage is not None and args.storage not in STORAGES:
        raise CPPNError(f"unknown --storage {args.storage!r}; valid: {', '.join(STORAGES)}")
    out = check_name(args.output) if args.output else None
    spec = scene_spec(args, scene_from_args(args))
    storage = storage_for(spec, args.storage)
    text = glsl.source(spec, args.path, storage)
    if out is None:
        print(text, end="")
        return 0
    write_atomic(out, text)
    print(f"wrote {out} ({args.path} path, {storage} weights, {text.count(chr(10))} lines)")
    return 0
