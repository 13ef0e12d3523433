"""``replay``: a show recorded through the live app's own code path (``app.Live`` with its
recording: PNG frames + performance log) renders again frame-exact, at the take's rate and size
and at others, equal to headless renders of the states the reducer produced."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from realtime_cppn.cli.main import main
from realtime_cppn.media import perflog

SIZE = (96, 64)
FPS = 20
TOL = 2  # 8-bit levels: a float frame rounded by numpy vs by the GL framebuffer
NET = {"seed": 7, "width": 8, "depth": 2}

# frame -> actions dispatched before it (what keys, OSC or --action would send)
SCRIPT = {
    2: ["record"],
    4: ["reseed=11"],
    6: ["speed_double", "symmetry=k5"],
    8: ["morph=21"],
    11: ["color_mode", "new_path"],
    13: ["activation=sin"],
    15: ["pause", "zoom_in", "info", "render_scale=0.5"],
    19: ["record"],
}


def frames_of(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("frame_*.png"))]


def expected(renderer, state, size) -> np.ndarray:
    """The state's picture rendered headless from its scene alone (no Live, no log)."""
    from realtime_cppn.core.animation import LatentPath, blend
    from realtime_cppn.media.images import to_uint8
    from realtime_cppn.nn.build import scene_network

    scene = state.scene
    spec = scene_network(scene)
    if state.morph is not None:
        old = scene_network(type(scene)(**{**scene.__dict__,
                                          "network": {**scene.network,
                                                      "seed": state.morph.from_seed}}))
        spec = blend(old, spec, state.morph.progress(state.time))
    renderer.set_network(spec, LatentPath(scene.path_seed, spec.z_dim)(scene.phase))
    return to_uint8(renderer.read(renderer.draw(size, scene.view, display=True), 3))


@pytest.fixture
def take(renderer, gl_context, tmp_path):
    """A take recorded by the live show: (live PNG frames, the log, the recorded states)."""
    from realtime_cppn.core.scene import Scene
    from realtime_cppn.live.live import Live, RecordSettings
    from realtime_cppn.show.actions import initial_state
    from realtime_cppn.show.clock import FixedClock

    state = initial_state(Scene(network=NET, path_seed=7))
    live = Live(renderer, state, clock=FixedClock(FPS), screenshot_dir=tmp_path,
                record=RecordSettings(tmp_path / "takes", "png", wait=True))
    fbo = gl_context.simple_framebuffer(SIZE)
    states = []
    try:
        for n in range(22):
            for a in SCRIPT.get(n, []):
                live.dispatch(a)
            live.update()
            if live.recording is not None:
                states.append(live.state)
            live.render(fbo, SIZE)
    finally:
        live.close()  # (the fbo stays: releasing the bound framebuffer upsets the next one)
    assert not live.error, live.error
    (folder,) = [p for p in (tmp_path / "takes").iterdir() if p.is_dir()]
    return frames_of(folder), folder.with_name(folder.name + ".jsonl"), states


@pytest.fixture(autouse=True)
def _one_context(request, monkeypatch):
    """The command renders on the session's renderer: one GL context per process."""
    if "renderer" in request.fixturenames:
        from realtime_cppn import api

        monkeypatch.setattr(api, "_default", request.getfixturevalue("renderer"))


def replay(log: Path, out: Path, size=SIZE, fps=FPS, *extra: str) -> int:
    return main(["replay", str(log), "-o", str(out), "--codec", "png", "--size",
                 f"{size[0]}x{size[1]}", "--fps", str(fps), "--no-progress", *extra])


def test_the_log_lists_the_take(take):
    live_frames, log_path, states = take
    log = perflog.read(log_path)
    assert len(live_frames) == len(states) == 17  # frames 2 .. 18
    assert log.header["fps"] == FPS and log.header["codec"] == "png"
    assert log.scene.network == {**NET}
    names = [(round(e.t * FPS), e.action, e.value) for e in log.events]
    assert names[0] == (2, "reseed", 11)
    assert (4, "speed_double", None) in names and (4, "symmetry", "k5") in names
    assert (6, "morph", 21) in names
    # random draws are logged as the values they drew, so the log replays without them
    (path_event,) = [e for e in log.events if e.action == "new_path"]
    assert isinstance(path_event.value, int)
    assert names[-1][:2] == (17, "record") and log.events[-1].args["frames"] == 17


def test_replay_at_the_takes_rate_reproduces_the_live_frames(take, renderer, tmp_path):
    live_frames, log_path, states = take
    assert replay(log_path, tmp_path / "same") == 0
    frames = frames_of(tmp_path / "same")
    assert len(frames) == len(live_frames)
    for n, (got, live_frame, state) in enumerate(zip(frames, live_frames, states)):
        if state.render_scale == 1.0:  # live at half scale is upscaled; replay draws full size
            assert np.abs(got.astype(int) - live_frame).max() <= 1, n
        assert np.abs(got.astype(int) - expected(renderer, state, SIZE)).max() <= TOL, n
    # the show really changed along the take (seed, morph, mode, pause): not one still frame
    diffs = [np.abs(a.astype(int) - b).mean() for a, b in zip(frames, frames[1:])]
    assert sum(d > 1 for d in diffs) >= 8


def test_replay_at_another_size_and_rate(take, renderer, tmp_path):
    _, log_path, states = take
    big = (SIZE[0] * 2, SIZE[1] * 2)
    assert replay(log_path, tmp_path / "big", big, FPS * 2) == 0
    frames = frames_of(tmp_path / "big")
    assert len(frames) == 2 * len(states)
    for k in (0, 3, 5, 7, 12, 16):  # frame 2k is at the live frame k's time
        want = expected(renderer, states[k], big)
        assert np.abs(frames[2 * k].astype(int) - want).max() <= TOL, k


def test_bad_logs_are_one_line_and_exit_2(tmp_path, capsys, take, renderer):
    _, log_path, _ = take
    cases = {
        "missing": tmp_path / "nope.jsonl",
        "garbage": tmp_path / "garbage.jsonl",
        "unknown": tmp_path / "unknown.jsonl",
        "refused": tmp_path / "refused.jsonl",
    }
    cases["garbage"].write_text("not json at all\n{}\n")
    lines = log_path.read_text().splitlines()
    cases["unknown"].write_text("\n".join([lines[0], json.dumps(
        {"t": 0.1, "action": "explode", "args": {}})]) + "\n")
    cases["refused"].write_text("\n".join([lines[0], json.dumps(
        {"t": 0.1, "action": "speed", "args": {"value": "fast"}})]) + "\n")
    messages = {}
    for name, path in cases.items():
        capsys.readouterr()
        assert replay(path, tmp_path / f"out-{name}") == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("realtime-cppn: error: "), (name, err)
        messages[name] = err
        assert not (tmp_path / f"out-{name}").exists() or \
            not list((tmp_path / f"out-{name}").iterdir())
    assert "no such performance log" in messages["missing"]
    assert "not valid JSON" in messages["garbage"]
    assert "unknown action 'explode'" in messages["unknown"]
    assert "refused" in messages["refused"] and "speed" in messages["refused"]


# --- every kind of input: keys, OSC over UDP, MIDI, the bank, tempo and loop bars ---------------

def test_a_take_played_from_every_input_replays_frame_exact(renderer, gl_context, tmp_path):
    """Keys, real OSC datagrams, MIDI through mido's parser, a bank recall and loop bars all
    reach the log; replay applies every one of them (recall, loop and latent included) and its
    frames equal the live ones."""
    pytest.importorskip("pythonosc")
    mido = pytest.importorskip("mido")
    from mido.ports import BaseIOPort
    from pythonosc import udp_client

    from realtime_cppn.core.scene import Scene
    from realtime_cppn.instrument import bank, midi, osc
    from realtime_cppn.instrument.instrument import Instrument
    from realtime_cppn.live.live import Live, RecordSettings
    from realtime_cppn.show.actions import initial_state
    from realtime_cppn.show.clock import FixedClock

    class Loopback(BaseIOPort):
        def _send(self, msg):
            self._parser.feed(msg.bytes())

    port = Loopback("loopback")
    mapping = midi.Mapping.from_dict({"cc": {"1:77": {"param": "z/2", "min": -2.0,
                                                      "max": 2.0}}})
    stored = Scene(network={**NET, "seed": 99}, path_seed=7)
    server = osc.OscServer(port=0)
    inst = Instrument(server, midi_input=midi.MidiInput(port, mapping),
                      scene_bank=bank.Bank().store(1, stored))
    client = udp_client.SimpleUDPClient("127.0.0.1", server.port)
    live = Live(renderer, initial_state(Scene(network=NET, path_seed=7)), clock=FixedClock(FPS),
                screenshot_dir=tmp_path, record=RecordSettings(tmp_path / "takes", "png",
                                                               wait=True), instrument_=inst)

    def send(address, *values):
        n = server.received
        client.send_message(address, list(values))
        deadline = time.monotonic() + 60.0  # a hang guard, not a budget
        while server.received <= n and time.monotonic() < deadline:
            time.sleep(0.001)
        assert server.received > n, address

    script = {
        1: lambda: live.dispatch("record"),
        3: lambda: live.press("r"),  # key: a lively reseed, logged with its seed
        5: lambda: send("/cppn/z/3", 1.5),  # OSC latent offset
        7: lambda: port.send(mido.Message("control_change", channel=0, control=77,
                                          value=127)),  # MIDI latent offset
        9: lambda: send("/cppn/bank_recall", 1),  # bank recall (a morph: only the seed differs)
        11: lambda: (send("/cppn/bpm", 100.0), send("/cppn/loop_bars", 2)),  # tempo, loop bars
        13: lambda: send("/cppn/symmetry", "k5"),
        16: lambda: live.dispatch("record"),
    }
    fbo = gl_context.simple_framebuffer(SIZE)
    states = []  # the live state of each recorded frame
    try:
        for n in range(18):
            if n in script:
                script[n]()
            live.update()
            if live.recording is not None:
                states.append(live.state)
            live.render(fbo, SIZE)
    finally:
        live.close()
    assert not live.error, live.error
    (folder,) = [p for p in (tmp_path / "takes").iterdir() if p.is_dir()]
    log_path = folder.with_name(folder.name + ".jsonl")
    logged = {e.action for e in perflog.read(log_path).events}
    assert {"reseed", "latent", "recall", "loop", "symmetry"} <= logged, logged
    live_frames = frames_of(folder)
    assert replay(log_path, tmp_path / "again") == 0
    frames = frames_of(tmp_path / "again")
    assert len(frames) == len(live_frames) == 15
    for n, (got, want) in enumerate(zip(frames, live_frames)):
        assert np.abs(got.astype(int) - want).max() <= 1, n
    diffs = [np.abs(a.astype(int) - b).mean() for a, b in zip(frames, frames[1:])]
    assert sum(d > 1 for d in diffs) >= 5  # each input changed the picture
    # The replayed states are the live ones: the recall, the loop length and both latent
    # offsets went through the one reducer both times.
    from realtime_cppn.cli.replay import Replay, load

    again = Replay(renderer, load(log_path), FPS)
    replayed = [again.step() for _ in range(len(states))]
    for n, (got, want) in enumerate(zip(replayed, states)):
        assert (got.scene, got.z_offsets, got.history, got.morph is None) == \
            (want.scene, want.z_offsets, want.history, want.morph is None), n
    final = replayed[-1]
    assert final.z_offsets[2:4] == (2.0, 1.5) and final.seed == 99  # MIDI, OSC; the recall
    assert final.scene.loop == pytest.approx(2 * 4 * 60 / 100)  # two bars at 100 BPM


# --- bounds on tiny files ------------------------------------------------------------------------

def _header(take) -> str:
    _, log_path, _ = take
    return log_path.read_text().splitlines()[0]


def test_tiny_logs_that_ask_for_unbounded_work_are_one_line_errors(tmp_path, capsys, take,
                                                                    renderer):
    head = json.loads(_header(take))
    state = head["state"]
    cases = {
        "long": ([json.dumps(head), '{"t": 1e9, "action": "reseed", "args": {"value": 3}}'],
                 "replays up to"),
        "inf-t": ([json.dumps(head), '{"t": Infinity, "action": "reseed", "args": {}}'],
                  "finite"),
        "inf-fps": ([json.dumps(head).replace(f'"fps": {head["fps"]}', '"fps": Infinity')],
                    "fps"),
        "morph0": ([json.dumps({**head, "state": {**state, "morph": {
            "from_seed": 1, "start": 0.0, "duration": 0}}})], "morph duration"),
        "draws": ([json.dumps({**head, "state": {**state, "draws": -1}})], "draws"),
        "huge": ([json.dumps({**head, "size": [12000, 12000]})], "pixels"),
    }
    for name, (lines, needle) in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text("\n".join(lines) + "\n")
        capsys.readouterr()
        args = ["replay", str(path), "-o", str(tmp_path / f"out-{name}"), "--codec", "png",
                "--no-progress"]
        if name != "inf-fps":
            args += ["--fps", str(FPS)]
        if name != "huge":
            args += ["--size", f"{SIZE[0]}x{SIZE[1]}"]
        assert main(args) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("realtime-cppn: error: "), (name, err)
        assert needle in err, (name, err)
