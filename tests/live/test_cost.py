"""Nothing a performer sends stops or freezes the show: the cost model refuses networks this
renderer cannot draw in time, weights build off the render thread, a frame applies a bounded
batch of actions (a burst of searching reseeds is one search), and a failing effect (a
screenshot into a file, a log that cannot be written) is a notice, not the end of the show."""

from __future__ import annotations

import random
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from realtime_cppn.core import cost
from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.scene import Scene
from realtime_cppn.instrument import osc
from realtime_cppn.show.actions import Action, initial_state

SIZE = (64, 48)


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def show(renderer, gl_context, network=None, budget=None, **live_kw):
    from realtime_cppn.live.live import Live
    from realtime_cppn.show.clock import FixedClock

    state = initial_state(Scene(network=network or {"seed": 7, "width": 8, "depth": 1},
                                path_seed=7))
    live = Live(renderer, state, clock=FixedClock(20), **live_kw)
    if budget is not None:
        live.budget = budget
    fbo = gl_context.simple_framebuffer(SIZE)

    def frame() -> None:
        live.update()
        live.render(fbo, SIZE)

    frame()
    return live, frame


def gate_builds(monkeypatch, width: int) -> threading.Event:
    """Networks ``width`` wide build only once the returned event is set (a slow build)."""
    from realtime_cppn.nn import build

    gate = threading.Event()
    real = build.scene_network

    def gated(scene):
        if scene.network.get("width") == width:
            assert gate.wait(30)
        return real(scene)

    monkeypatch.setattr(build, "scene_network", gated)
    return gate


def send(live, address: str, *args) -> None:
    """What the OSC server does with a datagram: its actions, dispatched."""
    found, _ = osc.message_actions(address, args)
    for action in found:
        live.dispatch(action)


# --- the model ----------------------------------------------------------------------------------

@pytest.mark.parametrize("net", [{}, {"width": 8, "depth": 1}, {"width": 64, "depth": 3,
                                                                "z_dim": 0, "out_channels": 1},
                                 {"width": 5, "depth": 2, "inputs": ["x", "y", "r", "b"]}])
def test_the_model_counts_what_the_built_network_has(net):
    from realtime_cppn.nn.build import scene_network

    spec = scene_network(Scene(network=net))
    assert cost.macs_per_pixel(net) == spec.macs_per_pixel
    assert cost.parameters(net) == sum(lay.weight.size + lay.bias.size for lay in spec.layers)


def test_defaults_match_the_model_and_bad_configs_are_left_to_it():
    from realtime_cppn.nn.model import CPPNConfig

    c = CPPNConfig()
    assert cost.DEFAULTS == {"width": c.width, "depth": c.depth, "inputs": c.inputs,
                             "z_dim": c.z_dim, "out_channels": c.out_channels}
    for bad in ({"width": True}, {"width": "x"}, {"depth": 0}, {"inputs": 3}):
        assert cost.macs_per_pixel(bad) is None
        cost.Budget().check(bad, 10**6, "cpu")  # the model's validation names these


def test_budget_refuses_by_frame_time_and_build_memory_and_learns_only_from_runs():
    b = cost.Budget(priors={"cpu": 1e9})
    small, huge = {"width": 32, "depth": 4}, {"width": 1024, "depth": 64}
    b.check(small, 320 * 240, "cpu")
    with pytest.raises(CPPNError, match="refused"):
        b.check(huge, 64 * 48, "cpu")
    with pytest.raises(CPPNError, match="GiB"):
        cost.Budget(build_limit_bytes=1 << 20).check({"width": 512, "depth": 8}, 1, "cpu")
    for _ in range(cost.OBSERVE_RUN - 1):
        b.observe("cpu", 1e10, 1.0, width=256)  # 1e10 a second, but not yet a run
    assert b.rate("cpu", 256) == 1e9
    b.observe("cpu", 1e10, 2.0, width=256)
    assert b.rate("cpu", 256) == b.rate("cpu", 1024) == 5e9  # the slowest frame of the run
    assert b.rate("cpu", 32) == 1e9  # narrower networks are not trusted with it
    for _ in range(cost.OBSERVE_RUN):
        b.observe("cpu", 1e9, 10.0, width=256)
    assert b.rate("cpu", 256) == 5e9  # slow frames never lower it
    assert cost.Budget(frame_limit_s=None).check(huge, 10**7, "cpu") is None


# --- the live show under cost bombs -------------------------------------------------------------

def test_osc_width_1024_then_depth_64_keeps_the_frame_drawing(renderer, gl_context,
                                                              monkeypatch):
    from realtime_cppn.nn import build

    built: list[dict] = []
    real = build.scene_network

    def counting(scene):
        built.append(dict(scene.network))
        return real(scene)

    monkeypatch.setattr(build, "scene_network", counting)
    rss0 = rss_bytes()
    live, frame = show(renderer, gl_context)
    live.budget = cost.Budget(priors={live.cost_path: 2e9}, measure=False)
    live.background_builds = True
    send(live, "/cppn/width", 1024)
    for _ in range(400):  # until the worker built it; every update still draws a frame
        frames = live.frames
        frame()
        assert live.frames == frames + 1
        if live.building is None:
            break
        threading.Event().wait(0.01)
    assert live.state.net("width") == 1024 and live.renderer.spec.layers[0].weight.shape[0] == 1024
    send(live, "/cppn/depth", 64)
    frames = live.frames
    frame()
    assert live.frames == frames + 1
    assert live.state.net("depth") == 1 and "refused" in live.error and "1024 x 64" in live.error
    assert not any(n.get("depth") == 64 for n in built)  # never built, never cached
    assert rss_bytes() - rss0 < 300 << 20


def test_a_network_building_in_the_background_leaves_the_current_one_playing(
        renderer, gl_context, monkeypatch, tmp_path):
    gate = gate_builds(monkeypatch, width=96)
    live, frame = show(renderer, gl_context, screenshot_dir=tmp_path)
    live.background_builds = True
    before = live.renderer.spec
    live.dispatch("width=96")
    for _ in range(5):
        frame()
    assert live.frames == 6 and live.renderer.spec is before  # still drawing the old one
    assert live.building is not None and "building 96x1" in (live.rec_badge() or "")
    live.dispatch("export")  # an export of the network being built refuses, never builds it here
    frame()
    assert live.frames == 7 and "still building" in live.error and not list(tmp_path.iterdir())
    live.error = ""  # what follows must not add one
    gate.set()
    for _ in range(400):
        frame()
        if live.building is None:
            break
        threading.Event().wait(0.01)
    assert live.renderer.spec.layers[0].weight.shape[0] == 96 and not live.error


def test_the_spec_cache_is_bounded_by_bytes(renderer, gl_context):
    live, frame = show(renderer, gl_context, network={"seed": 7, "width": 8, "depth": 3})
    live.spec_cache_bytes = 100 << 10  # less than one 128 x 3 network (131 KB)
    for w in (128, 120, 112, 104):
        live.dispatch(f"width={w}")
        frame()
    held = sum(lay.weight.nbytes for sp in live._specs.values() for lay in sp.layers)
    assert len(live._specs) == 2 and held > live.spec_cache_bytes  # only the latest two


# --- a per-frame budget for actions ---------------------------------------------------------------

@pytest.fixture
def searches(monkeypatch):
    """How many liveliness searches each update ran (the real search, counted)."""
    from realtime_cppn.core import liveliness

    calls = [0]
    real = liveliness.choose

    def counted(*a, **kw):
        calls[0] += 1
        return real(*a, **kw)

    monkeypatch.setattr(liveliness, "choose", counted)
    return calls


def test_a_burst_of_200_reseeds_is_one_search(renderer, gl_context, searches):
    live, frame = show(renderer, gl_context)
    draws = live.state.draws
    for _ in range(200):
        send(live, "/cppn/reseed")
    searches[0] = 0
    frame()
    assert searches[0] == 1 and live.state.draws == draws + 1
    send(live, "/cppn/reseed", 42)  # a seed given is no search, and is never dropped
    send(live, "/cppn/reseed")
    frame()
    assert searches[0] == 2 and live.state.history[-1] == 42


def test_ten_thousand_mixed_messages_apply_in_bounded_batches(renderer, gl_context, searches,
                                                               tmp_path):
    from realtime_cppn.live import live as app

    live, frame = show(renderer, gl_context, screenshot_dir=tmp_path)
    rng = random.Random(3)
    messages = [("/cppn/reseed",), ("/cppn/zoom_in",), ("/cppn/speed", 0.5),
                ("/cppn/symmetry", "k3"), ("/cppn/width", 8), ("/cppn/width", 12),
                ("/cppn/depth", 2), ("/cppn/export", "glsl"), ("/cppn/info", 1)]
    applied: list[int] = []
    live.listeners.append(lambda t, a, s: applied.append(live.frames))
    sent = [rng.choice(messages) for _ in range(10_000)]
    for m in sent:
        send(live, *m)
    per_update = []
    for _ in range(100):
        searches[0] = 0
        n = len(applied)
        frame()
        per_update.append((searches[0], len(applied) - n))
        if not live._backlog and live._queue.empty():
            break
    assert all(s <= 1 and a <= app.ACTIONS_PER_FRAME for s, a in per_update)
    assert len(per_update) == -(-10_000 // app.ACTIONS_PER_FRAME)
    zooms = sum(m[0] == "/cppn/zoom_in" for m in sent)
    assert zooms > 500 and live.state.scene.view.zoom == 64.0  # every cheap one applied
    assert len(list(tmp_path.glob("*.frag"))) <= app.EXPORT_LIMIT[0]  # exports rate-limited


# --- nothing stops the show ---------------------------------------------------------------------

def test_a_screenshot_into_a_file_is_a_notice_and_the_show_goes_on(renderer, gl_context,
                                                                   tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the screenshot folder should be")
    live, frame = show(renderer, gl_context, screenshot_dir=blocker / "shots")
    live.dispatch("screenshot")
    frame()
    assert live.error.startswith("screenshot:") and live.last_screenshot is None
    frames = live.frames
    live.dispatch("zoom=2")
    frame()
    assert live.frames == frames + 1 and live.state.scene.view.zoom == 2.0
    live.dispatch("export")  # the same guard for an action's effects
    frame()
    assert live.error.startswith("export") and live.state.exports == 0


def test_a_listener_that_fails_is_a_notice(renderer, gl_context):
    live, frame = show(renderer, gl_context)

    def full_disk(t, action, state):
        raise OSError(28, "No space left on device")

    live.listeners.append(full_disk)
    live.dispatch("zoom=2")
    frame()
    assert "No space left" in live.error and live.state.scene.view.zoom == 2.0


def test_no_search_for_networks_too_big_to_search_in_a_frame(renderer, gl_context, searches):
    live, frame = show(renderer, gl_context, network={"seed": 7, "width": 300, "depth": 4},
                       budget=cost.Budget(frame_limit_s=None))
    assert not cost.searchable(live.state.scene.network)
    searches[0] = 0
    live.dispatch("reseed")
    frame()
    assert searches[0] == 0 and live.state.draws == 1 and not live.error
    assert np.isfinite(live.state.seed)
    assert Action("reseed") != Action("reseed", live.state.seed)


def test_no_search_for_key_changes_to_networks_too_big_to_search(renderer, gl_context, searches):
    # The live soak's 14.5 s frame: after OSC /cppn/width 1024 an activation key judged up to
    # 4 seeds of each activation in turn, every one a 1024-wide build and draw on the render
    # thread. Changes into a network too big to search stand as asked, unjudged.
    live, frame = show(renderer, gl_context, network={"seed": 7, "width": 300, "depth": 4},
                       budget=cost.Budget(frame_limit_s=None))
    frame()
    for key in ("next_activation", "previous_activation", "random_activations", "depth_up",
                "depth_down"):
        searches[0] = 0
        before = live.state.scene.network
        live.dispatch(key)
        frame()
        assert searches[0] == 0, key
        assert live.state.scene.network != before and not live.error, key
    # Into a big network from a small one: judged by the target's size, not the start's.
    live, frame = show(renderer, gl_context, network={"seed": 7, "width": 16, "depth": 8},
                       budget=cost.Budget(frame_limit_s=None))
    frame()
    live.dispatch("depth_up")
    searches[0] = 0
    frame()
    assert searches[0] == 0 and live.state.scene.network["depth"] == 9


def test_under_auto_scale_a_slow_network_starts_at_a_rung_that_fits(cpu_renderer, gl_context):
    # A rate at which width 32 at 64x48 misses the 2 s limit at scale 1 but fits in a third of
    # the pixels: with auto scale on it is shown at a lower rung; with it off it is refused.
    from realtime_cppn.core.autoscale import LADDER, AutoScale

    big = {"seed": 7, "width": 32, "depth": 1}  # what the width action makes of show()'s network
    rate = cost.work_per_pixel(big) * SIZE[0] * SIZE[1] / 3 / (2.0 - 3 * cost.LAYER_SECONDS["cpu"])
    for auto in (False, True):
        live, frame = show(cpu_renderer, gl_context)
        live.budget = cost.Budget(priors={"cpu": rate}, measure=False)
        if auto:
            live.autoscale = AutoScale(60.0)
        live.dispatch(Action("width", 32))
        live.update()  # the scale the change starts at (the controller moves it from there)
        if auto:
            assert live.state.scene.network == big, live.error
            k = live.state.render_scale
            assert k in LADDER and k < 1.0
            assert SIZE[0] * SIZE[1] * k * k <= live.budget.pixels_within(big, "cpu")
            assert SIZE[0] * SIZE[1] * 4 * k * k > live.budget.pixels_within(big, "cpu")  # largest
        else:
            assert live.state.net("width") == 8 and "would take" in live.error
        frame()  # and the show goes on


def test_a_screenshot_too_slow_at_full_size_saves_the_picture_as_shown(cpu_renderer, gl_context,
                                                                       tmp_path):
    # The auto scale holds a heavy network at a low scale; a full-resolution screenshot would
    # cost 1/scale^2 frames of work at once. Where the cost model says so, the PNG is the
    # window's picture (the render size, upscaled); where it does not, a full-size render.
    from PIL import Image

    from realtime_cppn.live.live import SCREENSHOT_S
    from realtime_cppn.media.images import read_scene

    live, frame = show(cpu_renderer, gl_context, screenshot_dir=tmp_path)
    live.state = replace(live.state, render_scale=0.25)
    net = live.state.scene.network
    pixels = SIZE[0] * SIZE[1]
    for slow in (False, True):
        rate = cost.work_per_pixel(net) * pixels / (SCREENSHOT_S * (4 if slow else 0.25))
        live.budget = cost.Budget(priors={"cpu": rate}, measure=False)
        assert (live.budget.frame_seconds(net, pixels, "cpu") > SCREENSHOT_S) == slow
        live.frame_cost = 0.0  # the model alone decides here, whatever the last frame took
        path = live.screenshot(SIZE)
        with Image.open(path) as im:
            shot = np.asarray(im.convert("RGB")).astype(int)
        assert shot.shape == (SIZE[1], SIZE[0], 3) and read_scene(path) == live.state.scene
        small = cpu_renderer.read(cpu_renderer.draw(live.render_size(SIZE), live.view(),
                                                    display=True), 3)
        shown = np.asarray(Image.fromarray((np.clip(small, 0, 1) * 255 + 0.5).astype(np.uint8))
                           .resize(SIZE, Image.BILINEAR)).astype(int)
        full = np.clip(cpu_renderer.read(cpu_renderer.draw(SIZE, live.view(), display=True), 3)
                       * 255 + 0.5, 0, 255).astype(int)
        want, other = (shown, full) if slow else (full, shown)
        assert np.abs(shot - want).max() <= 1
        assert np.abs(shot - other).max() > 1  # the two pictures differ: the test can tell
    # A model that says fast, a frame measured slow (at 1/4 scale, 1/16 of the pixels): the
    # measurement wins and the PNG is the picture as shown.
    live.budget = cost.Budget(priors={"cpu": cost.work_per_pixel(net) * pixels / 0.01},
                              measure=False)
    live.frame_cost = SCREENSHOT_S / 4
    with Image.open(live.screenshot(SIZE)) as im:
        assert np.abs(np.asarray(im.convert("RGB")).astype(int) - shown).max() <= 1
    frame()


def test_a_screenshot_of_the_picture_as_shown_reads_the_frame_drawn(cpu_renderer, gl_context,
                                                                     tmp_path, monkeypatch):
    # The live soak's longest frames (2.7-4.7 s) were a slow frame drawn twice: once for the
    # window, once more for a screenshot of the same size. The frame's texture is read instead.
    from PIL import Image

    live, frame = show(cpu_renderer, gl_context, screenshot_dir=tmp_path)
    live.state = replace(live.state, render_scale=0.25)
    net = live.state.scene.network
    pixels = SIZE[0] * SIZE[1]
    # a model that says a full-size render is slow: the PNG is the picture as shown
    live.budget = cost.Budget(priors={"cpu": cost.work_per_pixel(net) * pixels / 4},
                              measure=False)
    frame()
    draws = []
    real = cpu_renderer.draw
    monkeypatch.setattr(cpu_renderer, "draw", lambda *a, **kw: draws.append(a[0]) or real(*a, **kw))
    live.dispatch("screenshot")
    frame()
    assert draws == [live.render_size(SIZE)]  # the frame's one draw, none for the screenshot
    monkeypatch.undo()
    small = cpu_renderer.read(cpu_renderer.draw(live.render_size(SIZE), live.view(),
                                                display=True), 3)
    shown = np.asarray(Image.fromarray((np.clip(small, 0, 1) * 255 + 0.5).astype(np.uint8))
                       .resize(SIZE, Image.BILINEAR)).astype(int)
    with Image.open(live.last_screenshot) as im:
        assert np.abs(np.asarray(im.convert("RGB")).astype(int) - shown).max() <= 1


def test_a_screenshot_while_a_network_builds_is_of_the_network_on_screen(
        cpu_renderer, gl_context, tmp_path, monkeypatch):
    # The live soak's 25.5 s frame: width 1024 on screen, width 16 building, a screenshot. Its
    # cost was judged by the state's (pending, cheap) network, so the slow one on screen was
    # drawn again at full size (17 s), and the PNG's scene named a network it did not show.
    from realtime_cppn.live.live import SCREENSHOT_S
    from realtime_cppn.media.images import read_scene

    gate = gate_builds(monkeypatch, width=12)
    live, frame = show(cpu_renderer, gl_context, screenshot_dir=tmp_path)
    wide = {**live.state.scene.network, "width": 64}
    pixels = SIZE[0] * SIZE[1]
    # the wide network: 2 x SCREENSHOT_S at full size, an eighth of that at a quarter scale
    rate = cost.work_per_pixel(wide) * pixels / (2 * SCREENSHOT_S)
    live.budget = cost.Budget(priors={"cpu": rate}, measure=False)
    live.state = replace(live.state, render_scale=0.25, auto_scale=False)
    send(live, "/cppn/width", 64)
    frame()
    assert live.renderer.spec.layers[0].weight.shape[0] == 64 and not live.error
    pending = {**wide, "width": 12}
    assert live.budget.frame_seconds(pending, pixels, "cpu") < SCREENSHOT_S  # the test can tell
    live.background_builds = True
    live.dispatch("width=12")
    frame()
    assert live.building is not None and live.renderer.spec.layers[0].weight.shape[0] == 64
    draws = []
    drawing = cpu_renderer.draw
    monkeypatch.setattr(cpu_renderer, "draw",
                        lambda *a, **kw: draws.append(a[0]) or drawing(*a, **kw))
    live.dispatch("screenshot")
    frame()
    monkeypatch.setattr(cpu_renderer, "draw", drawing)
    gate.set()
    assert draws == [live.render_size(SIZE)]  # the frame's one draw, no full-size one
    shot = live.last_screenshot
    assert read_scene(shot).network == wide and shot.name.startswith(f"cppn-{wide['seed']}-")
    assert live.state.net("width") == 12


def test_a_cached_network_is_checked_again_at_the_pixels_it_would_draw(cpu_renderer, gl_context):
    # The live soak's 5.8 s frame: width 1024, allowed (and cached) at half scale, came back
    # by OSC after the render scale went up to 1 and was drawn at four times the pixels
    # unchecked (only a network not yet cached met the cost model).
    live, frame = show(cpu_renderer, gl_context, network={"seed": 7, "width": 8, "depth": 1})
    wide = {**live.state.scene.network, "width": 64}
    pixels = SIZE[0] * SIZE[1]
    # 1 s a frame at a quarter scale (1/16 of the pixels), 16 s at full scale
    rate = cost.work_per_pixel(wide) * pixels / 16.0
    live.budget = cost.Budget(priors={"cpu": rate}, measure=False)
    live.state = replace(live.state, render_scale=0.25)
    send(live, "/cppn/width", 64)
    frame()
    assert live.state.net("width") == 64 and not live.error  # allowed, built, cached
    send(live, "/cppn/width", 8)
    frame()
    live.state = replace(live.state, render_scale=1.0)
    send(live, "/cppn/width", 64)
    frame()
    assert live.state.net("width") == 8 and "refused" in live.error
