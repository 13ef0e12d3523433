"""A take survives its process being killed: a real process records a headless live show
(``app.Live`` on a fixed clock, as the window does), says on stdout how many frames its encoder
has written, and is sent SIGKILL once enough are; the file under the take's visible name then
decodes with PyAV and ffprobe reads it without an error. No wall-clock budget: the test waits
for the process's own count.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from realtime_cppn.media import codecs

av = pytest.importorskip("av")

FPS = 30
KILL_AT = 100  # frames written (3.3 s): fragments are cut about every second

SHOW = textwrap.dedent("""
    import sys
    from pathlib import Path
    from realtime_cppn.show import actions
    from realtime_cppn.live.live import Live, RecordSettings
    from realtime_cppn.show.clock import FixedClock
    from realtime_cppn.rendering.renderer import Renderer, create_headless_context
    from realtime_cppn.core.scene import Scene

    folder, codec = Path(sys.argv[1]), sys.argv[2]
    ctx = create_headless_context()
    renderer = Renderer(ctx)
    state = actions.initial_state(Scene(network={"seed": 7, "width": 8, "depth": 2}))
    live = Live(renderer, state, clock=FixedClock(30), screenshot_dir=folder,
                record=RecordSettings(folder, codec, wait=True))
    fbo = ctx.simple_framebuffer((64, 48))
    live.dispatch("record")
    while True:
        live.update()
        live.render(fbo, (64, 48))
        rec = live.recording.rec
        print(rec.writer.frames, flush=True)
""")


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (the HAP take's ffmpeg)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def wait_gone(pids: list[int], timeout: float = 120.0) -> None:
    """Until every process in ``pids`` has exited (a zombie counts as gone); a hang guard."""
    end = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < end:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                break
            if state == "Z":
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"process {pid} is still running")


def probe(path) -> subprocess.CompletedProcess:
    return subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                           "-show_entries", "stream=codec_name,nb_read_frames,r_frame_rate",
                           "-of", "compact", str(path)], capture_output=True, text=True)


@pytest.mark.parametrize("codec", ["h264", "prores", "hap-q", "png"])
def test_a_take_killed_with_sigkill_plays(tmp_path, codec):
    if codecs.CODECS[codec].route == "ffmpeg" and codecs.hap_available():
        pytest.skip(codecs.hap_available())
    folder = tmp_path / "takes"
    proc = subprocess.Popen([sys.executable, "-c", SHOW,
                             str(folder), codec], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        written = 0
        for line in proc.stdout:
            written = int(line)
            if written >= KILL_AT:
                break
        assert written >= KILL_AT, "the show stopped before the kill"
        # HAP is encoded by an ffmpeg in a session of its own: the kill does not reach it, and
        # it finishes the file once its input closes. Read the file after that, not during it.
        encoders = children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        wait_gone(encoders)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    video = folder / f"cppn-rec-000{codecs.CODECS[codec].suffix}"
    assert sorted(p.name for p in folder.iterdir()) == sorted(["cppn-rec-000.jsonl", video.name])
    if codec == "png":  # a folder of whole frames, numbered from 0 without a gap
        # The frame being written at the kill is a hidden temporary name: no player lists it.
        names = sorted(p.name for p in video.iterdir() if not p.name.startswith("."))
        assert names == [codecs.FRAME_PATTERN.format(n) for n in range(len(names))]
        video = video / "frame_%06d.png"
    with av.open(str(video)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    # All but the last second or two of what was written: every complete fragment.
    assert KILL_AT - 2 * FPS <= frames <= written + FPS, frames
    print(f"{codec} take killed after {written} frames written: {frames} decode")
    if shutil.which("ffprobe"):
        done = probe(video)
        assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
        assert f"nb_read_frames={frames}" in done.stdout, done.stdout
