"""`realtime-cppn grid`: networks of varying width (columns) and depth (rows), as in the seed.

Every cell shares the scene's seed, activations and one latent path, so a clip shows the whole
grid breathing together. Cells are rendered one network at a time on the same renderer and
composed in numpy; the output is a PNG, or a clip through the offline loop (``media.offline``)
for video suffixes and folders.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..core.errors import CPPNError

GUTTER = 2  # pixels of black between cells
MAX_CELLS = 64


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"a comma list of integers expected, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"a comma list of positive integers expected, got {text!r}")
    return values


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .args import _float, _int, add_scene_arguments

    add_scene_arguments(p)
    p.add_argument("--widths", type=_int_list, default=(8, 16, 32, 64), help="columns")
    p.add_argument("--depths", type=_int_list, default=(2, 4, 8), help="rows")
    p.add_argument("--cell", type=_int, default=192, help="cell size in pixels (square)")
    p.add_argument("--time", type=_float, default=0.0, help="seconds along the loop (stills)")
    p.add_argument("--fps", type=_float, default=30.0, help="clip frame rate")
    p.add_argument("--loops", type=_int, default=1, help="clip length in whole loops")
    p.add_argument("-o", "--output", type=Path,
                   help="a .png, or a clip (.mp4, .mov, folder/) rendered over --loops loops; "
                        "without it the grid plays live in a window")
    from .live import add_show_arguments

    add_show_arguments(p)


def layout(n_cols: int, n_rows: int, cell: int) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """Canvas size and the top-left corner of each cell, row-major (depth rows, width columns)."""
    size = (n_cols * cell + (n_cols + 1) * GUTTER, n_rows * cell + (n_rows + 1) * GUTTER)
    corners = [(GUTTER + c * (cell + GUTTER), GUTTER + r * (cell + GUTTER))
               for r in range(n_rows) for c in range(n_cols)]
    return size, corners


def render_grid(renderer, specs: list, view, cell: int, n_cols: int, n_rows: int,
                z: np.ndarray) -> np.ndarray:
    """One grid frame: uint8 (H, W, 3)."""
    (w, h), corners = layout(n_cols, n_rows, cell)
    canvas = np.zeros((h, w, 3), np.uint8)
    for spec, (x, y) in zip(specs, corners):
        renderer.set_network(spec, z)
        canvas[y:y + cell, x:x + cell] = renderer.read(
            renderer.draw((cell, cell), view, dtype="f1", display=True), 3)
    return canvas


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..api import default_renderer
    from ..core.animation import LatentPath
    from ..core.safeio import check_name
    from ..media.images import save_png
    from ..nn.build import scene_network
    from .args import scene_from_args

    if len(args.widths) * len(args.depths) > MAX_CELLS:
        raise CPPNError(f"at most {MAX_CELLS} cells")
    if args.output is not None:
        check_name(args.output)  # before any rendering
    scene = scene_from_args(args)
    net = dict(scene.network)
    if isinstance(net.get("activation"), list):
        raise CPPNError("a grid varies depth: give one --activation for all layers")
    specs = [scene_network(replace(scene, network={**net, "width": w, "depth": d}))
             for d in args.depths for w in args.widths]
    if args.output is None:
        from ..window.views import run_grid

        size, _ = layout(len(args.widths), len(args.depths), args.cell)
        return run_grid(args, scene, tuple(args.widths), tuple(args.depths), size)
    z_dim = specs[0].z_dim
    path = LatentPath(scene.path_seed, z_dim)
    renderer = default_renderer()
    grid = (renderer, specs, scene.view, args.cell, len(args.widths), len(args.depths))
    if args.output.suffix.lower() == ".png":
        frame = render_grid(*grid, path(scene.phase + args.time / scene.loop))
        save_png(args.output, frame, scene)
        print(f"wrote {args.output} ({frame.shape[1]}x{frame.shape[0]})")
        return 0
    from ..media import codecs, offline, writers
    from .args import PROG

    codec = codecs.codec_for_path(args.output)
    size, _ = layout(len(args.widths), len(args.depths), args.cell)
    frames = max(1, round(args.fps * scene.loop * args.loops))

    def draw(n: int):
        # Composed on the host: the loop crops it to the codec's size (never scales).
        return render_grid(*grid, path(scene.phase + n / (args.fps * scene.loop))), None

    return offline.write_clip(
        lambda: writers.open_writer(args.output, codec, codecs.fit_size(codec, size), args.fps),
        frames, draw, None, output=args.output, fps=args.fps, prog=PROG,
        wrote=lambda _writer, _elapsed: f"wrote {args.output}: {frames} frames")
