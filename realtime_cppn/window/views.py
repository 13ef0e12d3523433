"""The grid and fit windows: a ``Live`` show drawn as a grid of networks, or a fit as it trains."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..core.animation import blend
from ..core.errors import CPPNError
from ..core.spec import NetworkSpec
from ..live import hud as overlay
from ..live.live import GRID_LABEL_SECONDS, TITLE, Live
from ..show import actions, keys
from ..show.clock import FixedClock, WallClock
from .window import Window, no_window, show, starting_frame, warm_torch

# --- the grid and fit windows ---------------------------------------------------------------------


class GridView:
    """``realtime-cppn grid`` live: a cell per (depth row, width column), every cell the show's
    network at that width and depth, all on the show's one latent path and clock. The keys act
    on the shared network (seed, morph, activation), the view and time; width and depth come
    from the grid. Cells are drawn one after another into the window's sub-viewports, each
    tagged with its width x depth for the first seconds and while the info overlay (I) shows."""

    def __init__(self, live: Live, widths: tuple[int, ...], depths: tuple[int, ...],
                 gutter: int = 2) -> None:
        self.live = live
        self.widths, self.depths, self.gutter = widths, depths, gutter
        live.spec_cache = max(live.spec_cache, 2 * len(widths) * len(depths) + 4)
        live.record_settings = None  # a take of the grid could not be replayed: refuse it
        self._labels: dict[tuple[int, int, int], np.ndarray] = {}

    def cells(self, fb_size: tuple[int, int]) -> tuple[int, list[tuple[int, int, int, int]]]:
        """The cell side and each cell's (width, depth, x, y from the top) for a window size."""
        w, h = fb_size
        cols, rows, g = len(self.widths), len(self.depths), self.gutter
        side = max(1, min((w - (cols + 1) * g) // cols, (h - (rows + 1) * g) // rows))
        return side, [(wd, dp, g + c * (side + g), g + r * (side + g))
                      for r, dp in enumerate(self.depths) for c, wd in enumerate(self.widths)]

    def spec(self, width: int, depth: int) -> NetworkSpec:
        live, s = self.live, self.live.state
        net = {**s.scene.network, "width": width, "depth": depth}
        if isinstance(net.get("activation"), list):  # a per-layer list follows each depth
            acts = list(net["activation"])
            net["activation"] = (acts + acts[-1:] * depth)[:depth]
        spec = live.spec_for(net)
        if s.morph is not None:
            spec = blend(live.spec_for({**net, "seed": s.morph.from_seed}), spec,
                         s.morph.progress(s.time))
        return spec

    def label(self, width: int, depth: int, side: int) -> np.ndarray:
        """A cell's 'W x D' tag at its top left, sized to the cell (cached)."""
        key = (width, depth, side)
        tag = self._labels.get(key)
        if tag is None:
            size = max(overlay.MIN_FONT, min(self.live.font_size, side // 6))
            tag = overlay.panel([("", f"{width} x {depth}")], "", size, pad=2)
            tag = self._labels[key] = np.ascontiguousarray(tag[:side, :side])
            while len(self._labels) > 4 * len(self.widths) * len(self.depths):
                self._labels.pop(next(iter(self._labels)))  # sizes of a window resized often
        return tag

    def render(self, fbo, fb_size: tuple[int, int]) -> None:
        live, s = self.live, self.live.state
        r = live.renderer
        fbo.use()
        fbo.clear(0.0, 0.0, 0.0, 1.0)
        side, cells = self.cells(fb_size)
        _, fh = fb_size
        z = None
        for width, depth, x, y in cells:
            spec = self.spec(width, depth)
            if z is None:  # one latent path for every cell (z size is the scene's, not the shape's)
                z = live.latent(s.scene.path_seed, spec.z_dim, s.scene.phase)
            r.set_network(spec, z)
            tex = r.draw((side, side), s.scene.view, dtype="f4", display=True)
            r.present(tex, fbo, (x, fh - y - side, side, side))  # GL rows count from the bottom
        live._uploaded = None  # the renderer holds the last cell now, not the show's network
        if s.info or s.time < GRID_LABEL_SECONDS:
            for width, depth, x, y in cells:
                tag = self.label(width, depth, side)
                th, tw = tag.shape[:2]
                r.draw_overlay(tag, fbo, (x, fh - y - th, tw, th))
        img = live.overlay_image(fb_size)
        if img is not None:
            oh, ow = img.shape[:2]
            r.draw_overlay(img, fbo, (0, fh - oh, ow, oh))
        live.fb_size = fb_size
        live.count_frame()


def open_show(args: argparse.Namespace, scene, size: tuple[int, int], title: str = TITLE):
    """A window, a renderer on it and a Live show of ``scene`` for the grid and fit windows."""
    from ..rendering.renderer import Renderer

    keymap = keys.load_config(args.config) if getattr(args, "config", None) else keys.DEFAULT
    clock = FixedClock(args.fixed_fps, pace=True) if getattr(args, "fixed_fps", None) \
        else WallClock()
    state = actions.initial_state(scene, paused=bool(getattr(args, "paused", False)))
    window = Window(size, vsync=not getattr(args, "no_vsync", False))
    warm_torch()
    try:
        renderer = Renderer.from_current_context()
    except CPPNError as exc:
        window.close()
        raise no_window(str(exc)) from None
    font_size = round(14 * window.content_scale())
    starting_frame(window, renderer, font_size)
    live = Live(renderer, state, keymap, clock, font_size=font_size)
    window.set_title(title)
    return window, renderer, live


def run_grid(args: argparse.Namespace, scene, widths: tuple[int, ...],
             depths: tuple[int, ...], size: tuple[int, int]) -> int:
    """The grid command's window (``realtime-cppn grid`` without ``-o``)."""
    window, renderer, live = open_show(args, scene, size)
    try:
        live.update()  # builds and checks the base network before the first frame
        return show(live, window, getattr(args, "frames", None),
                    draw=GridView(live, widths, depths).render)
    finally:
        live.close()
        renderer.release()
        window.close()


class FitView:
    """``realtime-cppn fit IMAGE --live``: the target beside the network being trained,
    redrawn every few steps while training runs, then the fitted network played live."""

    def __init__(self, args: argparse.Namespace, target: np.ndarray, every: int = 10) -> None:
        from ..core.scene import Scene

        h, w = target.shape[:2]
        side = 384
        k = side / max(w, h)
        self.panel = (max(1, round(w * k)), max(1, round(h * k)))  # each half of the window
        self.every = max(1, every)
        self.window, self.renderer, self.live = open_show(
            args, Scene(), (2 * self.panel[0], self.panel[1]), f"{TITLE} | fitting")
        rgba = np.concatenate([np.clip(target, 0, 1) * 255 + 0.5,
                               np.full((h, w, 1), 255.0)], axis=-1).astype(np.uint8)
        self.target = rgba  # (H, W, 4) shown with the overlay blend (opaque)
        self.stopped = False

    def step(self, step: int, loss: float, spec_of: Callable[[], NetworkSpec]) -> bool:
        """Called every training step; redraws every ``every`` steps. True: the window closed."""
        g = self.window.glfw
        g.poll_events()
        for key in self.window.take_keys():
            if key in ("escape", "ctrl+q"):
                self.stopped = True
        if self.window.should_close:
            self.stopped = True
        if step % self.every == 0 and not self.stopped:
            r = self.renderer
            spec = spec_of()
            r.set_network(spec)
            fb = self.window.framebuffer_size()
            if fb[0] > 0 and fb[1] > 0:
                screen = r.screen(fb, clear=(0.0, 0.0, 0.0, 1.0))
                half = fb[0] // 2
                r.draw_overlay(self.target, screen, (0, 0, half, fb[1]))
                tex = r.draw(self.panel, dtype="f4", display=True)
                r.present(tex, screen, (half, 0, fb[0] - half, fb[1]))
                g.swap_buffers(self.window.handle)
            self.window.set_title(f"{TITLE} | fitting: step {step + 1}, loss {loss:.4f}")
        return self.stopped

    def play(self, scene, spec: NetworkSpec, max_frames: int | None = None) -> int:
        """Keep playing the fitted network (any zoom, past the training pixels) until quit."""
        live = self.live
        live.pin(scene.network, spec)
        live.state = replace(live.state, scene=scene)
        live._uploaded = None
        try:
            if self.stopped:
                return 0
            return show(live, self.window, max_frames)
        finally:
            self.close()

    def close(self) -> None:
        self.live.close()
        self.renderer.release()
        self.window.close()


