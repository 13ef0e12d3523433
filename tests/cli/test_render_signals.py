"""Stop signals during ``realtime-cppn render`` and ``replay`` (real processes, real signals):
the first SIGINT, SIGTERM or SIGHUP finishes the clip with the frames rendered and says what it
holds; a storm of further signals while the file is finished changes nothing (no traceback, the
file plays, no hidden partial left); a clip that has no frame yet leaves no file. Hidden
partials of killed renders are removed by the next render in their folder. Synchronised on the
process's own output and exit, never on sleeps.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from realtime_cppn.media import codecs, writers

av = pytest.importorskip("av")

CLIP = ["--width", "8", "--depth", "2", "--seed", "3", "--loop", "2", "--size", "64x48",
        "--fps", "10", "--duration", "3600"]  # an hour: far more than it renders before a signal


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "realtime_cppn.cli", "render", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def storm(proc: subprocess.Popen, sig: int) -> tuple[str, str, int]:
    """``sig`` again and again until the process has exited (the same one: pending together,
    Python would run a SIGINT handler before a SIGTERM one whichever came first)."""
    proc.send_signal(sig)
    sent = 1
    while proc.poll() is None and sent < 5000:
        proc.send_signal(sig)
        sent += 1
        time.sleep(0.002)  # a pace for the storm, not a budget: the loop ends on the exit
    out, err = proc.communicate(timeout=120)
    return out, err, sent


def frame_count(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


@pytest.mark.slow
@pytest.mark.parametrize(("first", "codec", "bar_lines"), [
    (signal.SIGINT, "h264", 1), (signal.SIGINT, "h264", 2), (signal.SIGTERM, "prores", 2),
    (signal.SIGHUP, "h264", 2), (signal.SIGTERM, "hap-q", 2)])
def test_a_stop_signal_then_a_storm_leaves_a_playable_clip(tmp_path, first, codec, bar_lines):
    """After the bar's first line (frame 0 drawn: maybe nothing written yet) or its second
    (a log-style bar: 5 s of rendering, thousands of frames written)."""
    if codecs.CODECS[codec].route == "ffmpeg" and codecs.hap_available():
        pytest.skip(codecs.hap_available())
    out = tmp_path / f"a{codecs.CODECS[codec].suffix}"
    proc = _start([*CLIP, "--codec", codec, "-o", str(out)])
    try:
        for _ in range(bar_lines):
            assert "/36000 frames" in proc.stderr.readline()  # the bar: frames are being drawn
        stdout, stderr, sent = storm(proc, first)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    name = signal.Signals(first).name
    assert proc.returncode == 128 + first, stderr
    assert "Traceback" not in stderr and "Exception" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if "interrupted" in ln]
    assert len(lines) == 1 and f"interrupted ({name})" in lines[0], stderr
    print(f"{sent} x {name}: {lines[0]}")
    if "holds the first" in lines[0]:
        done = int(lines[0].split("holds the first ")[1].split(" of ")[0])
        assert done >= (1 if bar_lines == 1 else 100) and frame_count(out) == done
        if shutil.which("ffprobe"):
            probe = subprocess.run(["ffprobe", "-v", "error", str(out)], capture_output=True,
                                   text=True)
            assert probe.returncode == 0 and probe.stderr == "", probe.stderr
        assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no hidden partial
    else:
        assert "was not written" in lines[0] and bar_lines == 1
        assert list(tmp_path.iterdir()) == []


def test_stale_partials_of_killed_renders_are_removed(tmp_path):
    old = time.time() - 2 * writers.STALE_SECONDS
    stale = tmp_path / ".a.k1ll3d.partial.mp4"
    stale.write_bytes(b"\0" * 100)  # what a render killed mid-clip leaves: no index
    stale_seq = tmp_path / ".seq.k1ll3d.partial"
    stale_seq.mkdir()
    (stale_seq / "frame_000000.png").write_bytes(b"png")
    fresh = tmp_path / ".b.n0w.partial.mov"  # a render still starting: too young to judge
    fresh.write_bytes(b"")
    mine = tmp_path / "keep.partial.mp4"  # not hidden: not ours to remove
    mine.write_bytes(b"user file")
    for p in (stale, stale_seq, mine):
        os.utime(p, (old, old))
    # A writer at work holds its temporary: however old, it is not stale.
    busy = writers.open_writer(tmp_path / "busy.mp4", "h264", (64, 48), 10)
    (busy_tmp,) = [p for p in tmp_path.iterdir() if p.name.startswith(".busy.")]
    os.utime(busy_tmp, (old, old))
    w = writers.open_writer(tmp_path / "c.mp4", "h264", (64, 48), 10)
    w.abort()
    busy.abort()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([fresh.name, mine.name]), names
