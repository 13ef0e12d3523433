"""NDI out end to end: frames the renderer draws, sent through videoout's ndi route, received on
the same machine over loopback by ndi-python's own receiver and compared pixel by pixel.

The receiver finds the sender by name with loopback added to the finder's addresses, so mDNS is
not needed. NDI compresses every frame (SpeedHQ, 4:2:2 chroma), so pixels come back within a few
levels, not exactly. Skipped when ndi-python (which carries the NDI runtime) is not installed.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest

from realtime_cppn.core.spec import Layer, NetworkSpec, View
from realtime_cppn.media import videoout
from realtime_cppn.media.images import to_uint8

ndi = pytest.importorskip("NDIlib", reason="the NDI test needs ndi-python: pip install ndi-python")

SIZE = (64, 48)
# Mean |received - sent| over a frame, in levels of 255. NDI's round trip through 8-bit 4:2:2 YUV
# costs about 4 on these frames (p95 11), and shifts saturated colours: a flat (60, 30, 200) comes
# back (58, 29, 190) at every size tried. A different frame is 20+ levels away.
MEAN_TOL = 8.0


class Receiver:
    """An NDI receiver connected to the source called ``name`` on this machine."""

    def __init__(self, name: str, tries: int = 50) -> None:
        if not ndi.initialize():
            pytest.skip("the NDI runtime did not start on this machine")
        settings = ndi.FindCreate()
        settings.show_local_sources = True
        settings.extra_ips = "127.0.0.1"
        self.find = ndi.find_create_v2(settings)
        source = None
        for _ in range(tries):  # each wait returns as soon as the source list changes
            ndi.find_wait_for_sources(self.find, 200)
            source = next((s for s in ndi.find_get_current_sources(self.find)
                           if s.ndi_name.endswith(f"({name})")), None)
            if source is not None:
                break
        assert source is not None, f"no NDI source named {name} found over loopback"
        create = ndi.RecvCreateV3()
        create.color_format = ndi.RECV_COLOR_FORMAT_BGRX_BGRA
        create.bandwidth = ndi.RECV_BANDWIDTH_HIGHEST
        self.recv = ndi.recv_create_v3(create)
        ndi.recv_connect(self.recv, source)

    def frame(self, timeout_ms: int = 2000) -> np.ndarray | None:
        """The next video frame as uint8 RGBA (H, W, 4), or None when none came in time."""
        for _ in range(8):  # status and source-change frames come before the first picture
            kind, video, _, _ = ndi.recv_capture_v2(self.recv, timeout_ms)
            if kind == ndi.FRAME_TYPE_VIDEO:
                bgra = np.copy(video.data)
                ndi.recv_free_video_v2(self.recv, video)
                return bgra[:, :, [2, 1, 0, 3]]
            if kind == ndi.FRAME_TYPE_NONE:
                return None
        return None

    def close(self) -> None:
        ndi.recv_destroy(self.recv)
        ndi.find_destroy(self.find)
        ndi.destroy()


def network() -> NetworkSpec:
    rng = np.random.default_rng(5)
    return NetworkSpec(("x", "y", "r"), 0, (
        Layer(rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=8).astype(np.float32),
              "tanh"),
        Layer(rng.normal(size=(8, 8)).astype(np.float32), rng.normal(size=8).astype(np.float32),
              "tanh"),
        Layer(rng.normal(size=(3, 8)).astype(np.float32), rng.normal(size=3).astype(np.float32),
              "sigmoid"),
    ), scale=2.0)


def test_ndi_out_reaches_a_receiver_on_this_machine(renderer):
    spec = network()
    renderer.set_network(spec)
    # Frames that differ: the view moves, as the live show's picture does.
    frames = [renderer.read(renderer.draw(SIZE, View(zoom=1.0 + 0.4 * i, center=(0.3 * i, 0.0)),
                                          display=True), 4) for i in range(4)]
    expected = [to_uint8(f[:, :, :3]).astype(int) for f in frames]
    name = f"rcppn-test-{os.getpid()}"
    with videoout.open_output("ndi", SIZE, fps=30.0, name=name) as out:
        receiver = Receiver(name)
        try:
            # The connection settles asynchronously: repeat the first frame until one arrives.
            first = None
            for _ in range(20):
                out.send(frames[0])
                first = receiver.frame(timeout_ms=250)
                if first is not None:
                    break
            assert first is not None, "the receiver got no frame"
            got = [first]
            for f in frames[1:]:
                out.send(f)
                got.append(receiver.frame())
        finally:
            receiver.close()
    assert all(g is not None for g in got), "a frame sent after the connection was lost"
    for i, g in enumerate(got):
        assert g.shape == (SIZE[1], SIZE[0], 4) and (g[:, :, 3] == 255).all()
        errors = [float(np.abs(g[:, :, :3].astype(int) - e).mean()) for e in expected]
        assert errors[i] <= MEAN_TOL, f"frame {i}: mean error {errors[i]:.2f} levels"
        assert int(np.argmin(errors)) == i, f"frame {i} looks like frame {np.argmin(errors)}"
        print(f"frame {i}: mean error {errors[i]:.2f}, max "
              f"{np.abs(g[:, :, :3].astype(int) - expected[i]).max()} levels")


_SCREENS: dict = {}  # kept for the session: moderngl rebinds the last framebuffer it made


def test_the_live_show_sends_its_frames_over_ndi(renderer, monkeypatch):
    """The live show's own hook (``--video-out ndi``): each frame's picture, read back a frame
    later, reaches the receiver as the show drew it, in order, while the show moves on."""
    from realtime_cppn.core.scene import Scene
    from realtime_cppn.live.hooks import VideoOutHook
    from realtime_cppn.live.live import Live
    from realtime_cppn.show import actions
    from realtime_cppn.show.clock import FixedClock

    ctx = renderer.ctx
    if id(ctx) not in _SCREENS:
        _SCREENS[id(ctx)] = ctx.framebuffer(color_attachments=[ctx.texture(SIZE, 4, dtype="f1")])
    fbo = _SCREENS[id(ctx)]
    scene = Scene(network={"seed": 7, "width": 8, "depth": 2}, loop=0.5, path_seed=3)
    live = Live(renderer, actions.initial_state(scene), clock=FixedClock(30))
    name = f"rcppn-live-{os.getpid()}"
    drawn: list[np.ndarray] = []  # the picture of every frame, as the renderer drew it
    got: list[np.ndarray] = []
    # The hook opens the route as the app does, under a name of this test's own.
    monkeypatch.setattr(videoout, "open_output", functools.partial(videoout.open_output, name=name))
    try:
        live.video_out = VideoOutHook(live, "ndi", SIZE, 30.0)
        receiver = Receiver(name)
        try:
            for _ in range(60):  # the first frames go out before the receiver is connected
                live.update()
                live.render(fbo, SIZE)
                drawn.append(to_uint8(renderer.read(renderer.target(SIZE), 3)).astype(int))
                frame = receiver.frame(timeout_ms=100 if not got else 2000)
                if frame is not None:
                    got.append(frame)
                if len(got) == 4:
                    break
        finally:
            receiver.close()
    finally:
        live.close()
    assert len(got) == 4, f"{len(got)} frames reached the receiver in {len(drawn)} drawn"
    matched = []
    for g in got:
        errors = [float(np.abs(g[:, :, :3].astype(int) - d).mean()) for d in drawn]
        matched.append(int(np.argmin(errors)))
        assert min(errors) <= MEAN_TOL, f"a received frame is {min(errors):.2f} levels off"
    assert matched == sorted(matched) and len(set(matched)) == 4, matched  # in order, all new
