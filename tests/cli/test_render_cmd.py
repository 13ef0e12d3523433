"""``realtime-cppn render``: clips decoded back (PyAV) and compared with headless renders at the
same times; loop closure; Ctrl-C; bad input (exit 2, one line, nothing already written harmed)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from realtime_cppn import api
from realtime_cppn.cli import args as cli_args
from realtime_cppn.cli import main as cli
from realtime_cppn.cli.render import plan_clip
from realtime_cppn.media import codecs

av = pytest.importorskip("av")

NET = ["--width", "8", "--depth", "2", "--seed", "3", "--loop", "2"]
SIZE = (64, 48)
CLIP = [*NET, "--size", "64x48", "--fps", "10", "--no-progress"]
TOLERANCE = {"h264": 5.0, "prores": 4.0, "prores4444": 0.5, "hap": 5.0, "hap-q": 5.0,
             "hap-alpha": 5.0, "png": 0.0}  # mean abs levels; 64x48 chroma subsampling ~3


@pytest.fixture
def command(renderer, monkeypatch, capsys):
    """Runs the CLI in-process on the session's GL context; returns (status, stdout, stderr)."""
    monkeypatch.setattr(api, "_default", renderer)

    def run(*argv: str) -> tuple[int, str, str]:
        status = cli.main(["render", *argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def still(renderer):
    """The headless render of the CLIP scene at a latent phase: uint8 (H, W, 3)."""
    from realtime_cppn.core.animation import LatentPath
    from realtime_cppn.nn.build import scene_network

    scene = cli_args.scene_from_args(cli.build_parser().parse_args(["render", *CLIP]))
    spec = scene_network(scene)
    path = LatentPath(scene.path_seed, spec.z_dim)

    def at(phase: float) -> np.ndarray:
        renderer.set_network(spec, path(phase))
        return renderer.read(renderer.draw(SIZE, scene.view, dtype="f1", display=True), 3)

    at.scene = scene
    return at


def decode(out: Path, codec: str = "") -> tuple[list[np.ndarray], dict]:
    src = str(out / "frame_%06d.png") if out.is_dir() else str(out)
    with av.open(src) as c:
        s = c.streams.video[0]
        info = {"codec": s.codec_context.name, "size": (s.width, s.height),
                "rate": s.average_rate}
        frames = list(c.decode(video=0))
        info["times"] = [f.time for f in frames]
        return [f.to_ndarray(format="rgb24") for f in frames], info


def mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


@pytest.mark.parametrize("codec", list(codecs.CODECS))
def test_clip_frames_are_the_stills_at_n_over_fps(command, still, tmp_path, codec):
    if codecs.CODECS[codec].route == "ffmpeg" and codecs.hap_available():
        pytest.skip(codecs.hap_available())
    c = codecs.CODECS[codec]
    out = tmp_path / (f"clip{c.suffix}" if c.suffix else "seq")
    status, stdout, _ = command(*CLIP, "--duration", "1", "--codec", codec, "-o", str(out))
    assert status == 0 and f"wrote {out}" in stdout
    frames, info = decode(out)
    assert len(frames) == 10  # fps x duration
    assert info["size"] == SIZE
    if codec != "png":
        assert info["codec"] == c.encoder.replace("libx264", "h264").replace("prores_ks", "prores")
        assert info["times"] == pytest.approx([n / 10 for n in range(10)])
    for n, frame in enumerate(frames):
        want = still(still.scene.phase + (n / 10) / still.scene.loop)
        assert mae(frame, want) <= TOLERANCE[codec], f"frame {n}"
    # The frames differ from each other (the latent moves), more than the tolerance.
    assert mae(frames[0], frames[5]) > 10


def test_loops_close_seamlessly(command, still, tmp_path):
    out = tmp_path / "seq"
    status, stdout, _ = command(*CLIP, "--loops", "1", "--codec", "png", "-o", str(out))
    assert status == 0
    frames, _ = decode(out)
    assert len(frames) == 20  # one 2 s loop at 10 fps
    # The frame after the last (phase + 1) is the first frame: the clip loops seamlessly.
    np.testing.assert_array_equal(frames[0], still(still.scene.phase + 1.0))
    np.testing.assert_array_equal(frames[-1], still(still.scene.phase + 19 / 20))
    assert mae(frames[-1], frames[0]) < mae(frames[10], frames[0])  # the end leads back


def test_png_frames_carry_their_scene_and_start_shifts_time(command, still, tmp_path):
    from realtime_cppn.media.images import read_scene

    out = tmp_path / "seq"
    status, _, _ = command(*CLIP, "--duration", "0.5", "--start", "0.5", "--codec", "png",
                           "-o", str(out))
    assert status == 0
    frames, _ = decode(out)
    for n in (0, 3):
        phase = still.scene.phase + (0.5 + n / 10) / still.scene.loop
        scene = read_scene(out / f"frame_{n:06d}.png")
        assert scene.phase == pytest.approx(phase)
        assert scene.network == still.scene.network
        np.testing.assert_array_equal(frames[n], still(phase))


def test_same_command_gives_the_same_file(command, tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    assert command(*CLIP, "--duration", "1", "-o", str(a))[0] == 0
    assert command(*CLIP, "--duration", "1", "-o", str(b))[0] == 0
    assert a.read_bytes() == b.read_bytes()


def test_plan_is_frame_exact():
    p = plan_clip(fps=30, loop=8, phase=0.25, loops=2)
    assert p.frames == 480 and not p.note
    assert p.phase(480) == pytest.approx(2.25)
    assert p.phase(30) == pytest.approx(0.25 + 1 / 8)  # frame n at time n / fps
    p = plan_clip(fps=10, loop=2, phase=0, duration=1.5)
    assert (p.frames, p.seconds) == (15, 1.5)
    # 8.33 s is not a whole number of frames: the loop is stretched (and said), stays seamless.
    p = plan_clip(fps=30, loop=8.33, phase=0.0, loops=1)
    assert p.frames == 250 and "stretched" in p.note
    assert p.phase(250) == pytest.approx(1.0, abs=1e-12)
    p = plan_clip(fps=10, loop=2, phase=0, duration=0.33)
    assert p.frames == 3 and "3.300 frames" in p.note


def test_progress_bar_goes_to_stderr(command, tmp_path):
    args = [a for a in CLIP if a != "--no-progress"]
    status, stdout, stderr = command(*args, "--duration", "0.5", "-o", str(tmp_path / "a.mp4"))
    assert status == 0
    assert "5/5 frames" in stderr and "ETA" in stderr
    assert "ETA" not in stdout


def test_stored_weights_are_rendered(command, tmp_path, renderer):
    """A scene file's weights win over its seed: a morphed network renders as morphed."""
    from realtime_cppn.core.animation import LatentPath, blend
    from realtime_cppn.media import scenefile
    from realtime_cppn.nn.build import scene_network

    scene = cli_args.scene_from_args(cli.build_parser().parse_args(["render", *CLIP]))
    other = cli_args.scene_from_args(cli.build_parser().parse_args(["render", *CLIP, "--seed", "9"]))
    morphed = blend(scene_network(scene), scene_network(other), 0.5)
    scenefile.save(tmp_path / "s.json", scene, morphed)
    out = tmp_path / "seq"
    status, _, _ = command("--scene", str(tmp_path / "s.json"), "--size", "64x48", "--fps",
                           "10", "--duration", "0.1", "--no-progress", "-o", str(out))
    assert status == 0
    (frame,), _ = decode(out)
    renderer.set_network(morphed, LatentPath(scene.path_seed, morphed.z_dim)(scene.phase))
    want = renderer.read(renderer.draw(SIZE, scene.view, dtype="f1", display=True), 3)
    np.testing.assert_array_equal(frame, want)


# --- Ctrl-C ------------------------------------------------------------------------------------


def _start(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "realtime_cppn.cli", "render", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.slow
@pytest.mark.parametrize("codec", ["h264", "hap-q"])
def test_ctrl_c_leaves_a_playable_clip(tmp_path, still, codec):
    if codecs.CODECS[codec].route == "ffmpeg" and codecs.hap_available():
        pytest.skip(codecs.hap_available())
    out = tmp_path / "a.mp4" if codec == "h264" else tmp_path / "a.mov"
    # An hour at 10 fps: far more than it renders (~1000 frames/s here) before the interrupt.
    args = [a for a in CLIP if a != "--no-progress"]
    proc = _start([*args, "--duration", "3600", "--codec", codec, "-o", str(out)])
    first = proc.stderr.readline()  # the progress bar's first line: frames are being rendered
    assert "/36000 frames" in first, first
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    lines = [ln for ln in stderr.splitlines() if "interrupted" in ln]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    done = int(lines[0].split("holds the first ")[1].split(" of ")[0])
    assert 1 <= done < 36000
    frames, info = decode(out)
    assert len(frames) == done
    assert info["times"] == pytest.approx([n / 10 for n in range(done)])
    for n in (0, done - 1):
        assert mae(frames[n], still(still.scene.phase + n / 10 / 2)) <= TOLERANCE[codec]
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary files left


# --- bad input ---------------------------------------------------------------------------------


@pytest.fixture
def precious(tmp_path) -> Path:
    """An earlier clip at the output path: every failed command must leave it byte-identical."""
    p = tmp_path / "clip.mp4"
    p.write_bytes(b"yesterday's set")
    return p


def one_error_line(status: int, stdout: str, stderr: str) -> str:
    assert status == 2
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("realtime-cppn: error: ")
    return lines[0]


def untouched(precious: Path) -> None:
    assert precious.read_bytes() == b"yesterday's set"
    assert [p.name for p in precious.parent.iterdir()] == [precious.name]


def test_unknown_codec_lists_codecs(command, precious):
    line = one_error_line(*command(*CLIP, "--codec", "cinepak", "-o", str(precious)))
    assert all(name in line for name in codecs.CODECS)
    untouched(precious)


def test_odd_size_for_h264_is_refused_with_the_nearest_even_sizes(command, precious):
    line = one_error_line(*command(*NET, "--size", "63x48", "-o", str(precious)))
    assert "even" in line and "62x48" in line and "64x48" in line
    untouched(precious)


def test_hap_size_must_be_a_multiple_of_4(command, precious):
    out = precious.with_suffix(".mov")
    line = one_error_line(*command(*NET, "--size", "62x48", "--codec", "hap", "-o", str(out)))
    assert "multiples of 4" in line and "60x48" in line and "64x48" in line
    untouched(precious)


def test_missing_output_folder(command, tmp_path, precious):
    line = one_error_line(*command(*CLIP, "-o", str(tmp_path / "nope" / "a.mp4")))
    assert "does not exist" in line
    untouched(precious)


def test_unwritable_output_folder(command, tmp_path):
    if os.geteuid() == 0:
        target = Path("/sys/cppn-test.mp4")  # root ignores permissions; sysfs refuses files
        if not Path("/sys").is_dir():
            pytest.skip("root without /sys: no folder root cannot write")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        target = locked / "a.mp4"
    line = one_error_line(*command(*CLIP, "--duration", "0.1", "-o", str(target)))
    assert str(target.parent) in line or str(target) in line
    assert not target.exists()


@pytest.mark.parametrize("content", [None, "{not json", '{"format": "something else"}'])
def test_missing_or_corrupt_scene(command, tmp_path, precious, content):
    scene = tmp_path / "s.json"
    if content is not None:
        scene.write_text(content)
    line = one_error_line(*command("--scene", str(scene), "--size", "64x48", "-o",
                                   str(precious)))
    assert "scene" in line
    assert precious.read_bytes() == b"yesterday's set"


def test_bad_length_arguments(command, precious):
    one_error_line(*command(*CLIP, "--duration", "-1", "-o", str(precious)))
    one_error_line(*command(*CLIP, "--loops", "0", "-o", str(precious)))
    one_error_line(*command(*CLIP, "--duration", "1", "--loops", "1", "-o", str(precious)))
    one_error_line(*command(*CLIP, "--fps", "0", "-o", str(precious)))
    untouched(precious)


@pytest.mark.slow
def test_a_full_disk_keeps_the_old_clip(tmp_path, precious):
    """A file-size limit makes the disk 'full' mid-clip: exit 2, one line, old clip intact."""
    out = precious.with_suffix(".mov")
    out.write_bytes(b"yesterday's set")
    precious.unlink()

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    proc = _start([*CLIP, "--duration", "100", "--codec", "prores", "-o", str(out)],
                  preexec_fn=limit)
    stdout, stderr = proc.communicate(timeout=120)
    line = one_error_line(proc.returncode, stdout, stderr)
    assert "cannot write" in line and str(out) in line
    untouched(out)
