"""The specialised (constants-baked) program: same pixels as the uniform path, swapped in without
a hitch, never while the weights move."""

from __future__ import annotations

import time

import numpy as np
import pytest

import realtime_cppn as rc
from realtime_cppn.core.animation import blend
from realtime_cppn.rendering.background import SPECIALIZE_AFTER
from realtime_cppn.rendering.renderer import Renderer

pytestmark = pytest.mark.gl


@pytest.fixture(scope="module", params=["compute", "fragment"])
def _pair(request, _session_context):
    base = Renderer(_session_context, path=request.param)
    special = Renderer(_session_context, path=request.param, specialize="sync")
    yield base, special
    special.release()
    base.release()


@pytest.mark.parametrize("activation", ["tanh", "sin", "gaussian", "relu"])
@pytest.mark.parametrize("channels", [1, 3])
def test_baked_program_draws_what_the_uniform_program_draws(_pair, gl_context, activation,
                                                            channels):
    base, special = _pair
    spec = rc.to_spec(rc.CPPN(width=6, depth=2, activation=activation, out_channels=channels,
                              seed=11))
    z = np.linspace(-1.5, 1.5, 8)
    view = rc.View(symmetry="k5", zoom=1.3)
    for r in (base, special):
        r.set_network(spec, z)
    before = special.stats.special_compiles
    a = base.read(base.draw((40, 24), view))
    b = special.read(special.draw((40, 24), view))
    assert special.stats.special_compiles == before + 1  # the baked program really drew
    np.testing.assert_allclose(b, a, atol=2e-5)
    # z moves every frame: the baked program takes the z-folded bias as a uniform
    for r in (base, special):
        r.set_latent(-z)
    np.testing.assert_allclose(special.read(special.draw((40, 24), view)),
                               base.read(base.draw((40, 24), view)), atol=2e-5)
    # 8-bit display frames: at most one level apart, so switching paths shows no jump
    a8 = base.read(base.draw((40, 24), view, dtype="f1", display=True), 3).astype(int)
    b8 = special.read(special.draw((40, 24), view, dtype="f1", display=True), 3).astype(int)
    assert np.abs(a8 - b8).max() <= 1


def test_async_swaps_in_after_the_child_compiles_and_morphs_never_wait(gl_context):
    r = Renderer(gl_context, path="compute", specialize="async")
    try:
        a = rc.to_spec(rc.CPPN(width=6, depth=2, seed=1))
        b = rc.to_spec(rc.CPPN(width=6, depth=2, seed=2))
        r.set_network(a)
        first = r.read(r.draw((32, 32)))  # the uniform program draws at once
        assert r.stats.special_compiles == 0
        # While the weights move (a morph), nothing is built.
        for t in np.linspace(0, 1, SPECIALIZE_AFTER + 3):
            r.set_network(blend(a, b, float(t)))
            r.draw((32, 32))
        assert r._special.child.proc is None and r.stats.special_compiles == 0
        r.set_network(a)
        deadline = time.monotonic() + 120
        while r.stats.special_compiles == 0 and time.monotonic() < deadline:
            r.draw((32, 32))
            time.sleep(0.05)
        assert r.stats.special_compiles == 1, "the baked program never arrived"
        assert r._special.mode == "async", "the render thread's compile missed the shared cache"
        np.testing.assert_allclose(r.read(r.draw((32, 32))), first, atol=2e-5)
    finally:
        r.release()


def test_big_networks_on_llvmpipe_wait_for_the_weights_to_settle(gl_context):
    from realtime_cppn.rendering.background import LLVMPIPE_QUICK_MACS, Specializer

    r = Renderer(gl_context, path="compute", specialize="async")
    try:
        if "llvmpipe" not in r.gl_renderer:
            pytest.skip("the settle time applies to llvmpipe's minute-long compiles only")
        small = rc.to_spec(rc.CPPN(width=6, depth=2, seed=1))
        big = rc.to_spec(rc.CPPN(width=128, depth=2, seed=1))  # 17k multiply-adds per pixel
        assert big.macs_per_pixel > LLVMPIPE_QUICK_MACS >= small.macs_per_pixel
        assert Specializer.settle_seconds(r, small) == 0.0
        assert 5.0 < Specializer.settle_seconds(r, big) < 5.5
        r.set_network(big)
        for _ in range(SPECIALIZE_AFTER + 3):
            r.draw((8, 8))
        assert r._special.child.proc is None  # held still for a moment only: no build yet
        r._special.stable_since -= 6.0  # as if the weights had stayed put for 6 s
        r.draw((8, 8))
        assert r._special.child.proc is not None  # now the baked build starts
    finally:
        r.release()
