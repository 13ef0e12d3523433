"""`realtime-cppn fit IMAGE`: train a CPPN to reproduce an image, then keep it as a scene.

Training runs in torch on the CPU with a progress line on stderr; the fitted network is saved as
a scene file (JSON + .npz weights) and previewed by the shader at any resolution, where zooming
goes past the training pixels (the seed's super-sampling).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..core.errors import CPPNError

MAX_TRAIN_SIDE = 512  # CPU training beyond this is minutes per step group; downscale first


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .args import _float, _int, _size

    p.add_argument("image", type=Path, help="the image to fit (any format Pillow reads)")
    p.add_argument("--steps", type=_int, default=500, help="Adam steps (default 500)")
    p.add_argument("--width", type=_int, default=64)
    p.add_argument("--depth", type=_int, default=6)
    p.add_argument("--activation", default="tanh")
    p.add_argument("--fourier", type=_int, default=0,
                   help="Fourier feature pairs (e.g. 32): sharper fits, see README")
    p.add_argument("--batch-norm", action="store_true", help="batch norm after each hidden layer")
    p.add_argument("--lr", type=_float, default=3e-3)
    p.add_argument("--train-size", type=_int, default=96,
                   help=f"longest side the image is reduced to for training (max {MAX_TRAIN_SIDE})")
    p.add_argument("--seed", type=_int, default=0)
    p.add_argument("--save", type=Path, default=Path("fitted.json"), help="scene file to write")
    p.add_argument("-o", "--output", type=Path, help="also render a PNG preview")
    p.add_argument("--size", type=_size, default=(1024, 1024), help="preview size")
    p.add_argument("--zoom", type=_float, default=1.0, help="preview magnification")
    p.add_argument("--live", action="store_true",
                   help="show the training in a window (target beside the network), then play "
                        "the fitted network there")
    p.add_argument("--every", type=_int, default=10, help="--live: redraw every N steps")
    from .live import add_show_arguments

    add_show_arguments(p)


def load_target(path: Path, side: int) -> np.ndarray:
    """The image as float32 (H, W, 3) in [0, 1], reduced so its longest side is ``side``."""
    from PIL import Image

    from ..media.images import load_texture

    if not 8 <= side <= MAX_TRAIN_SIDE:
        raise CPPNError(f"--train-size must be in 8..{MAX_TRAIN_SIDE}, got {side}")
    rgba = load_texture(path, "image")  # bounds, decoding errors, 16-bit and alpha: there
    h, w = rgba.shape[:2]
    k = side / max(w, h)
    im = Image.fromarray(rgba[..., :3])
    if k < 1:
        im = im.resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.LANCZOS)
    return np.asarray(im, dtype=np.float32) / 255.0


def _fitted_scene(args: argparse.Namespace, cfg):
    """The scene a fit saves: its network names the image and the fit's settings."""
    from ..core.scene import Scene
    from ..core.spec import View

    return Scene(network={"fitted": str(args.image.name), "fit": {
        "width": cfg.width, "depth": cfg.depth, "activation": cfg.activation,
        "fourier": cfg.fourier, "batch_norm": cfg.batch_norm, "steps": cfg.steps}},
        view=View(zoom=args.zoom), loop=8.0)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..api import default_renderer
    from ..media import scenefile
    from ..media.images import check_png_output, save_png
    from ..media.progress import Progress
    from ..nn.train import FitConfig, fit, psnr

    # Output names are checked before minutes of training, not after.
    scenefile.check_output(args.save, "--save scene file")
    if args.output:
        check_png_output(args.output)
    target = load_target(args.image, args.train_size)
    cfg = FitConfig(width=args.width, depth=args.depth, activation=args.activation,
                    fourier=args.fourier, batch_norm=args.batch_norm, steps=args.steps,
                    lr=args.lr, seed=args.seed)
    progress = Progress(cfg.steps, sys.stderr, unit="steps")
    view = None
    if args.live:
        from ..window.views import FitView

        view = FitView(args, target, args.every)

    def on_step(step: int, loss: float, model) -> bool:
        progress.update(step + 1)
        if view is None:
            return False
        from ..nn.export import from_torch

        return view.step(step, loss, lambda: from_torch(model, inputs=("x", "y", "r"),
                                                        scale=cfg.scale))

    try:
        spec, history = fit(target, cfg, on_step=on_step)
    except BaseException:
        if view is not None:
            view.close()
        raise
    progress.finish()
    # One GL context per process: with a window, its renderer measures and previews too.
    renderer = view.renderer if view is not None else default_renderer()
    renderer.set_network(spec)
    h, w = target.shape[:2]
    achieved = psnr(renderer.read(renderer.draw((w, h), display=True), 3), target)
    scene = _fitted_scene(args, cfg)
    scenefile.save(args.save, scene, spec)
    print(f"fitted {args.image} ({w}x{h}) in {len(history)} steps: loss {history[-1]:.4f}, "
          f"PSNR {achieved:.1f} dB; scene {args.save}")
    if args.output:
        frame = renderer.read(renderer.draw(args.size, replace(scene.view), display=True), 3)
        save_png(args.output, frame, scene)
        print(f"wrote {args.output} ({args.size[0]}x{args.size[1]})")
    if view is not None:
        return view.play(scene, spec, args.frames)
    return 0
