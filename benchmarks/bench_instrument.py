#!/usr/bin/env python3
"""Instrument latency and cost: OSC message -> queued Action, frames until it is shown, MIDI and
audio analysis per frame.

  1. OSC over loopback UDP: the time from ``send_message`` to ``OscServer.poll()`` returning the
     Action (polling every 20 us), median / p95 / max in ms.
  2. The same messages against a render loop polling once per frame at --fps (sleeping between
     frames, as the app does): the OSC-to-frame latency in frames, 1 meaning the first frame that
     starts after the send polls the Action (and so draws it).
  3. MIDI: ``midi.handle`` per message (us), and an in-process mido port's send -> poll.
  4. Audio: ``Analyser.process`` per 1024-sample block (us), and ``Reactor`` per frame.

    python3 benchmarks/bench_instrument.py [--quick] [--out bench/instrument.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import threading
import time
from pathlib import Path

import numpy as np

from realtime_cppn.instrument import audio, midi, osc


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def osc_latency(n: int) -> dict:
    from pythonosc import udp_client

    with osc.OscServer(port=0) as server:
        client = udp_client.SimpleUDPClient("127.0.0.1", server.port)
        for _ in range(20):  # warm up the socket path
            client.send_message("/cppn/zoom", 1.0)
        time.sleep(0.05)
        server.poll()
        ms = []
        for i in range(n):
            t0 = time.perf_counter()
            client.send_message("/cppn/width", 16 + i % 64)
            while not server.poll():
                # Release the GIL as a render thread in GL calls does: a pure-Python spin would
                # hold it for the interpreter's 5 ms switch interval and measure only that.
                time.sleep(20e-6)
            ms.append((time.perf_counter() - t0) * 1e3)
    return {"messages": n, "median_ms": statistics.median(ms), "p95_ms": pct(ms, 95),
            "max_ms": max(ms)}


def osc_frames(n: int, fps: float) -> dict:
    """A render loop at ``fps`` polls once per frame; a sender thread sends at random moments."""
    from pythonosc import udp_client

    period = 1.0 / fps
    frame = [0]
    sent_at: dict[int, int] = {}
    delays: list[int] = []
    with osc.OscServer(port=0) as server:
        client = udp_client.SimpleUDPClient("127.0.0.1", server.port)
        rng = random.Random(0)

        def sender() -> None:
            for i in range(n):
                time.sleep(rng.uniform(0.5, 2.5) * period)
                sent_at[i] = frame[0]
                client.send_message("/cppn/seed", i)

        th = threading.Thread(target=sender)
        start = time.perf_counter()
        th.start()
        while len(delays) < n and frame[0] < n * 4 / period:
            for action in server.poll():  # the frame's poll: this frame draws the change
                # 1: the first frame after the send shows it (sent_at is that frame's index).
                delays.append(frame[0] - sent_at[action.value] + 1)
            frame[0] += 1
            wait = start + frame[0] * period - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        th.join()
    return {"fps": fps, "messages": len(delays), "mean_frames": statistics.mean(delays),
            "max_frames": max(delays),
            "share_next_frame": sum(d == 1 for d in delays) / len(delays)}


def midi_cost(n: int) -> dict:
    import mido
    from mido.ports import BaseIOPort

    class Loopback(BaseIOPort):
        def _send(self, msg):
            self._parser.feed(msg.bytes())

    mapping = midi.Mapping.from_dict({"cc": {"1:74": {"param": "zoom", "curve": "exp"}},
                                      "notes": {"1:36": "reseed"}})
    msgs = [mido.Message("control_change", control=74, value=i % 128) for i in range(n)]
    t0 = time.perf_counter()
    for m in msgs:
        midi.handle(mapping, m)
    handle_us = (time.perf_counter() - t0) / n * 1e6
    port = Loopback("bench")
    inp = midi.MidiInput(port, mapping)
    us = []
    for m in msgs[:2000]:
        t0 = time.perf_counter()
        port.send(m)
        inp.poll()
        us.append((time.perf_counter() - t0) * 1e6)
    return {"handle_us": handle_us, "port_send_to_poll_median_us": statistics.median(us)}


def audio_cost(blocks: int, fps: float) -> dict:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.2, (blocks, audio.BLOCK)).astype(np.float32)
    a = audio.Analyser()
    for b in x[:50]:
        a.process(b)
    us = []
    for b in x:
        t0 = time.perf_counter()
        a.process(b)
        us.append((time.perf_counter() - t0) * 1e6)

    class Noise:  # a source that yields what a live input would deliver by each frame
        rate, block = audio.RATE, audio.BLOCK

        def __init__(self) -> None:
            self.given = 0

        def pending(self, t: float) -> list[np.ndarray]:
            due = int(t * self.rate) // self.block
            out = [x[i % blocks] for i in range(self.given, due)]
            self.given = max(self.given, due)
            return out

        def close(self) -> None:
            pass

    reactor = audio.Reactor(Noise())
    frames = int(blocks * audio.BLOCK / audio.RATE * fps)
    t0 = time.perf_counter()
    for n in range(frames):
        reactor.poll(n / fps, 8)
    per_frame = (time.perf_counter() - t0) / frames * 1e6
    return {"block": audio.BLOCK, "rate": audio.RATE, "median_us_per_block": statistics.median(us),
            "p95_us_per_block": pct(us, 95), "reactor_us_per_frame": per_frame, "fps": fps,
            "realtime_share_of_block": statistics.median(us) / (audio.BLOCK / audio.RATE * 1e6)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer samples (a few seconds)")
    p.add_argument("--fps", type=float, default=60.0)
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    args = p.parse_args()
    n = 200 if args.quick else 2000
    results = {
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}",
        "python": platform.python_version(),
        "osc_latency": osc_latency(n),
        "osc_frames": osc_frames(60 if args.quick else 300, args.fps),
        "midi": midi_cost(n * 10),
        "audio": audio_cost(500 if args.quick else 5000, args.fps),
    }
    o, f, m, a = (results[k] for k in ("osc_latency", "osc_frames", "midi", "audio"))
    print(f"OSC -> queued Action over loopback: median {o['median_ms']:.3f} ms, "
          f"p95 {o['p95_ms']:.3f} ms, max {o['max_ms']:.3f} ms ({o['messages']} messages)")
    print(f"OSC -> frame at {f['fps']:g} fps: mean {f['mean_frames']:.2f} frames, max "
          f"{f['max_frames']} frames, {100 * f['share_next_frame']:.0f}% by the next frame")
    print(f"MIDI handle: {m['handle_us']:.2f} us/message; in-process port send -> poll "
          f"{m['port_send_to_poll_median_us']:.1f} us")
    print(f"Audio analysis: median {a['median_us_per_block']:.1f} us per {a['block']}-sample "
          f"block (p95 {a['p95_us_per_block']:.1f}), {100 * a['realtime_share_of_block']:.2f}% of "
          f"real time; Reactor {a['reactor_us_per_frame']:.1f} us per frame at {a['fps']:g} fps")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
