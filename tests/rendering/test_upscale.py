"""The window's upscale filters (shaders/blit.frag through Renderer.present): texel for texel at
scale 1, and a Catmull-Rom bicubic, equal to a numpy reference, where a reduced render scale is
scaled up."""

from __future__ import annotations

import numpy as np
import pytest


def catmull_rom(img: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """Separable Catmull-Rom (a = -0.5) of (H, W, C) at pixel centres, edges clamped."""

    def axis(n_in: int, n_out: int) -> np.ndarray:
        pos = (np.arange(n_out) + 0.5) * n_in / n_out
        c = np.floor(pos - 0.5) + 0.5
        f = pos - c
        w = np.stack([f * (-0.5 + f * (1 - 0.5 * f)), 1 + f * f * (-2.5 + 1.5 * f),
                      f * (0.5 + f * (2 - 1.5 * f)), f * f * (-0.5 + 0.5 * f)], -1)
        m = np.zeros((n_out, n_in))
        base = (c - 0.5).astype(int)
        for k in range(4):
            idx = np.clip(base - 1 + k, 0, n_in - 1)
            np.add.at(m, (np.arange(n_out), idx), w[:, k])
        return m

    my, mx = axis(img.shape[0], out_h), axis(img.shape[1], out_w)
    return np.clip(np.einsum("yi,ijc,xj->yxc", my, img, mx), 0.0, 1.0)


def present(renderer, gl_context, img: np.ndarray, out: tuple[int, int], filt: str):
    import moderngl

    h, w = img.shape[:2]
    tex = gl_context.texture((w, h), 4, dtype="f4")
    tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
    rgba = np.concatenate([img, np.ones((h, w, 1))], -1).astype(np.float32)
    tex.write(np.ascontiguousarray(rgba[::-1]).tobytes())
    # Kept, as other tests keep theirs: a released framebuffer still bound breaks the next one.
    fbo = gl_context.simple_framebuffer(out, components=4, dtype="f4")
    before = renderer.upscale
    try:
        renderer.upscale = filt
        renderer.present(tex, fbo, (0, 0, *out))
        data = np.frombuffer(fbo.read(components=4, dtype="f4"), np.float32)
    finally:
        renderer.upscale = before
        tex.release()
    return data.reshape(out[1], out[0], 4)[::-1, :, :3]


@pytest.mark.parametrize("filt", ["bilinear", "catmull-rom"])
def test_scale_1_is_texel_for_texel(renderer, gl_context, filt):
    img = np.random.default_rng(1).uniform(0, 1, (24, 32, 3))
    assert np.abs(present(renderer, gl_context, img, (32, 24), filt) - img).max() < 1e-6


def test_catmull_rom_equals_the_reference_and_is_sharper_than_bilinear(renderer, gl_context):
    rng = np.random.default_rng(2)
    img = rng.uniform(0, 1, (12, 16, 3))
    img[:, 8:] = np.clip(img[:, 8:] + 0.5, 0, 1)  # an edge, as a picture has
    out = (64, 48)  # 4x: a 1/4 render scale
    cubic = present(renderer, gl_context, img, out, "catmull-rom")
    linear = present(renderer, gl_context, img, out, "bilinear")
    ref = catmull_rom(img, *out)
    assert np.abs(cubic - ref).max() < 0.02  # the GPU's bilinear taps round their weights
    assert np.abs(cubic - ref).mean() < 0.002
    assert np.abs(cubic - linear).mean() > 0.005  # really a different filter

    def sharpness(a):  # mean gradient magnitude: bicubic keeps more of the edges
        return np.abs(np.diff(a, axis=1)).mean() + np.abs(np.diff(a, axis=0)).mean()
    assert sharpness(cubic) > sharpness(linear)
