#!/usr/bin/env python3
"""Live soak from outside: the real `realtime-cppn` window under Xvfb, played for N minutes with
random keys (xdotool), random OSC messages (liblo's `oscsend`) and takes (Ctrl+R), as a
performer and a controller would. Reports RSS at the start and end (from /proc), the longest
frame (from the app's --trace-frames), frames drawn, takes written and whether the process lived.

    python3 benchmarks/live_soak.py --minutes 15 --json soak.json

Needs Xvfb, xdotool and liblo-tools (apt-get install xvfb xdotool liblo-tools).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Keys a performer presses (Esc and Ctrl+Q excluded: they would end the show on purpose).
KEYS = ("r", "shift+r", "l", "BackSpace", "a", "shift+a", "m", "w", "shift+w", "d", "shift+d",
        "c", "s", "equal", "minus", "bracketright", "bracketleft", "space", "space", "i", "h",
        "g", "shift+g", "k", "p", "e", "1", "2", "ctrl+1", "ctrl+2")
# OSC a controller sends: in range, out of range, wrong types, the cost bombs.
OSC = (("/cppn/reseed",), ("/cppn/morph",), ("/cppn/speed", "f", "2.0"), ("/cppn/speed", "f", "0.5"),
       ("/cppn/zoom", "f", "1.5"), ("/cppn/width", "i", "1024"), ("/cppn/depth", "i", "64"),
       ("/cppn/width", "i", "16"), ("/cppn/depth", "i", "3"), ("/cppn/z/0", "f", "1.5"),
       ("/cppn/symmetry", "s", "k6"), ("/cppn/action", "s", "speed=1"), ("/cppn/width", "s", "x"),
       ("/cppn/nothere", "f", "1"), ("/cppn/export",), ("/cppn/screenshot",))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def check_takes(folder: Path) -> dict:
    """Every take as a stranger's tools see it: Debian's ffprobe decodes each video and counts
    its frames, which must be the frames its performance log says were written; a log without
    a video must be of a take that stopped before its first frame."""
    logs = sorted(folder.glob("cppn-rec-*.jsonl")) if folder.exists() else []
    decoded, problems = 0, []
    for log in logs:
        lines = log.read_text().splitlines()
        video = folder / json.loads(lines[0])["video"]
        stop = json.loads(lines[-1]) if len(lines) > 1 else {}
        written = stop.get("args", {}).get("frames") if stop.get("action") == "record" else None
        if not video.exists():
            if written != 0:
                problems.append(f"{log.name}: no {video.name}, log says {written} frames")
            continue
        out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams",
                              "v:0", "-show_entries", "stream=nb_read_frames", "-of", "json",
                              str(video)], capture_output=True, text=True, timeout=300)
        streams = json.loads(out.stdout or "{}").get("streams", [])
        n = int(streams[0].get("nb_read_frames", -1)) if streams else -1
        if out.returncode != 0 or out.stderr.strip() or n != written:
            problems.append(f"{video.name}: ffprobe {n} frames, log {written}, "
                            f"{out.stderr.strip()[:120]}")
        decoded += max(n, 0)
    return {"logs": len(logs), "frames_decoded": decoded, "problems": problems}


def frame_times(trace: Path) -> list[float]:
    """Seconds between consecutive drawn frames."""
    t = [float(line.split()[0]) for line in trace.read_text().splitlines() if " draw " in line]
    return [b - a for a, b in zip(t, t[1:])]


def longest(trace: Path, n: int = 3) -> list[dict]:
    """The ``n`` longest gaps between drawn frames, with the trace events inside each."""
    lines = trace.read_text().splitlines()
    drawn = [i for i, line in enumerate(lines) if " draw " in line]
    gaps = sorted(((float(lines[b].split()[0]) - float(lines[a].split()[0]), a, b)
                   for a, b in zip(drawn, drawn[1:])), reverse=True)[:n]
    return [{"s": round(g, 3), "events": [" ".join(lines[i].split()[1:])[:80]
                                          for i in range(a + 1, b)][:8]} for g, a, b in gaps]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    missing = [t for t in ("Xvfb", "xdotool", "oscsend") if shutil.which(t) is None]
    if missing:
        print(f"needs {', '.join(missing)}", file=sys.stderr)
        return 2
    # Run as `nohup ... &`, this process ignores SIGINT and SIGHUP, and an ignored signal stays
    # ignored across exec: the app would never see the Ctrl-C that ends the soak. A handler (not
    # SIG_IGN) resets to the default in the child.
    for sig in (signal.SIGINT, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_IGN:
            signal.signal(sig, lambda signum, frame: None)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="live-soak-"))
    r, w = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x720x24",
                             "-nolisten", "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        env = {**os.environ, "DISPLAY": ":" + f.readline().strip()}
    port = str(9500 + rng.randrange(400))
    trace = work / "trace.txt"
    app = subprocess.Popen(
        [sys.executable, "-m", "realtime_cppn.cli", "--size", "640x360", "--osc-port", port,
         "--record-dir", str(work / "takes"), "--screenshot-dir", str(work / "shots"),
         "--trace-frames", str(trace)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=work)
    x = lambda *a: subprocess.run(a, env=env, capture_output=True, text=True, timeout=60).stdout  # noqa: E731
    window = ""
    while not window and app.poll() is None:
        window = x("xdotool", "search", "--pid", str(app.pid), "--name", "realtime-cppn").split()[:1]
        window = window[0] if window else ""
        time.sleep(0.5)
    time.sleep(5.0)
    start_rss = rss_mb(app.pid)
    end = time.monotonic() + args.minutes * 60
    sent = {"keys": 0, "osc": 0, "takes": 0}
    recording = False
    rss_by_minute, next_sample = [round(start_rss, 1)], time.monotonic() + 60
    while time.monotonic() < end and app.poll() is None:
        if time.monotonic() >= next_sample:
            rss_by_minute.append(round(rss_mb(app.pid), 1))
            next_sample += 60
        roll = rng.random()
        if roll < 0.5:
            x("xdotool", "windowfocus", "--sync", window)
            x("xdotool", "key", rng.choice(KEYS))
            sent["keys"] += 1
        elif roll < 0.95:
            x("oscsend", "127.0.0.1", port, *rng.choice(OSC))
            sent["osc"] += 1
        else:
            x("xdotool", "windowfocus", "--sync", window)
            x("xdotool", "key", "ctrl+r")
            recording = not recording
            sent["takes"] += recording
        time.sleep(rng.uniform(0.05, 0.6))
    alive = app.poll() is None
    end_rss = rss_mb(app.pid) if alive else 0.0
    if alive and recording:
        x("xdotool", "windowfocus", "--sync", window)
        x("xdotool", "key", "ctrl+r")
        time.sleep(3.0)
    if alive:
        app.send_signal(signal.SIGINT)
    try:
        out, _ = app.communicate(timeout=120)
        exit_s = None
    except subprocess.TimeoutExpired:  # reported, not raised: the soak's figures still count
        app.kill()
        out, _ = app.communicate()
        exit_s = "did not exit within 120 s of SIGINT (killed)"
    xvfb.terminate()
    gaps = frame_times(trace)
    takes = sorted(p.name for p in (work / "takes").glob("cppn-rec-*")) if (work / "takes").exists() else []
    checked = check_takes(work / "takes")
    result = {"minutes": args.minutes, "alive_at_end": alive, "exit": app.returncode,
              "rss_start_mb": round(start_rss, 1), "rss_end_mb": round(end_rss, 1),
              "rss_by_minute_mb": rss_by_minute,
              "frames": len(gaps) + 1, "longest_frame_s": round(max(gaps, default=0.0), 3),
              "median_frame_s": round(sorted(gaps)[len(gaps) // 2], 4) if gaps else None,
              "longest_frames": longest(trace), "sent": sent, "take_files": takes,
              "takes_checked": checked,
              "tracebacks": out.count("Traceback"), "exit_problem": exit_s,
              "last_output": out.strip().splitlines()[-5:]}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if alive and result["tracebacks"] == 0 and exit_s is None \
        and not checked["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
