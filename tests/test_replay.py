"""``replay``: a show recorded through the live app's own code path (``app.Live`` with its
recording: PNG frames + performance log) renders again frame-exact, at the take's rate and size
and at others, equal to headless renders of the states the reducer produced."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from realtime_cppn import perflog
from realtime_cppn.cli import main

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
    from realtime_cppn.animation import LatentPath, blend
    from realtime_cppn.build import scene_network
    from realtime_cppn.images import to_uint8

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
    from realtime_cppn.actions import initial_state
    from realtime_cppn.app import Live, RecordSettings
    from realtime_cppn.clock import FixedClock
    from realtime_cppn.scene import Scene

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
