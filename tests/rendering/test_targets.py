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


def test_capture_targets_are_the_renderers_and_counted(gl_context):
    r = Renderer(gl_context, path="fragment")
    try:
        r.set_network(rc.to_spec(rc.CPPN(width=4, depth=1, seed=2)))
        tex, fbo = r.capture_target((20, 10))
        r.capture_target((8, 8))  # left to release()
        assert r.gl_objects()["captures"] == 2 and tex.size == (20, 10)
        r.present(r.draw((20, 10), display=True), fbo, (0, 0, 20, 10))
        frame = np.clip(r.read(r.target((20, 10)), 3) * 255 + 0.5, 0, 255)
        shown = np.frombuffer(tex.read(), np.uint8).reshape(10, 20, 4)[::-1, :, :3]
        assert shown.std() > 5  # a picture, not a cleared target
        assert np.abs(shown.astype(float) - frame).max() <= 2  # texel for texel, bottom row first
        r.release_capture(tex, fbo)  # it was the bound framebuffer: the next one must work
        r.release_capture(tex, fbo)  # already freed: left be
        assert r.gl_objects()["captures"] == 1
        r.capture_target((4, 4))
        assert gl_context.error == "GL_NO_ERROR"
    finally:
        r.release()
    assert r.gl_objects()["captures"] == 0
    assert gl_context.error == "GL_NO_ERROR"


def test_cache_stats_count_hits_misses_and_evictions(gl_context, monkeypatch):
    from realtime_cppn.rendering import renderer as renderer_module

    monkeypatch.setattr(renderer_module, "MAX_TARGETS", 2)
    r = Renderer(gl_context, path="fragment")
    try:
        for size in ((8, 8), (8, 8), (9, 9), (10, 10)):
            r.target(size)
        assert r.cache_stats()["targets"] == {"hits": 1, "misses": 3, "evictions": 1}
        assert r.gl_objects()["targets"] == 2
    finally:
        r.release()


def test_read_pools_are_kept_per_size_up_to_a_bound(gl_context, monkeypatch):
    from realtime_cppn.rendering import renderer as renderer_module

    monkeypatch.setattr(renderer_module, "MAX_READ_POOLS", 2)
    r = Renderer(gl_context, path="fragment")
    try:
        r.set_network(rc.to_spec(rc.CPPN(width=4, depth=1, seed=2)))
        want = r.read(r.draw((8, 8)), 3)
        for size in ((8, 8), (8, 8), (9, 9), (10, 10)):
            frame = r.read_async(r.draw(size), 3).result()  # the buffer goes back to its pool
        assert frame.shape == (10, 10, 3)
        assert r.cache_stats()["read_pools"] == {"hits": 1, "misses": 3, "evictions": 1}
        assert r.gl_objects()["read_pools"] == 2 and r.gl_objects()["read_buffers"] == 2
        late = r.read_async(r.draw((8, 8)), 3)  # (9, 9) goes; (8, 8) comes back new
        r.read_async(r.draw((11, 11)), 3).release()  # (10, 10) goes
        np.testing.assert_allclose(late.result(), want, atol=1e-6)
        assert r.gl_objects()["read_pools"] == 2 and gl_context.error == "GL_NO_ERROR"
    finally:
        r.release()
    assert r.gl_objects()["read_pools"] == 0
