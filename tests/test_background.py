"""A new architecture compiles in a child process while the current network plays on: no frame
waits for the compile, the render thread's takeover is a driver-cache hit, and the pixels are
the new network's. Also for the baked program swapped in after a reseed (the specialiser).

Each case runs in a fresh process with an empty shader cache, so the compiles being avoided
are really cold ones (the suite's shared cache would hide them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from realtime_cppn.renderer import HIT_BUDGET_S

# A takeover from the cache a child filled: link + one tiny draw, tens of ms on a quiet machine
# (a compile again would take seconds). The renderer itself gives up only beyond HIT_BUDGET_S.
TAKEOVER_S = 0.25

pytestmark = pytest.mark.gl

RENDERER = r"""
import json, sys, time
import numpy as np
import realtime_cppn as rc
from realtime_cppn.renderer import Renderer

path = sys.argv[1]
r = Renderer(path=path, background=True)
a = rc.to_spec(rc.CPPN(width=12, depth=2, seed=1))
b = rc.to_spec(rc.CPPN(width=20, depth=4, activation="sin", seed=2))
c = rc.to_spec(rc.CPPN(width=20, depth=4, activation="gaussian", seed=3))
size = (48, 32)
r.set_network(a)
shown_a = r.read(r.draw(size))
t = time.perf_counter()
r.set_network(c)  # what a width/depth/activation change costs in place: a cold compile
r.read(r.draw(size))
cold = time.perf_counter() - t
r.set_network(a)
assert r.prepare(a)  # compiled already: nothing to wait for
frames, same = [], True
deadline = time.monotonic() + 300
while True:
    t = time.perf_counter()
    if r.prepare(b):
        break
    img = r.read(r.draw(size))  # the current network plays on meanwhile
    frames.append(time.perf_counter() - t)
    same = same and bool(np.array_equal(img, shown_a))
    assert time.monotonic() < deadline, "the background compile never finished"
takeover = r.stats.last_takeover_s
r.set_network(b)
t = time.perf_counter()
img_b = r.read(r.draw(size))
first_b = time.perf_counter() - t
ref = Renderer(r.ctx, path=path)
ref.set_network(b)
err = float(np.abs(img_b - ref.read(ref.draw(size))).max())
print(json.dumps({"cold": cold, "frames": frames, "same": same, "takeover": takeover,
                  "first_b": first_b, "background": r.background, "err": err,
                  "compiles": r.stats.compiles, "background_compiles": r.stats.background_compiles}))
"""

SPECIALIZER = r"""
import json, time
import numpy as np
import realtime_cppn as rc
from realtime_cppn.renderer import Renderer

r = Renderer(path="compute", specialize="async")
spec = rc.to_spec(rc.CPPN(width=16, depth=3, seed=5))
r.set_network(spec)
size = (48, 32)
first = r.read(r.draw(size))
frames = []
deadline = time.monotonic() + 300
while r.stats.special_compiles == 0:
    assert time.monotonic() < deadline, "the baked program never arrived"
    t = time.perf_counter()
    r.read(r.draw(size))
    frames.append(time.perf_counter() - t)
    time.sleep(0.01)
err = float(np.abs(r.read(r.draw(size)) - first).max())
print(json.dumps({"frames": frames, "takeover": r.stats.last_takeover_s,
                  "mode": r._special.mode, "err": err}))
"""

LIVE = r"""
import json, time
import numpy as np
import realtime_cppn as rc
from realtime_cppn import actions
from realtime_cppn.app import Live
from realtime_cppn.clock import FixedClock
from realtime_cppn.renderer import Renderer
from realtime_cppn.scene import Scene

r = Renderer(path="compute", background=True)
size = (64, 48)
screen = r.ctx.texture(size, 4, dtype="f1")
fbo = r.ctx.framebuffer(color_attachments=[screen])
t = time.perf_counter()  # an architecture as big as the one the key asks for, in place
probe = Renderer(r.ctx)
probe.set_network(rc.to_spec(rc.CPPN(width=16, depth=2, activation="sin")))
probe.read(probe.draw(size))
cold = time.perf_counter() - t
probe.release()
live = Live(r, actions.initial_state(Scene(network={"seed": 7, "width": 8, "depth": 2})),
            clock=FixedClock(30))
live.update(); live.render(fbo, size)
live.dispatch("width_up")
t = time.perf_counter(); live.update(); live.render(fbo, size); first = time.perf_counter() - t
report = {"first": first, "cold": cold, "state_width": live.state.net("width"),
          "shown_width": r.spec.layers[0].weight.shape[0], "badge": live.rec_badge(),
          "info": dict(live.info_rows())["network"]}
frames = 0
deadline = time.monotonic() + 300
while live.building is not None:
    assert time.monotonic() < deadline, "the background compile never finished"
    live.update(); live.render(fbo, size); frames += 1
shown = np.frombuffer(fbo.read(components=3), np.uint8).reshape(size[1], size[0], 3)[::-1]
expect = np.clip(r.read(r.draw(size, live.view(), display=True), 3) * 255 + 0.5, 0, 255)
diff = np.abs(shown.astype(int) - expect.astype(np.uint8).astype(int)).max()  # 8-bit levels
report.update(frames=frames, after_width=r.spec.layers[0].weight.shape[0],
              after_badge=live.rec_badge(), diff=int(diff))
print(json.dumps(report))
"""

CHILD_FAILS = r"""
import json, os, time
import numpy as np
import realtime_cppn as rc
from realtime_cppn.renderer import Renderer

r = Renderer(path="compute", background=True, specialize="async")
# From here on a child process finds no EGL driver (and has no display): every child fails.
os.environ["__EGL_VENDOR_LIBRARY_FILENAMES"] = "/nonexistent/egl_vendor.json"
os.environ.pop("DISPLAY", None)
a = rc.to_spec(rc.CPPN(width=6, depth=2, seed=1))
b = rc.to_spec(rc.CPPN(width=10, depth=2, seed=2))
c = rc.to_spec(rc.CPPN(width=14, depth=2, seed=3))
size = (24, 16)
r.set_network(a)
for _ in range(10):  # the specialiser's child fails: it must stop trying, not respawn
    r.read(r.draw(size))
    time.sleep(0.2)
deadline = time.monotonic() + 120
while not r.prepare(b):
    assert time.monotonic() < deadline
    time.sleep(0.05)
r.set_network(b)
img = r.read(r.draw(size))
ok_c = r.prepare(c)  # background is off now: compiled in place, at once
ref = Renderer(r.ctx)
ref.set_network(b)
print(json.dumps({"background": r.background, "special": r._special.mode, "ok_c": ok_c,
                  "children": r.stats.background_compiles,
                  "err": float(np.abs(img - ref.read(ref.draw(size))).max())}))
"""


def _run(script: str, tmp_path, *args: str) -> dict:
    env = {**os.environ, "MESA_SHADER_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("MESA_SHADER_CACHE_DISABLE", None)
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("path", ["compute", "fragment"])
def test_a_new_architecture_compiles_while_the_current_one_plays(tmp_path, path):
    m = _run(RENDERER, tmp_path, path)
    assert m["frames"], "prepare() compiled in place: the show would have frozen"
    assert m["same"], "frames drawn while building must show the current network"
    # No frame waited for the compile: each is far below what compiling in place costs.
    assert max(m["frames"]) < m["cold"] / 3, m
    # The render thread's own compile and first draw hit the cache the child filled.
    assert m["background"] and m["takeover"] < TAKEOVER_S, {k: m[k] for k in m if k != "frames"}
    assert m["first_b"] < m["cold"] / 3, m
    assert m["err"] <= 1e-6
    assert m["background_compiles"] == 1


def test_the_baked_program_takes_over_without_a_hitch(tmp_path):
    m = _run(SPECIALIZER, tmp_path)
    # llvmpipe builds a variant per target format at the first draw: a child that warmed
    # another format left a 1.5-2.6 s frame here (measured before the fix).
    assert m["mode"] == "async" and m["takeover"] < TAKEOVER_S, m
    assert max(m["frames"]) < 0.5, m
    assert m["err"] <= 2e-5


def test_the_live_show_plays_on_while_a_wider_network_builds(tmp_path):
    m = _run(LIVE, tmp_path)
    assert m["state_width"] == 16 and m["shown_width"] == 8  # the state moved; the GPU catches up
    assert m["first"] < m["cold"] / 3, m  # the key press frame did not compile in place
    assert m["badge"] == "building 16x2", m
    assert m["info"].startswith("16 x 2   building 16x2 ") and "showing 8 x 2" in m["info"], m
    assert m["frames"] >= 1 and m["after_width"] == 16 and m["after_badge"] is None, m
    assert m["diff"] <= 1, m  # the window then shows the new network


def test_a_child_that_cannot_compile_turns_background_compiles_off(tmp_path):
    m = _run(CHILD_FAILS, tmp_path)
    assert m["special"] == "off" and m["background"] is False, m
    assert m["ok_c"] and m["children"] == 1, m  # one failed child, then compiles in place
    assert m["err"] <= 1e-6


def test_two_slow_takeovers_in_a_row_mean_the_cache_is_not_shared():
    # One slow takeover may be a busy moment; a cache that is not shared misses every time.
    from realtime_cppn.renderer import MISS_FRACTION, MISSES_IN_A_ROW, _ChildCompile

    child = _ChildCompile()
    child.seconds = 10.0  # the child's build: a takeover above 3 s compiled it again
    slow, fast = MISS_FRACTION * child.seconds + 0.1, HIT_BUDGET_S / 2
    assert MISSES_IN_A_ROW == 2
    assert not child.missed(slow)
    assert not child.missed(fast)  # a hit in between starts the count again
    assert not child.missed(slow)
    assert child.missed(slow)


def test_a_network_the_driver_refuses_after_its_build_reverts_to_the_one_on_screen(
        gl_context, monkeypatch):
    # No network compiles in a child yet fails in the render thread on llvmpipe, but a driver
    # whose limits differ between the two contexts could refuse one then: the driver's refusal
    # is injected at the renderer's compile call; the show's handling of it is what is tested.
    from realtime_cppn import actions
    from realtime_cppn.app import Live
    from realtime_cppn.clock import FixedClock
    from realtime_cppn.errors import CPPNError
    from realtime_cppn.renderer import Renderer
    from realtime_cppn.scene import Scene

    real = Renderer._program

    def refuse_width_16(self, spec, fmt):
        if spec.layers[0].weight.shape[0] == 16:
            raise CPPNError("the GPU could not compile this network (compute path): too big")
        return real(self, spec, fmt)

    r = Renderer(gl_context, path="compute", background=True)
    size = (48, 32)
    fbo = gl_context.simple_framebuffer(size)
    live = Live(r, actions.initial_state(Scene(network={"seed": 7, "width": 8, "depth": 2},
                                               path_seed=7), paused=True),
                clock=FixedClock(30))
    try:
        live.update()
        live.render(fbo, size)
        before = fbo.read(components=3)
        monkeypatch.setattr(Renderer, "_program", refuse_width_16)
        live.dispatch("width_up")
        live.update()
        assert live.building is not None and live.state.net("width") == 16  # the child builds
        deadline = time.monotonic() + 120
        while live.building is not None:
            assert time.monotonic() < deadline, "the background compile never finished"
            live.update()
            live.render(fbo, size)
        # Back to the network on screen, with the driver's reason; the show goes on.
        assert live.state.net("width") == 8 and r.spec.layers[0].weight.shape[0] == 8
        assert live.error.startswith("network refused: the GPU could not compile"), live.error
        assert "too big" in dict(live.info_rows()).get("error", ""), live.info_rows()
        live.update()
        live.render(fbo, size)
        assert fbo.read(components=3) == before  # paused: exactly the picture before the key
        assert r.background  # one refused network does not turn background builds off
        monkeypatch.setattr(Renderer, "_program", real)
        live.dispatch("width_up")  # a driver that accepts it: built and shown
        deadline = time.monotonic() + 120
        live.update()
        while live.building is not None:
            assert time.monotonic() < deadline, "the background compile never finished"
            live.update()
        assert r.spec.layers[0].weight.shape[0] == 16
    finally:
        live.close()
        r.release()
