"""``realtime-cppn grid -o CLIP``: the grid clip through the offline loop, decoded back and
compared frame by frame with ``render_grid`` at the same latent phase."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from realtime_cppn import api
from realtime_cppn.cli import args as cli_args
from realtime_cppn.cli import main as cli

av = pytest.importorskip("av")

GRID = ["--widths", "4,8", "--depths", "1,2", "--cell", "32", "--seed", "3", "--loop", "1",
        "--fps", "4"]


@pytest.mark.parametrize("name", ["seq", "grid.mp4"])
def test_a_grid_clip_holds_the_grid_at_each_frame(tmp_path, renderer, monkeypatch, capsys,
                                                   name):
    from dataclasses import replace

    from realtime_cppn.cli.grid import layout, render_grid
    from realtime_cppn.core.animation import LatentPath
    from realtime_cppn.nn.build import scene_network

    monkeypatch.setattr(api, "_default", renderer)
    out = tmp_path / name
    assert cli.main(["grid", *GRID, "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}: 4 frames\n"
    scene = cli_args.scene_from_args(cli.build_parser().parse_args(["grid", *GRID]))
    specs = [scene_network(replace(scene, network={**scene.network, "width": w, "depth": d}))
             for d in (1, 2) for w in (4, 8)]
    path = LatentPath(scene.path_seed, specs[0].z_dim)
    (w, h), _ = layout(2, 2, 32)  # 70x70: even, so H.264 takes it whole
    if out.is_dir():
        frames = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(out.iterdir())]
    else:
        with av.open(str(out)) as c:
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 4 and frames[0].shape == (h, w, 3)
    for n, frame in enumerate(frames):
        want = render_grid(renderer, specs, scene.view, 32, 2, 2, path(scene.phase + n / 4))
        error = np.abs(frame.astype(float) - want).mean()
        assert error <= (0.0 if out.is_dir() else 6.0), (n, error)
