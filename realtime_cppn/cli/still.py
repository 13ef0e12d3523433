"""``realtime-cppn still``: render one image of a scene to a PNG."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core import spec
from ..core.errors import CPPNError
from .args import _float, _size, add_scene_arguments, scene_from_args, scene_spec


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
