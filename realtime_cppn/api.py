"""One-call rendering: ``render(net, size, z)`` with a lazily created headless renderer."""

from __future__ import annotations

import numpy as np

from .core.spec import NetworkSpec, View

_default = None


def default_renderer():
    """The process-wide headless renderer (created on first use)."""
    global _default
    if _default is None:
        from .rendering.renderer import Renderer

        _default = Renderer()
    return _default


def render(
    net,
    size: tuple[int, int] = (512, 512),
    z: np.ndarray | None = None,
    view: View | None = None,
    renderer=None,
) -> np.ndarray:
    """Evaluate ``net`` (a CPPN, a plain torch MLP on (x, y), or a NetworkSpec) on the GPU.

    Args:
        net: a ``CPPN``, a plain torch MLP taking (x, y) (exported with ``from_torch``), or a
            ``NetworkSpec``.
        size: (width, height) in pixels.
        z: the latent (z_dim,) values; zeros when omitted.
        view: zoom, symmetry and colour mode; the plain view when omitted.
        renderer: the renderer to draw with; a process-wide headless one when omitted.

    Returns:
        The raw network outputs as float32 (H, W, C), top row first, computed on exactly the
        grid ``realtime_cppn.coords`` returns.

    Raises:
        CPPNError: a network the renderer cannot carry or a size out of range.
    """
    if not isinstance(net, NetworkSpec):
        from .nn.export import as_spec

        net = as_spec(net)
    r = renderer or default_renderer()
    r.set_network(net, z)
    return r.read(r.draw(size, view), net.out_channels)
