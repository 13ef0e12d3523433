"""Frame targets: freeing one that is still bound must not break the next one."""

from __future__ import annotations

import numpy as np
import pytest

import realtime_cppn as rc
from realtime_cppn.renderer import Renderer

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
