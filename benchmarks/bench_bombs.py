#!/usr/bin/env python3
"""Cost bombs against a headless live show: the longest frame and RSS under each.

A ``Live`` show on a wall clock (weights built in the background, as the window does) draws
into an offscreen framebuffer while real OSC datagrams arrive on a loopback UDP port:

- ``width 1024, depth 64``: the architecture bomb (refused by the cost model, or built on a
  worker while the current network plays);
- ``200 reseeds``: a burst of liveliness searches (coalesced to one);
- ``10,000 mixed``: reseeds, zooms, width / depth changes, symmetry and speed, as fast as one
  client sends them (applied in bounded batches).

Each phase runs ``--frames`` frames after the bomb; the figures are wall times of
``update()`` + ``render()`` + ``finish()``, printed, never asserted.

    python3 benchmarks/bench_bombs.py --size 320x240 --frames 60
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from pathlib import Path

from pythonosc import udp_client

from realtime_cppn.core.scene import Scene
from realtime_cppn.instrument import osc
from realtime_cppn.instrument.instrument import Instrument, osc_actions
from realtime_cppn.live import live as app
from realtime_cppn.rendering.renderer import Renderer
from realtime_cppn.show import actions
from realtime_cppn.show.clock import WallClock


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def mixed(client: udp_client.SimpleUDPClient, n: int) -> None:
    rng = random.Random(1)
    choices = [("/cppn/reseed", []), ("/cppn/zoom_in", []), ("/cppn/zoom_out", []),
               ("/cppn/width", [16]), ("/cppn/width", [24]), ("/cppn/depth", [3]),
               ("/cppn/symmetry", ["k4"]), ("/cppn/speed", [0.5])]
    for _ in range(n):
        client.send_message(*rng.choice(choices))


def phase(live: app.Live, fbo, size, frames: int) -> dict:
    longest = 0.0
    total = 0.0
    for _ in range(frames):
        t0 = time.perf_counter()
        live.update()
        live.render(fbo, size)
        live.renderer.ctx.finish()
        dt = time.perf_counter() - t0
        longest, total = max(longest, dt), total + dt
    return {"longest_ms": 1000 * longest, "mean_ms": 1000 * total / frames, "rss_mb": rss_mb(),
            "network": f"{live.state.net('width')}x{live.state.net('depth')}",
            "error": live.error[:90]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="320x240")
    p.add_argument("--frames", type=int, default=60)
    args = p.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    renderer = Renderer(background=True)
    server = osc.OscServer(port=0, extra=osc_actions)
    live = app.Live(renderer, actions.initial_state(Scene(network={"seed": 3})),
                    clock=WallClock(), instrument_=Instrument(server))
    client = udp_client.SimpleUDPClient("127.0.0.1", server.port)
    fbo = renderer.ctx.simple_framebuffer(size)
    rows = {"warm-up": phase(live, fbo, size, args.frames)}

    def bomb_arch() -> None:
        client.send_message("/cppn/width", [1024])
        client.send_message("/cppn/depth", [64])

    def bomb_reseeds() -> None:
        for _ in range(200):
            client.send_message("/cppn/reseed", [])

    bombs = {"width 1024, depth 64": bomb_arch, "200 reseeds": bomb_reseeds,
             "10,000 mixed": lambda: threading.Thread(target=mixed, args=(client, 10_000),
                                                      daemon=True).start()}
    for name, bomb in bombs.items():
        bomb()
        rows[name] = phase(live, fbo, size, args.frames)
    print(f"{renderer.path} path, {size[0]}x{size[1]}, {args.frames} frames a phase; "
          f"budget {live.budget.rate(live.cost_path) / 1e9:.3g} GMAC/s after the run")
    print("| phase | longest frame (ms) | mean (ms) | RSS (MB) | network | notice |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r in rows.items():
        print(f"| {name} | {r['longest_ms']:.0f} | {r['mean_ms']:.0f} | {r['rss_mb']:.0f} | "
              f"{r['network']} | {r['error']} |")
    live.close()
    server_ok = server.received
    print(f"OSC messages received: {server_ok}, dropped {server.dropped}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
