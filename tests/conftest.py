"""Shared test fixtures: one headless EGL context per session, renderers on it, a torch reference.

GL hygiene follows moderngl's own suite: a single standalone context for the whole session, and
``ctx.error == "GL_NO_ERROR"`` checked before and after every test that touches it. A machine
without any OpenGL context fails the GL tests loudly (CI must have Mesa); set
``RCPPN_ALLOW_NO_GL=1`` to skip them instead.

The reference is the network evaluated in torch float64 on ``realtime_cppn.coords``: the exact
grid the shader evaluates, so a parity test compares the same function on the same points.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest

GL_FIXTURES = {"_session_context", "gl_context", "renderer", "fragment_renderer", "ubo_renderer"}


def pytest_configure(config: pytest.Config) -> None:
    # Mesa compiles every shader with LLVM; a persistent cache makes the second run fast. Set it
    # before any context exists (subprocesses inherit it).
    if not os.environ.get("MESA_SHADER_CACHE_DIR") and getattr(config, "cache", None) is not None:
        os.environ["MESA_SHADER_CACHE_DIR"] = str(config.cache.mkdir("mesa-shader-cache"))
    _children_get_default_signals()


def _children_get_default_signals() -> None:
    """A shell runs `pytest &` with SIGINT ignored and `nohup pytest` with SIGHUP ignored, and an
    ignored signal stays ignored across exec: the apps the tests start would never see the Ctrl-C
    or hang-up a test sends them. A do-nothing handler keeps pytest itself deaf to them, as its
    caller asked, while every child starts with the default (handlers reset on exec)."""
    import signal

    for name in ("SIGINT", "SIGHUP", "SIGTERM"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) == signal.SIG_IGN:
            signal.signal(sig, lambda signum, frame: None)


@pytest.fixture(autouse=True)
def _stop_signals_not_left_ignored() -> Iterator[None]:
    """A test that runs a stop-signal handler in this process (offline clips ignore later
    signals once one arrived) must leave none ignored: every app started afterwards would
    inherit it."""
    yield
    _children_get_default_signals()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Everything that uses a GL fixture is a `gl` test, so `-m "not gl"` selects the rest.
    for item in items:
        if GL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.gl)


@pytest.fixture(scope="session")
def _session_context():
    from realtime_cppn.core.errors import CPPNError
    from realtime_cppn.rendering.renderer import create_headless_context

    try:
        ctx = create_headless_context()
    except CPPNError as exc:
        if os.environ.get("RCPPN_ALLOW_NO_GL") == "1":
            pytest.skip(f"no OpenGL context: {exc}")
        pytest.fail(f"no OpenGL context ({exc}); set RCPPN_ALLOW_NO_GL=1 to skip GL tests",
                    pytrace=False)
    yield ctx
    ctx.release()


@pytest.fixture
def gl_context(_session_context) -> Iterator:
    """The session's context, with the GL error flag checked clean before and after the test."""
    ctx = _session_context
    assert ctx.error == "GL_NO_ERROR", "a previous test left a GL error"
    yield ctx
    assert ctx.error == "GL_NO_ERROR"


def _session_renderer(request, **kwargs):
    from realtime_cppn.rendering.renderer import Renderer

    r = Renderer(request.getfixturevalue("_session_context"), **kwargs)
    request.addfinalizer(r.release)
    return r


@pytest.fixture(scope="session")
def _renderer(request):
    return _session_renderer(request)


@pytest.fixture(scope="session")
def _compute_renderer(request):
    return _session_renderer(request, path="compute")


@pytest.fixture(scope="session")
def _cpu_renderer(request):
    return _session_renderer(request, path="cpu")


@pytest.fixture(scope="session")
def _fragment_renderer(request):
    return _session_renderer(request, path="fragment")


@pytest.fixture(scope="session")
def _ubo_renderer(request):
    return _session_renderer(request, path="compute", storage="ubo")


@pytest.fixture
def renderer(_renderer, gl_context):
    """The default renderer: what users get (the cpu path on llvmpipe, compute on a GPU)."""
    return _renderer


@pytest.fixture
def compute_renderer(_compute_renderer, gl_context):
    """The compute-shader path (four pixels per invocation; texture weights on llvmpipe)."""
    return _compute_renderer


@pytest.fixture
def cpu_renderer(_cpu_renderer, gl_context):
    """The cpu path: numpy evaluates the network (and colours raw and rgb frames)."""
    return _cpu_renderer


@pytest.fixture
def fragment_renderer(_fragment_renderer, gl_context):
    """The fragment-shader path (full-screen triangle into a framebuffer)."""
    return _fragment_renderer


@pytest.fixture
def ubo_renderer(_ubo_renderer, gl_context):
    """Weights in a std140 uniform block instead of a float texture."""
    return _ubo_renderer


# --- reference --------------------------------------------------------------------------------


def reference(spec, size, z=None, view=None) -> tuple[np.ndarray, list[np.ndarray]]:
    """``spec`` evaluated in torch float64 on ``coords``: outputs (H, W, C) and every layer's
    pre-activation (H, W, out) for tests that skip pixels near a discontinuity."""
    import torch

    from realtime_cppn.core import activations
    from realtime_cppn.core.spec import coords

    h = torch.from_numpy(coords(size, spec.inputs, spec.scale, view))  # (H, W, n_inputs)
    if spec.z_dim:
        zt = torch.from_numpy(spec.check_z(z))
        h = torch.cat([h, zt.expand(*h.shape[:-1], spec.z_dim)], dim=-1)
    pre = []
    for layer in spec.layers:
        w = torch.from_numpy(layer.weight.astype(np.float64))
        b = torch.from_numpy(layer.bias.astype(np.float64))
        a = h @ w.T + b
        pre.append(a.numpy())
        h = activations.get(layer.activation).torch(a)
    return h.numpy(), pre


def away_from_discontinuities(spec, pre: list[np.ndarray], margin: float = 1e-3) -> np.ndarray:
    """(H, W) mask of pixels whose every pre-activation of a discontinuous activation (tan's
    poles, sign's zero) lies more than ``margin`` from the jump."""
    mask = np.ones(pre[0].shape[:2], dtype=bool)
    for layer, a in zip(spec.layers, pre):
        if layer.activation == "tan":
            dist = np.abs(np.remainder(a, np.pi) - np.pi / 2)  # poles at pi/2 + k pi
            mask &= (dist > margin).all(axis=-1)
        elif layer.activation == "sign":
            mask &= (np.abs(a) > margin).all(axis=-1)
    return mask


@pytest.fixture(scope="session")
def torch_reference():
    """``reference`` as a fixture, for test modules that cannot import conftest."""
    return reference
