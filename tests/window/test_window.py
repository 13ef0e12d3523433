"""The live window end to end: a real glfw window under Xvfb, real key presses (xdotool), and
screenshots taken from outside (ImageMagick ``import``), compared with headless renders.

The app runs as a subprocess on a fixed-step clock and paused, so its picture is a pure function
of the scene: the window must show exactly what ``render`` computes headless (8-bit rounding aside).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.window

TOOLS = ("Xvfb", "xdotool", "import")
SIZE = (160, 120)
NET = ["--width", "8", "--depth", "2"]  # tiny: llvmpipe draws it in a few milliseconds
TOL = 2  # 8-bit levels: float render rounded by numpy vs by the GL framebuffer


def xvfb(screen: str = "1280x720x24"):
    """An Xvfb of its own (a generator: yields its display name, then stops it)."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"window tests need {', '.join(missing)} (apt-get install xvfb xdotool "
                    "imagemagick)")
    r, w = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", screen, "-nolisten", "tcp"],
        pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(w)
    with os.fdopen(r) as f:
        number = f.readline().strip()  # Xvfb writes the display it chose once it is ready
    if not number:
        proc.kill()
        pytest.fail("Xvfb did not start")
    yield f":{number}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def display(tmp_path_factory):
    yield from xvfb()


class App:
    """The live app in a subprocess, with its window found, focused and photographed."""

    def __init__(self, display: str, args: list[str], cwd: Path) -> None:
        self.env = {**os.environ, "DISPLAY": display}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "realtime_cppn.cli", *args], cwd=cwd, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.window = self._find()

    def _x(self, *args: str) -> str:
        return subprocess.run(args, env=self.env, capture_output=True, text=True,
                              timeout=60).stdout.strip()

    def _find(self, timeout: float = 120.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                pytest.fail(f"app exited {self.proc.returncode}: {self.proc.stderr.read()}")
            ids = self._x("xdotool", "search", "--pid", str(self.proc.pid), "--name",
                          "realtime-cppn").split()
            if ids:
                return ids[0]
            time.sleep(0.2)
        pytest.fail("no window appeared")

    def title(self) -> str:
        return self._x("xdotool", "getwindowname", self.window)

    def seed(self) -> int:
        return int(re.search(r"seed (\d+)", self.title()).group(1))

    def key(self, *names: str) -> None:
        self._x("xdotool", "windowfocus", "--sync", self.window)
        self._x("xdotool", "key", "--delay", "150", *names)

    def shot(self) -> np.ndarray:
        # ImageMagick's import now and then returns nothing while a window is being resized or
        # mapped: that is the screenshot tool's hiccup, not the app's, so ask again.
        for _ in range(5):
            png = subprocess.run(["import", "-window", self.window, "png:-"], env=self.env,
                                 capture_output=True, timeout=60).stdout
            try:
                return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
            except OSError:  # PIL's UnidentifiedImageError
                time.sleep(0.2)
        pytest.fail("import took no screenshot of the window in 5 tries")

    def wait_for(self, expected: np.ndarray, timeout: float = 120.0) -> np.ndarray:
        """The window's pixels once they equal ``expected`` (fails with the last difference)."""
        end = time.monotonic() + timeout
        diff = "no screenshot"
        while time.monotonic() < end:
            img = self.shot()
            if img.shape == expected.shape:
                d = np.abs(img.astype(int) - expected.astype(int))
                if d.max() <= TOL:
                    return img
                diff = f"max diff {d.max()}, mean {d.mean():.2f}"
            else:
                diff = f"shape {img.shape} != {expected.shape}"
            time.sleep(0.2)
        pytest.fail(f"window never showed the expected picture: {diff}")

    def stop(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


@pytest.fixture
def app(display, tmp_path):
    started: list[App] = []

    def start(seed: int = 7, size=SIZE, extra: list[str] | None = None,
              clock: tuple[str, ...] = ("--fixed-fps", "20")) -> App:
        a = App(display, ["--seed", str(seed), *NET, "--size", f"{size[0]}x{size[1]}",
                          *clock, "--paused", "--screenshot-dir", str(tmp_path),
                          *(extra or [])], tmp_path)
        started.append(a)
        return a

    yield start
    for a in started:
        if a.proc.poll() is None:
            a.proc.kill()
            a.proc.wait()


def headless(renderer, seed: int, size=SIZE, path_seed: int = 7, width: int = 8) -> np.ndarray:
    """What the window must show: the same scene rendered without a window, as 8-bit RGB."""
    from realtime_cppn.core.scene import Scene
    from realtime_cppn.media.images import to_uint8
    from realtime_cppn.nn.build import scene_network, scene_z

    scene = Scene(network={"seed": seed, "width": width, "depth": 2}, path_seed=path_seed)
    spec = scene_network(scene)
    renderer.set_network(spec, scene_z(scene, spec))
    return to_uint8(renderer.read(renderer.draw(size, scene.view, display=True), 3))


def test_window_shows_the_headless_render_and_screenshots_it(app, renderer, tmp_path):
    from realtime_cppn.media.images import read_scene

    a = app(seed=7)
    expected = headless(renderer, 7)
    a.wait_for(expected)
    assert a.seed() == 7
    a.key("p")
    end = time.monotonic() + 120  # a hang guard, not a budget
    while not list(tmp_path.glob("*.png")) and time.monotonic() < end:
        time.sleep(0.1)
    (png,) = tmp_path.glob("*.png")
    time.sleep(0.3)  # let the writer finish
    saved = np.asarray(Image.open(png).convert("RGB"))
    assert saved.shape == expected.shape and np.abs(saved.astype(int) - expected).max() <= 1
    assert read_scene(png).network["seed"] == 7


def test_reseed_key_shows_the_new_seed(app, renderer):
    a = app(seed=7)
    a.wait_for(headless(renderer, 7))
    a.key("r")
    end = time.monotonic() + 120  # a hang guard, not a budget
    while a.seed() == 7 and time.monotonic() < end:
        time.sleep(0.1)
    new = a.seed()
    assert new != 7
    a.wait_for(headless(renderer, new))  # the latent path stays the scene's (path seed 7)
    a.key("BackSpace")  # history: back to where we were
    a.wait_for(headless(renderer, 7))


@pytest.mark.parametrize("path", ["compute", "auto"])
def test_width_key_builds_in_the_background_then_shows_the_wider_network(app, renderer, path):
    # The wall clock (no --fixed-fps) is the live default: a shader path compiles new
    # architectures in a child process; the cpu path (auto on llvmpipe) compiles nothing.
    # Paused, so the picture is exact once it arrives.
    a = app(seed=7, clock=(), extra=["--render-path", path, "--auto-scale", "0"])
    a.wait_for(headless(renderer, 7))
    a.key("w")  # width 8 -> 16
    from realtime_cppn.rendering.renderer import Renderer

    wide = Renderer(renderer.ctx)  # the shared renderer's cache is other tests' business
    try:
        a.wait_for(headless(wide, 7, width=16), timeout=180)
    finally:
        wide.release()
    a.key("W")  # back to 8: compiled already, shown at once
    a.wait_for(headless(renderer, 7))


def test_help_key_shows_and_hides_the_overlay(app, renderer):
    a = app(seed=7, size=(320, 240))
    plain = a.wait_for(headless(renderer, 7, (320, 240)))
    a.key("h")
    end = time.monotonic() + 120  # a hang guard, not a budget
    changed = 0.0
    while time.monotonic() < end:
        region = a.shot()[:40, :120].astype(int)  # the panel starts at the top-left corner
        changed = np.abs(region - plain[:40, :120]).mean()
        if changed > 20:
            break
        time.sleep(0.2)
    assert changed > 20, "the help overlay did not appear"
    a.key("h")
    a.wait_for(plain)


def test_escape_once_hides_twice_quits(app, renderer):
    a = app(seed=7, extra=["--info"])
    time.sleep(1.0)
    a.key("Escape")
    a.wait_for(headless(renderer, 7))  # the info overlay is gone, the show goes on
    assert a.proc.poll() is None
    a.key("Escape", "Escape")
    assert a.stop() == 0


def test_resize_keeps_rendering(app, renderer):
    a = app(seed=7)
    a.wait_for(headless(renderer, 7))
    a._x("xdotool", "windowsize", "--sync", a.window, "200", "150")
    a.wait_for(headless(renderer, 7, (200, 150)))
    a.key("ctrl+q")
    assert a.stop() == 0


def test_fullscreen_key_fills_the_screen_and_comes_back(app, renderer):
    a = app(seed=7)
    a.wait_for(headless(renderer, 7))
    a.key("f")
    a.wait_for(headless(renderer, 7, (1280, 720)), timeout=180)  # the whole Xvfb screen
    a.key("F11")
    a.wait_for(headless(renderer, 7))
    a.key("ctrl+q")
    assert a.stop() == 0


def test_no_display_is_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out = subprocess.run([sys.executable, "-m", "realtime_cppn.cli", *NET], env=env,
                         capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "still" in out.stderr and "display" in out.stderr


def test_monitor_out_of_range_lists_monitors(display, tmp_path):
    out = subprocess.run([sys.executable, "-m", "realtime_cppn.cli", "--monitor", "5"],
                         env={**os.environ, "DISPLAY": display}, capture_output=True, text=True,
                         timeout=180, cwd=tmp_path)
    assert out.returncode == 2
    assert "monitor 5 out of range; monitors: 0: " in out.stderr


# --- the same show without a window: Live on the headless renderer ---------------------------


def live_show(renderer, gl_context, seed: int = 7, size=SIZE):
    from realtime_cppn.core.scene import Scene
    from realtime_cppn.live.live import Live
    from realtime_cppn.show.actions import initial_state
    from realtime_cppn.show.clock import FixedClock

    state = initial_state(Scene(network={"seed": seed, "width": 8, "depth": 2}, path_seed=7),
                          paused=True)
    live = Live(renderer, state, clock=FixedClock(10))
    fbo = gl_context.simple_framebuffer(size)

    def frame() -> np.ndarray:
        live.update()
        live.render(fbo, size)
        w, h = size
        return np.frombuffer(fbo.read(components=3), np.uint8).reshape(h, w, 3)[::-1]

    return live, frame


@pytest.mark.parametrize("path", ["compute", "cpu"])
def test_reseed_and_morph_show_next_frame_and_compile_nothing(request, gl_context, path):
    from realtime_cppn.core.animation import blend
    from realtime_cppn.core.scene import Scene
    from realtime_cppn.media.images import to_uint8
    from realtime_cppn.nn.build import scene_network, scene_z

    renderer = request.getfixturevalue(f"{path}_renderer")
    live, frame = live_show(renderer, gl_context)
    frame()
    compiles = renderer.stats.compiles
    live.dispatch("reseed")  # a random, lively seed
    after_reseed = frame()  # the very next frame
    seed = live.state.seed
    assert seed != 7 and live.state.history == (7,)
    live.dispatch("morph=321")
    frames = [(frame(), live.state.morph.progress(live.state.time)) for _ in range(5)]
    assert renderer.stats.compiles == compiles  # uploads only
    for _ in range(8):
        frame()
    assert live.state.morph is None
    final = frame()
    live.dispatch("width_up")
    frame()
    # A new architecture compiles once on a shader path; the cpu path has nothing to compile.
    assert renderer.stats.compiles == compiles + (path != "cpu")

    def expect(spec, scene):
        renderer.set_network(spec, scene_z(scene, spec))
        return to_uint8(renderer.read(renderer.draw(SIZE, display=True), 3))

    def scene_of(s):
        return Scene(network={"seed": s, "width": 8, "depth": 2}, path_seed=7)

    a, b = scene_network(scene_of(seed)), scene_network(scene_of(321))
    assert np.abs(after_reseed.astype(int) - expect(a, scene_of(seed))).max() <= TOL
    assert np.abs(final.astype(int) - expect(b, scene_of(321))).max() <= TOL
    img, t = frames[2]
    assert 0.0 < t < 1.0
    mid = expect(blend(a, b, t), scene_of(321))
    assert np.abs(img.astype(int) - mid).max() <= TOL
    assert np.abs(mid.astype(int) - expect(a, scene_of(seed))).mean() > 1  # really in between


def test_a_refused_action_leaves_the_show_running(renderer, gl_context):
    from realtime_cppn.show.actions import Action

    live, frame = live_show(renderer, gl_context)
    frame()
    before = live.state
    live.dispatch(Action("speed", "fast"))  # as a malformed OSC message would arrive
    live.dispatch("render_scale=0.5")
    img = frame()
    assert live.error == "speed=fast: speed value must be a number, got 'fast'"
    assert live.state.speed == before.speed and live.state.render_scale == 0.5
    assert img.shape == (SIZE[1], SIZE[0], 3)


def test_log_listener_sees_resolved_actions(renderer, gl_context):
    live, frame = live_show(renderer, gl_context)
    log = []
    live.listeners.append(lambda t, action, state: log.append((t, str(action))))
    seen = []
    live.frame_hooks.append(lambda tex, state: seen.append(tex.size))
    live.dispatch("render_scale=0.5")
    frame()
    assert seen == [(SIZE[0] // 2, SIZE[1] // 2)]  # the picture itself, before any overlay
    log.clear()
    live.dispatch("reseed")
    live.dispatch("speed_double")
    frame()
    (t1, first), (t2, second) = log
    assert first == f"reseed={live.state.seed}" and second == "speed_double" and t1 == t2 == 0.1


def test_auto_scale_steps_down_to_hold_an_impossible_rate_and_says_so(renderer, gl_context):
    live, frame = live_show(renderer, gl_context)
    sizes = []
    live.frame_hooks.append(lambda tex, state: sizes.append(tex.size))
    # A frame that costs 3 ms however fast the GPU is (a slow recorder, say) against a budget
    # of 1 ms: the mode must step the scale down.
    live.frame_hooks.append(lambda tex, state: time.sleep(0.003))
    live.dispatch("auto_scale=1000")
    for _ in range(60):
        frame()
    assert live.state.auto_scale and live.state.render_scale < 1.0
    assert sizes[-1][0] < SIZE[0] and live.frame_cost > 0
    render_row = dict(live.info_rows())["render"]
    # 1000 fps is out of reach even at the lowest scale: it holds 30 instead and says so
    assert "auto for 30 fps" in render_row and f"{renderer.path} path" in render_row
    assert "(1000 out of reach)" in dict(live.info_rows())["limit"]
    live.dispatch("render_scale=1")  # a chosen scale turns the mode off and sticks
    for _ in range(20):
        frame()
    assert not live.state.auto_scale and live.state.render_scale == 1.0


def test_export_key_writes_a_shader_and_a_bad_one_is_refused(renderer, gl_context, tmp_path):
    from realtime_cppn.exports.formats import isf_header

    live, frame = live_show(renderer, gl_context)
    live.screenshot_dir = tmp_path
    frame()
    live.dispatch("export")
    live.dispatch("export=isf")
    frame()
    (glsl,) = tmp_path.glob("*.frag")
    (fs,) = tmp_path.glob("*.fs")
    assert "u_time" in glsl.read_text() and isf_header(fs.read_text())["INPUTS"]
    live.dispatch("width=128")  # 18k weights: past what a Shadertoy export bakes
    frame()
    live.dispatch("export=shadertoy")
    frame()
    assert "cannot" in live.error or "at most" in live.error
    assert live.state.exports == 2 and not list(tmp_path.glob("*.glsl"))


def test_grid_window_cells_equal_individual_renders(display, tmp_path, renderer):
    from realtime_cppn.cli.grid import render_grid
    from realtime_cppn.core.animation import LatentPath
    from realtime_cppn.core.scene import Scene
    from realtime_cppn.nn.build import scene_network

    a = App(display, ["grid", "--widths", "4,8", "--depths", "1,2", "--cell", "48", "--seed", "3",
                      "--fixed-fps", "20", "--paused"], tmp_path)
    specs = [scene_network(Scene(network={"seed": 3, "width": w, "depth": d}))
             for d in (1, 2) for w in (4, 8)]
    z = LatentPath(3, specs[0].z_dim)(0.0)
    expected = render_grid(renderer, specs, Scene().view, 48, 2, 2, z)
    a.wait_for(expected)
    a.key("ctrl+q")
    assert a.stop() == 0


def test_texture_key_cycles_the_folder_for_a_uv_network(renderer, gl_context, tmp_path):
    from dataclasses import replace

    from PIL import Image

    from realtime_cppn.cli.live import texture_folder
    from realtime_cppn.core.scene import Scene
    from realtime_cppn.live.live import Live
    from realtime_cppn.media.images import load_texture, to_uint8
    from realtime_cppn.nn.build import scene_network, scene_z
    from realtime_cppn.show.actions import initial_state
    from realtime_cppn.show.clock import FixedClock

    y, x = np.mgrid[0:40, 0:56]
    Image.fromarray(np.stack([x * 4, y * 6, 255 - x * 4], -1).astype(np.uint8)).save(
        tmp_path / "a.png")
    Image.fromarray(np.stack([255 - y * 6, x * 3, y * 2], -1).astype(np.uint8)).save(
        tmp_path / "b.png")
    (tmp_path / "notes.txt").write_text("not an image")
    a, b = str(tmp_path / "a.png"), str(tmp_path / "b.png")
    assert texture_folder(a) == (a, b)
    scene = Scene(network={"seed": 7, "width": 8, "depth": 2, "out_channels": 2}, path_seed=7,
                  texture=a)
    live = Live(renderer, initial_state(scene, paused=True, textures=texture_folder(a)),
                clock=FixedClock(10))
    log = []
    live.listeners.append(lambda t, action, state: log.append(str(action)))
    fbo = gl_context.simple_framebuffer(SIZE)

    def frame() -> np.ndarray:
        live.update()
        live.render(fbo, SIZE)
        return np.frombuffer(fbo.read(components=3), np.uint8).reshape(SIZE[1], SIZE[0], 3)[::-1]

    def expect(texture: str, view) -> np.ndarray:
        spec = scene_network(scene)
        renderer.set_texture(load_texture(texture))
        renderer.set_network(spec, scene_z(scene, spec))
        out = to_uint8(renderer.read(renderer.draw(SIZE, view, display=True), 3))
        live._texture = None  # the test changed the renderer's texture behind the show's back
        live._uploaded = None
        return out

    first = frame()
    assert np.abs(first.astype(int) - expect(a, scene.view)).max() <= TOL
    live.dispatch("texture")
    second = frame()
    assert live.state.scene.texture == b and log == [f"texture={b}"]  # logged as the file
    assert np.abs(second.astype(int) - expect(b, scene.view)).max() <= TOL
    assert np.abs(second.astype(int) - first).mean() > 5
    live.dispatch("wrap")  # mirror -> clamp
    third = frame()
    assert np.abs(third.astype(int) - expect(b, replace(scene.view, wrap="clamp"))).max() <= TOL
    live.dispatch("texture")
    frame()
    assert live.state.scene.texture == a
    renderer.set_texture(None)


@pytest.mark.parametrize("args, message", [
    (["--video-out", "bogus"], "unknown video output 'bogus'; valid: virtualcam"),
    (["--video-out", "virtualcam"], "pip install pyvirtualcam"),
    (["--record-codec", "mpeg1"], "unknown codec 'mpeg1'; valid: h264"),
    (["--auto-scale", "-5"], "--auto-scale needs a positive fps (0: off)"),
    (["--action", "export=hlsl"], "export must be one of glsl, shadertoy, isf"),
])
def test_bad_output_options_are_one_clear_line(display, tmp_path, args, message):
    if "virtualcam" in args:
        if __import__("importlib").util.find_spec("pyvirtualcam") is not None:
            pytest.skip("pyvirtualcam is installed here")
    out = subprocess.run([sys.executable, "-m", "realtime_cppn.cli", *NET, "--frames", "3", *args],
                         env={**os.environ, "DISPLAY": display}, capture_output=True, text=True,
                         timeout=180, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and message in out.stderr, out.stderr


FAKE_PYVIRTUALCAM = '''
"""A stand-in for pyvirtualcam (no v4l2loopback here): frames sent are saved as .npy files."""
import os
from enum import Enum

import numpy as np


class PixelFormat(Enum):
    RGB = "rgb"


class Camera:
    def __init__(self, width, height, fps, fmt):
        self.size, self.n = (width, height), 0
        self.folder = os.environ["FAKE_CAM_DIR"]

    def send(self, frame):
        np.save(os.path.join(self.folder, f"{self.n:04d}.npy"), frame)
        self.n += 1

    def close(self):
        open(os.path.join(self.folder, "closed"), "w").close()
'''


def test_video_out_sends_the_program_without_overlays(display, tmp_path, renderer):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "pyvirtualcam.py").write_text(FAKE_PYVIRTUALCAM)
    cam = tmp_path / "cam"
    cam.mkdir()
    env = {**os.environ, "DISPLAY": display, "FAKE_CAM_DIR": str(cam),
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "mods"),
                                          os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-m", "realtime_cppn.cli", "--seed", "7", *NET, "--size",
         f"{SIZE[0]}x{SIZE[1]}", "--fixed-fps", "20", "--paused", "--info", "--help-overlay",
         "--video-out", "virtualcam", "--frames", "8"],
        env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    frames = [np.load(p) for p in sorted(cam.glob("*.npy"))]
    assert len(frames) >= 6 and (cam / "closed").exists()
    expected = headless(renderer, 7)
    for f in frames:  # the picture alone: the help and info panels stay on the screen
        assert f.shape == expected.shape and np.abs(f.astype(int) - expected).max() <= TOL


def test_fit_live_trains_in_a_window_then_plays_the_fit(display, tmp_path):
    from PIL import Image

    from realtime_cppn.media import scenefile

    y, x = np.mgrid[0:24, 0:32]
    Image.fromarray(np.stack([x * 8, y * 10, (x + y) * 4], -1).astype(np.uint8)).save(
        tmp_path / "target.png")
    out = subprocess.run(
        [sys.executable, "-m", "realtime_cppn.cli", "fit", "target.png", "--live", "--steps", "30",
         "--every", "10", "--width", "8", "--depth", "2", "--frames", "5", "--fixed-fps", "20",
         "--save", "fitted.json"],
        env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=120,
        cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "PSNR" in out.stdout
    sf = scenefile.load(tmp_path / "fitted.json")
    assert sf.spec is not None and sf.spec.layers[0].weight.shape[0] == 8


def test_osc_message_changes_the_live_picture_like_the_key(app, renderer):
    """An OSC message sent over loopback to the running app shows the same picture as the
    matching action: the instrument feeds the one vocabulary."""
    import socket

    pytest.importorskip("pythonosc")
    from pythonosc.udp_client import SimpleUDPClient

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # a free port for the app
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    a = app(seed=7, extra=["--osc-port", str(port), "--osc-quit"])
    a.wait_for(headless(renderer, 7))
    client = SimpleUDPClient("127.0.0.1", port)
    client.send_message("/cppn/seed", [11])
    client.send_message("/cppn/bogus", [float("nan")])  # logged once and ignored
    a.wait_for(headless(renderer, 11))
    client.send_message("/cppn/quit", [])
    assert a.stop() == 0
