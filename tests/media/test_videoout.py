"""Video out: the frame path up to each library call, and the errors for what is missing.

pyvirtualcam, syphon-python and SpoutGL need drivers or platforms this machine lacks, so each is
replaced here by a stand-in module that records what it was handed: the tests check our side of
the boundary (layout, dtype, row order, alpha, sizes, lifecycle, messages), never the library's.
ndi-python gets the same checks here, and a real receiver in test_videoout_ndi.py.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.spec import Layer, NetworkSpec, View
from realtime_cppn.media import videoout
from realtime_cppn.media.images import to_uint8

W, H = 5, 3


def gradient_rgba() -> np.ndarray:
    """float32 (H, W, 4): red grows along x, green down the rows (row 0 = top), alpha varies."""
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([x / (W - 1), y / (H - 1), np.full((H, W), 0.25), 1.0 - x / (W - 1) / 2],
                    axis=-1).astype(np.float32)


def test_layouts_keep_rows_top_first_and_alpha_where_carried():
    frame = gradient_rgba()
    rgb8 = to_uint8(frame[:, :, :3])  # the PNG writer's rounding is the reference
    alpha8 = (frame[:, :, 3] * 255 + 0.5).astype(np.uint8)
    out = videoout.to_layout(frame, "rgb")
    assert out.dtype == np.uint8 and out.shape == (H, W, 3) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, rgb8)
    assert out[0, 0, 1] == 0 and out[-1, 0, 1] == 255  # top row first
    rgba = videoout.to_layout(frame, "rgba")
    np.testing.assert_array_equal(rgba[:, :, :3], rgb8)
    np.testing.assert_array_equal(rgba[:, :, 3], alpha8)
    bgra = videoout.to_layout(frame, "bgra")
    np.testing.assert_array_equal(bgra, rgba[:, :, [2, 1, 0, 3]])
    assert bgra.flags.c_contiguous


def test_frames_without_alpha_are_opaque_and_grey_is_replicated():
    rgb = gradient_rgba()[:, :, :3]
    assert (videoout.to_layout(rgb, "rgba")[:, :, 3] == 255).all()
    grey = rgb[:, :, :1]
    out = videoout.to_layout(grey, "bgra")
    assert (out[:, :, 0] == out[:, :, 1]).all() and (out[:, :, 1] == out[:, :, 2]).all()
    u8 = (rgb * 255).astype(np.uint8)
    np.testing.assert_array_equal(videoout.to_layout(u8, "rgb"), u8)  # uint8 passes unchanged
    with pytest.raises(CPPNError, match=r"\(H, W, 1, 3 or 4\)"):
        videoout.to_layout(np.zeros((H, W, 2), np.float32), "rgb")
    with pytest.raises(CPPNError, match="valid: rgb, rgba, bgra"):
        videoout.to_layout(rgb, "yuv")


def test_a_rendered_frame_converts_like_the_png_writer(renderer):
    """The real frame path: the renderer's 4-channel readback becomes what a still would show."""
    rng = np.random.default_rng(1)
    spec = NetworkSpec(("x", "y", "r"), 0, (
        Layer(rng.normal(size=(6, 3)).astype(np.float32), rng.normal(size=6).astype(np.float32),
              "tanh"),
        Layer(rng.normal(size=(3, 6)).astype(np.float32), rng.normal(size=3).astype(np.float32),
              "sigmoid"),
    ), scale=2.0)
    renderer.set_network(spec)
    tex = renderer.draw((16, 12), View(), display=True)
    rgba = renderer.read(tex, 4)
    out = videoout.to_layout(rgba, "rgba")
    np.testing.assert_array_equal(out[:, :, :3], to_uint8(renderer.read(tex, 3)))
    assert (out[:, :, 3] == 255).all()  # the program output is opaque


# --- missing packages and platforms -------------------------------------------------------------


@pytest.mark.parametrize("route, platform, package", [
    ("virtualcam", "linux", "pyvirtualcam"),
    ("syphon", "darwin", "syphon-python"),
    ("spout", "win32", "SpoutGL"),
    ("ndi", "linux", "ndi-python"),
])
def test_a_missing_package_is_named(monkeypatch, route, platform, package):
    for mod in videoout.ROUTES[route].modules:
        monkeypatch.setitem(sys.modules, mod, None)  # import of a None entry raises ImportError
    with pytest.raises(CPPNError, match=f"needs the {package} package \\(pip install {package}\\)"):
        videoout.open_output(route, (W, H), platform=platform)


@pytest.mark.parametrize("route, platform, message", [
    ("syphon", "linux", "works on macOS only, not on Linux"),
    ("spout", "darwin", "works on Windows only, not on macOS"),
    ("virtualcam", "sunos5", "works on Linux or macOS or Windows only"),
])
def test_a_wrong_platform_is_named(route, platform, message):
    with pytest.raises(CPPNError, match=message):
        videoout.open_output(route, (W, H), platform=platform)


def test_unknown_route_lists_the_valid_ones():
    with pytest.raises(CPPNError, match="valid: virtualcam, syphon, spout, ndi"):
        videoout.open_output("hdmi", (W, H))


# --- up to the library call (stand-in modules record what they are handed) --------------------


class Log(list):
    def __call__(self, *args, **kwargs):
        self.append((args, kwargs))


def fake_pyvirtualcam(fail: str = "") -> types.ModuleType:
    mod = types.ModuleType("pyvirtualcam")
    mod.log = Log()

    class Camera:
        def __init__(self, width, height, fps, fmt):
            if fail:
                raise RuntimeError(fail)
            mod.log(("open", width, height, fps, fmt))

        def send(self, frame):
            mod.log(("send", frame.copy(), frame.flags.c_contiguous))

        def close(self):
            mod.log(("close",))

    mod.Camera = Camera
    mod.PixelFormat = types.SimpleNamespace(RGB="RGB")
    return mod


def test_virtual_camera_gets_rgb_uint8_top_row_first(monkeypatch):
    mod = fake_pyvirtualcam()
    monkeypatch.setitem(sys.modules, "pyvirtualcam", mod)
    frame = gradient_rgba()
    with videoout.open_output("virtualcam", (W, H), fps=30, platform="linux") as out:
        out.send(frame)
        assert not out.route.alpha
    calls = [args[0] for args, _ in mod.log]
    assert calls[0] == ("open", W, H, 30.0, "RGB")
    _, sent, contiguous = calls[1]
    assert contiguous and sent.dtype == np.uint8 and sent.shape == (H, W, 3)
    np.testing.assert_array_equal(sent, to_uint8(frame[:, :, :3]))
    assert calls[2] == ("close",) and len(calls) == 3


def test_virtual_camera_driver_errors_are_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyvirtualcam",
                        fake_pyvirtualcam("'/dev/video0' is not a valid v4l2loopback device"))
    with pytest.raises(CPPNError, match="could not start.*v4l2loopback.*not a valid"):
        videoout.open_output("virtualcam", (W, H), platform="linux")


def test_sizes_and_lifecycle_are_checked(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyvirtualcam", fake_pyvirtualcam())
    out = videoout.open_output("virtualcam", (W, H), platform="linux")
    with pytest.raises(CPPNError, match="opened at 5x3, got a 4x3 frame"):
        out.send(gradient_rgba()[:, :4])
    out.close()
    out.close()  # twice is harmless
    with pytest.raises(CPPNError, match="is closed"):
        out.send(gradient_rgba())


def test_ndi_gets_bgra_with_alpha(monkeypatch):
    mod = types.ModuleType("NDIlib")
    mod.log = Log()
    mod.FOURCC_VIDEO_TYPE_BGRA = "BGRA"
    mod.initialize = lambda: True
    mod.SendCreate = types.SimpleNamespace
    mod.send_create = lambda settings: ("sender", settings.ndi_name)
    mod.VideoFrameV2 = types.SimpleNamespace
    mod.send_send_video_v2 = lambda s, f: mod.log((s, f.FourCC, f.data.copy(), f.frame_rate_N,
                                                   f.frame_rate_D))
    mod.send_destroy = lambda s: mod.log(("destroy", s))
    mod.destroy = lambda: mod.log("destroy-lib")
    monkeypatch.setitem(sys.modules, "NDIlib", mod)
    frame = gradient_rgba()
    with videoout.open_output("ndi", (W, H), fps=59.94, name="show", platform="linux") as out:
        out.send(frame)
    sender, fourcc, data, num, den = mod.log[0][0][0]
    assert sender == ("sender", "show") and fourcc == "BGRA" and num / den == pytest.approx(59.94)
    rgba = videoout.to_layout(frame, "rgba")
    np.testing.assert_array_equal(data, rgba[:, :, [2, 1, 0, 3]])
    assert data[0, -1, 3] == 128  # alpha kept: 1 - 0.5 at the right edge
    assert [a[0] for a, _ in mod.log[1:]] == [("destroy", ("sender", "show")), "destroy-lib"]


def test_ndi_runtime_failure_is_named(monkeypatch):
    mod = types.ModuleType("NDIlib")
    mod.initialize = lambda: False
    monkeypatch.setitem(sys.modules, "NDIlib", mod)
    with pytest.raises(CPPNError, match="NDI runtime did not start"):
        videoout.open_output("ndi", (W, H))


def test_spout_gets_rgba_top_row_first(monkeypatch):
    mod = types.ModuleType("SpoutGL")
    mod.log = Log()

    class SpoutSender:
        def setSenderName(self, name):  # noqa: N802 (the library's names)
            mod.log(("name", name))

        def sendImage(self, data, w, h, fmt, invert, fbo):  # noqa: N802
            mod.log(("image", data.copy(), w, h, fmt, invert, fbo))
            return True

        def releaseSender(self):  # noqa: N802
            mod.log(("release",))

    mod.SpoutSender = SpoutSender
    monkeypatch.setitem(sys.modules, "SpoutGL", mod)
    frame = gradient_rgba()
    with videoout.open_output("spout", (W, H), platform="win32") as out:
        out.send(frame)
    calls = [a[0] for a, _ in mod.log]
    assert calls[0] == ("name", "realtime-cppn")
    _, data, w, h, fmt, invert, fbo = calls[1]
    assert (w, h, fmt, invert, fbo) == (W, H, 0x1908, False, 0)
    np.testing.assert_array_equal(data, videoout.to_layout(frame, "rgba"))
    assert calls[2] == ("release",)


def test_syphon_gets_rgba_into_a_texture_of_the_size(monkeypatch):
    log = Log()
    syphon = types.ModuleType("syphon")

    class Server:
        device = "metal-device"

        def __init__(self, name):
            log(("server", name))

        def publish_frame_texture(self, texture):
            log(("publish", texture))

        def stop(self):
            log(("stop",))

    syphon.SyphonMetalServer = Server
    sy_numpy = types.ModuleType("syphon.utils.numpy")
    sy_numpy.copy_image_to_mtl_texture = lambda img, tex: log(("copy", img.copy(), tex))
    sy_raw = types.ModuleType("syphon.utils.raw")
    sy_raw.create_mtl_texture = lambda dev, w, h: ("texture", dev, w, h)
    for name, mod in (("syphon", syphon), ("syphon.utils", types.ModuleType("syphon.utils")),
                      ("syphon.utils.numpy", sy_numpy), ("syphon.utils.raw", sy_raw)):
        monkeypatch.setitem(sys.modules, name, mod)
    frame = gradient_rgba()
    with videoout.open_output("syphon", (W, H), platform="darwin") as out:
        out.send(frame)
    calls = [a[0] for a, _ in log]
    tex = ("texture", "metal-device", W, H)
    assert calls[0] == ("server", "realtime-cppn")
    assert calls[1][0] == "copy" and calls[1][2] == tex
    np.testing.assert_array_equal(calls[1][1], videoout.to_layout(frame, "rgba"))
    assert calls[2:] == [("publish", tex), ("stop",)]
