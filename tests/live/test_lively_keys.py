"""No dead picture from any key: activation, width, depth and colour keys are judged like a
reseed (a 32x32 render through the liveliness measures), on the cpu path where nothing compiles.
The show's picture after each key is measured independently of the check's own render."""

from __future__ import annotations

import numpy as np

from realtime_cppn.core import liveliness
from realtime_cppn.core.scene import Scene
from realtime_cppn.live.live import Live
from realtime_cppn.show.actions import apply, initial_state, parse
from realtime_cppn.show.clock import FixedClock

SIZE = (64, 48)


def show(renderer, gl_context, network: dict | None = None):
    state = initial_state(Scene(network={"seed": 0} if network is None else network,
                                path_seed=7), paused=True)
    live = Live(renderer, state, clock=FixedClock(10))
    fbo = gl_context.simple_framebuffer(SIZE)
    log: list[str] = []
    live.listeners.append(lambda t, action, st: log.append(str(action)))

    def frame() -> np.ndarray:
        live.update()
        live.render(fbo, SIZE)
        w, h = SIZE
        return np.frombuffer(fbo.read(components=3), np.uint8).reshape(h, w, 3)[::-1]

    return live, frame, log


def test_dead_activations_are_skipped_or_reseeded_and_the_log_replays(cpu_renderer, gl_context):
    live, frame, log = show(cpu_renderer, gl_context)
    frame()
    seen = []
    for _ in range(14):  # once round the activation table, and on
        log.clear()
        live.press("a")
        m = liveliness.measure(frame())
        assert m.lively, (live.state.scene.network, m)
        # the log holds concrete actions only: a value for the activation, a seed if searched
        assert log and all("=" in entry for entry in log), log
        seen.append(live.state.hidden_activations[0])
    assert len(set(seen)) >= 4  # it moved through the table, not stuck on one


def test_every_network_key_leaves_a_lively_picture(cpu_renderer, gl_context):
    live, frame, log = show(cpu_renderer, gl_context, {"seed": 0, "width": 8, "depth": 2})
    frame()
    for key in ["m", "m", "m", "w", "d", "d", "shift+w", "c", "shift+c", "shift+c", "c", "a",
                "m", "shift+a", "shift+d"]:
        log.clear()
        before = live.state
        live.press(key)
        m = liveliness.measure(frame())
        assert m.lively, (key, live.state.scene.network, live.state.scene.view.color, m)
        assert all("=" in entry for entry in log), (key, log)
        # replaying the logged actions from the state before gives the same network
        st = before
        for entry in log:
            st = apply(st, parse(entry))
        assert st.scene.network == live.state.scene.network, key
        assert st.scene.view == live.state.scene.view, key


def test_the_first_runs_activation_keys_show_no_dead_picture(cpu_renderer, gl_context):
    # The default scene as the window starts it (made lively), then A, A, A as a newcomer did:
    # sigmoid, sin and softplus came out flat, static and solid there.
    live, frame, log = show(cpu_renderer, gl_context, {})
    live.make_lively()
    frame()
    for _ in range(3):
        live.press("a")
        m = liveliness.measure(frame())
        assert m.lively, (live.state.scene.network, m)
