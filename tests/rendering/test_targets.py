"""Frame targets: freeing one that is still bound must not break the next one."""

from __future__ import annotations

import numpy as np
import pytest

import realtime_cppn as rc
from realtime_cppn.rendering.renderer import Renderer

pytestmark = pytest.mark.gl


@pytest.mark.parametrize("path", ["fragment", "compute"])
def test_release_of_a_bound_target_then_a_new_one(gl_context, path):
    r = Renderer(gl_context, path=path)
    try:
        r.set_network(rc.to_spec(rc.CPPN(width=4, depth=1, seed=2)))
        first = r.read(r.draw((16, 8)))
        r.release_targets()  # the (16, 8) framebuffer was the bound one
        again = r.read(r.draw((24, 8)))  # needs a new framebuffer: must not raise
        assert gl_context.error == "GL_NO_ERROR"
        np.testing.assert_allclose(r.read(r.draw((16, 8))), first, atol=1e-6)
        assert again.shape == (8, 24, 3)
    finally:
        r.release()


def test_programs_are_kept_per_architecture_up_to_a_bound(gl_context, monkeypatch):
    from realtime_cppn.rendering import renderer as renderer_module

    monkeypatch.setattr(renderer_module, "MAX_PROGRAMS", 3)
    r = Renderer(gl_context, path="fragment")
    try:
        specs = [rc.to_spec(rc.CPPN(width=w, depth=1, seed=2)) for w in (2, 3, 4, 5)]
        images = []
        for spec in specs[:3]:
            r.set_network(spec)
            images.append(r.read(r.draw((8, 8))))
        r.set_network(specs[0])  # used again: now the most recent, so width 3 goes first
        assert r.stats.compiles == 3
        r.set_network(specs[3])
        assert r.gl_objects()["programs"] == 3 and r.stats.compiles == 4
        assert r.ready(specs[0]) and not r.ready(specs[1]) and r.ready(specs[2])
        r.set_network(specs[1])  # evicted: compiled again, and draws as before
        assert r.stats.compiles == 5
        np.testing.assert_array_equal(r.read(r.draw((8, 8))), images[1])
        assert gl_context.error == "GL_NO_ERROR"
    finally:
        r.release()
