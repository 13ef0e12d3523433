"""``realtime-cppn export SCENE --format shadertoy|isf|glsl -o FILE``: a scene as a host's shader.

SCENE is a scene file (.json, with its stored weights when it has them) or any PNG this tool
wrote (``still`` output, screenshots: the network is re-drawn from the config's seed). The shader
text comes from ``exports``; this module only reads the scene, checks sizes and writes the file.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
from pathlib import Path

from ..core.animation import HARMONICS
from ..core.errors import CPPNError
from ..core.safeio import check_name, write_atomic
from ..core.scene import Scene
from ..exports import formats as exports
from ..media import scenefile
from .args import _float


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scene", type=Path, help="scene file (.json) or a PNG this tool wrote")
    p.add_argument("--format", "-f", dest="format", default="shadertoy", metavar="FORMAT",
                   help=f"{' | '.join(exports.FORMATS)} (default shadertoy)")
    p.add_argument("-o", "--output", type=Path,
                   help="file to write (default: the scene's name with .glsl / .fs / .frag)")
    p.add_argument("--speed", type=_float, default=1.0,
                   help="loops advance at speed / loop per second, as the app's speed (default 1)")


def _config_weights(scene: Scene) -> int:
    """Weights a config-only scene would bake, counted before drawing them."""
    from ..nn.build import scene_config

    cfg = scene_config(scene)  # checks the config: a bad one is a CPPNError here
    fan_in = len(cfg.inputs) + cfg.z_dim
    n = 2 * HARMONICS * cfg.z_dim  # latent Fourier coefficients
    for fan_out in [cfg.width] * cfg.depth + [cfg.out_channels]:
        n += fan_out * (fan_in + 1)
        fan_in = fan_out
    return n


def check_output(out: Path, scene: Path, fmt: str) -> Path:
    """The export's output path: the format's suffix, a name within the OS limits, and never
    the scene itself or its weights (an export must not overwrite what it reads)."""
    out = check_name(out)
    suffix = exports.SUFFIXES[fmt]
    if out.suffix.lower() != suffix:
        raise CPPNError(f"{fmt} exports are written to {suffix} files, not {out.name!r}")
    inputs = (scene, scene.with_suffix(".npz"))
    for src in inputs:
        same = out.resolve() == src.resolve()
        with contextlib.suppress(OSError):
            same = same or os.path.samefile(out, src)
        if same:
            raise CPPNError(f"the export would overwrite its own input {src}: choose another -o")
    return out


def run(args: argparse.Namespace) -> int:
    fmt = str(args.format).lower()
    if fmt not in exports.FORMATS:
        raise CPPNError(f"unknown export format {args.format!r}; valid: {', '.join(exports.FORMATS)}")
    if not (math.isfinite(args.speed) and args.speed >= 0):
        raise CPPNError(f"--speed must be a non-negative number, got {args.speed}")
    sf = scenefile.load(args.scene)
    if sf.spec is None:
        # Refuse a huge config before drawing millions of weights only to refuse them after.
        exports.check_weight_count(_config_weights(sf.scene), fmt)
    spec = scenefile.network(sf)
    text = exports.export(sf.scene, spec, fmt, speed=args.speed)
    out = check_output(args.output or args.scene.with_suffix(exports.SUFFIXES[fmt]), args.scene,
                       fmt)
    write_atomic(out, text)
    print(f"wrote {out} ({fmt}, {exports.weight_count(spec)} weights)")
    return 0
