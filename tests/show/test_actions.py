"""The reducer, the clocks, the loop path under the reducer, liveliness and overlays: pure, fast."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from realtime_cppn.core import activations, liveliness
from realtime_cppn.core.animation import LatentPath
from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.scene import Scene
from realtime_cppn.core.spec import View
from realtime_cppn.live import hud as overlay
from realtime_cppn.show import actions
from realtime_cppn.show.actions import Action, AppState, advance, apply, initial_state
from realtime_cppn.show.clock import FixedClock, WallClock


def state(**net) -> AppState:
    return initial_state(Scene(network={"seed": 5, "width": 16, "depth": 3, **net}, path_seed=5))


# --- every action ------------------------------------------------------------------------------


def test_every_action_changes_the_state_it_names():
    s = replace(state(), history=(1, 2), help=True, textures=("a.png", "b.png"))
    checks = {
        "kaleido_up": lambda a, b: b.scene.view.symmetry == "k2",
        "kaleido_down": lambda a, b: b.scene.view.symmetry == "k12",
        "color_mode": lambda a, b: b.scene.view.color == "hsv",
        "palette": lambda a, b: b.scene.view.palette == "fire",
        "texture": lambda a, b: b.scene.texture == "a.png",
        "wrap": lambda a, b: b.scene.view.wrap == "clamp",  # after mirror, the last
        "uv_normalize": lambda a, b: b.scene.view.uv_normalize,
        "auto_scale": lambda a, b: b.auto_scale and b.target_fps == 60.0,
        "record": lambda a, b: b.recording,
        "export": lambda a, b: b.exports == 1 and b.export_format == "glsl",
        "reseed": lambda a, b: b.seed != a.seed and b.history[-1] == a.seed,
        "morph": lambda a, b: b.seed != a.seed and b.morph.from_seed == a.seed,
        "new_path": lambda a, b: b.scene.path_seed != a.scene.path_seed,
        "previous_seed": lambda a, b: b.seed == 2 and b.history == (1,),
        "next_activation": lambda a, b: b.hidden_activations[0] != "tanh",
        "previous_activation": lambda a, b: b.hidden_activations[0] != "tanh",
        "random_activations": lambda a, b: len(b.net("activation")) == 3,
        "width_up": lambda a, b: b.net("width") == 32,
        "width_down": lambda a, b: b.net("width") == 8,
        "depth_up": lambda a, b: b.net("depth") == 4,
        "depth_down": lambda a, b: b.net("depth") == 2,
        "output_mode": lambda a, b: b.net("out_channels") == 1,
        "symmetry": lambda a, b: b.scene.view.symmetry == "x",
        "zoom_in": lambda a, b: b.scene.view.zoom == pytest.approx(1.25),
        "zoom_out": lambda a, b: b.scene.view.zoom == pytest.approx(0.8),
        "speed_double": lambda a, b: b.speed == 2.0,
        "speed_half": lambda a, b: b.speed == 0.5,
        "pause": lambda a, b: b.paused,
        "render_scale": lambda a, b: b.render_scale == 0.5,
        "fullscreen": lambda a, b: b.fullscreen,
        "next_monitor": lambda a, b: b.monitor == 1,
        "help": lambda a, b: not b.help,
        "info": lambda a, b: b.info,
        "screenshot": lambda a, b: b.screenshots == 1,
        "escape": lambda a, b: not b.help and not b.quit and b.esc_count == 1,
        "quit": lambda a, b: b.quit,
    }
    values = {"seed": 77, "width": 64, "depth": 5, "activation": "sin", "zoom": 2.0, "speed": 3.0}
    for name, info in actions.named(["show"]).items():
        if not info.optional:
            after = apply(s, Action(name, values[name]))
            assert after != s, name
            continue
        after = apply(s, Action(name))
        assert checks[name](s, after), name


def test_setters_and_values():
    s = state()
    assert apply(s, Action("seed", 77)).seed == 77
    assert apply(s, Action("width", "64")).net("width") == 64  # text from a CLI or OSC
    assert apply(s, Action("width", 99999)).net("width") == actions.WIDTH_RANGE[1]
    two = apply(s, Action("activation", "sin,gaussian"))
    assert two.hidden_activations == ("sin", "gaussian") and two.net("depth") == 2
    assert apply(s, Action("symmetry", "k6")).scene.view.symmetry == "k6"
    assert apply(s, Action("output_mode", "color")).net("out_channels") == 3
    assert apply(s, Action("render_scale", 0.25)).render_scale == 0.25
    assert apply(s, Action("pause", "off")).paused is False
    assert apply(s, Action("morph", 9)).seed == 9


def test_parse_and_bad_values_are_clear_errors():
    assert actions.parse("speed=0.5") == Action("speed", 0.5)
    assert actions.parse("reseed") == Action("reseed")
    assert actions.parse("random-activations=sin,tanh").value == ("sin", "tanh")
    for text, message in [
        ("warp", "unknown action 'warp'"),
        ("speed", "needs a value"),
        ("quit=1", "takes no value"),
        ("speed=nan", "must be finite"),
        ("width=2.5", "must be an integer"),
        ("activation=swish", "unknown activation 'swish'"),
        ("symmetry=k99", "symmetry must be one of"),
        ("pause=maybe", "true or false"),
    ]:
        with pytest.raises(CPPNError, match=message):
            actions.parse(text)
    with pytest.raises(CPPNError, match="render scale"):
        apply(state(), Action("render_scale", 2.0))
    with pytest.raises(CPPNError, match="unknown action"):
        apply(state(), Action("explode"))


def test_random_choices_are_deterministic_and_vary():
    s = state()
    a, b = apply(s, Action("reseed")), apply(s, Action("reseed"))
    assert a == b  # the same show twice is the same show
    seeds = [s.seed]
    for _ in range(5):
        s = apply(s, Action("reseed"))
        seeds.append(s.seed)
    assert len(set(seeds)) == 6
    assert s.history == tuple(seeds[:-1])
    for expected in reversed(seeds[:-1]):
        s = apply(s, Action("previous_seed"))
        assert s.seed == expected
    assert apply(s, Action("previous_seed")) == replace(s, esc_count=0)  # empty history: no-op
    r1 = apply(state(depth=6), Action("random_activations"))
    assert len(r1.hidden_activations) == 6
    assert all(n in activations.NAMES for n in r1.hidden_activations)


def test_activation_cycle_wraps_and_covers_the_registry():
    s = state()
    seen = []
    for _ in activations.NAMES:
        s = apply(s, Action("next_activation"))
        seen.append(s.hidden_activations[0])
    assert sorted(seen) == sorted(activations.NAMES) and seen[-1] == "tanh"
    assert apply(apply(s, Action("next_activation")), Action("previous_activation")) \
        .hidden_activations == s.hidden_activations


def test_shape_keys_clamp_and_keep_activation_lists():
    s = state(width=2, depth=1)
    assert apply(s, Action("width_down")).net("width") == 2
    assert apply(s, Action("depth_down")).net("depth") == 1
    s = apply(state(), Action("activation", "sin,cos,abs"))
    up = apply(s, Action("depth_up"))
    assert up.hidden_activations == ("sin", "cos", "abs", "abs")
    assert apply(s, Action("depth_down")).hidden_activations == ("sin", "cos")
    s = state(width=256)
    assert apply(s, Action("width_up")).net("width") == 256


def test_cycles():
    s = state()
    syms = []
    for _ in range(4):
        s = apply(s, Action("symmetry"))
        syms.append(s.scene.view.symmetry)
    assert syms == ["x", "y", "xy", "none"]
    scales = []
    for _ in range(3):
        s = apply(s, Action("render_scale"))
        scales.append(s.render_scale)
    assert scales == [0.5, 0.25, 1.0]
    assert apply(apply(s, Action("output_mode")), Action("output_mode")).net("out_channels") == 3


def test_escape_twice_quits_but_not_with_a_key_between():
    s = replace(state(), help=True, info=True)
    once = apply(s, Action("escape"))
    assert not once.help and not once.info and not once.quit
    assert apply(once, Action("escape")).quit
    between = apply(apply(once, Action("zoom_in")), Action("escape"))
    assert not between.quit


def test_architecture_change_drops_a_morph_but_a_reseed_keeps_it_consistent():
    s = apply(state(), Action("morph", 11))
    assert s.morph is not None
    assert apply(s, Action("width_up")).morph is None
    assert apply(s, Action("zoom_in")).morph == s.morph  # the view is not the network


def test_network_defaults_match_the_model():
    from realtime_cppn.nn.model import CPPNConfig

    d = CPPNConfig().to_dict()
    assert {k: d[k] for k in actions.NETWORK_DEFAULTS} == actions.NETWORK_DEFAULTS
    assert AppState().net("width") == d["width"]


# --- time: morphs, the clocks, and the loop path under the reducer ---------------------------


def test_morph_runs_on_clock_time_and_ends():
    s = advance(state(), 10.0, 0.0)
    s = apply(s, Action("morph", 123))
    assert s.morph.start == 10.0 and s.morph.progress(10.5) == 0.5
    s = advance(s, 10.5, 0.5)
    assert s.morph is not None
    s = advance(s, 11.0, 0.5)
    assert s.morph is None and s.seed == 123


def test_fixed_clock_is_exact_and_paced_by_injected_time():
    c = FixedClock(30)
    ticks = [c.tick() for _ in range(91)]
    assert ticks[0] == (0.0, 0.0)
    assert ticks[90][0] == 3.0 and ticks[5][1] == pytest.approx(1 / 30)
    slept = []
    now = [100.0]
    paced = FixedClock(10, pace=True, now=lambda: now[0], sleep=slept.append)
    paced.tick()
    paced.tick()
    assert slept == [pytest.approx(0.1)]
    with pytest.raises(CPPNError):
        FixedClock(0)
    t = iter([5.0, 5.0, 5.25, 5.2])
    w = WallClock(now=lambda: next(t))
    assert [w.tick() for _ in range(4)] == [(0.0, 0.0), (0.0, 0.0), (0.25, 0.25), (0.25, 0.0)]


def run_show(fps: float, seconds: float, events: dict[float, str], loop: float = 4.0):
    """Phase at every frame of a show on a fixed clock, with actions at given times."""
    s = initial_state(Scene(network={"z_dim": 4}, loop=loop, path_seed=3))
    clock = FixedClock(fps)
    pending = sorted(events.items())
    phases = []
    for _ in range(int(round(seconds * fps)) + 1):
        t, dt = clock.tick()
        s = advance(s, t, dt)
        while pending and pending[0][0] <= t + 1e-9:
            s = apply(s, actions.parse(pending.pop(0)[1]))
        phases.append(s.scene.phase)
    return np.array(phases), s


def test_loop_is_periodic_through_the_reducer():
    phases, s = run_show(60, 4.0, {}, loop=4.0)
    assert phases[-1] == pytest.approx(1.0, abs=1e-9)
    path = LatentPath(3, 8)
    np.testing.assert_allclose(path(phases[-1]), path(phases[0]), atol=1e-6)
    np.testing.assert_allclose(path(0.0), path(1.0), atol=1e-6)


def test_speed_changes_and_pauses_are_c1_in_time():
    events = {1.0: "speed_double", 1.5: "pause", 2.0: "pause", 2.5: "speed=0.25",
              3.0: "speed_double"}
    jumps = []
    for fps in (60, 600):
        phases, _ = run_show(fps, 4.0, events)
        # z along the show, and its per-second velocity between frames.
        z = np.stack([LatentPath(3, 4)(p) for p in phases])  # (N, 4)
        v = np.diff(z, axis=0) * fps  # (N-1, 4)
        # No jump in position: a frame moves z at most by the top speed's worth.
        top = 2.0 / 4.0 * max(np.abs(LatentPath(3, 4).velocity(q)).max()
                               for q in np.linspace(0, 1, 200))
        assert np.abs(np.diff(z, axis=0)).max() <= top / fps * 1.01
        jumps.append(np.abs(np.diff(v, axis=0)).max())
    # C1: velocity changes per frame shrink with the step (a speed step would not: it jumps by
    # the full speed difference however small the step).
    assert jumps[1] < jumps[0] / 5
    phases, s = run_show(60, 2.0, {0.5: "pause"})
    assert s.rate == 0.0 and phases[-1] == phases[-10]  # a pause comes to rest


def test_a_paused_start_does_not_move():
    s = initial_state(Scene(), paused=True)
    assert s.rate == 0.0
    assert advance(s, 1.0, 1.0).scene.phase == 0.0


# --- liveliness and overlays ------------------------------------------------------------------


def grid(n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    t = (np.arange(n) + 0.5) / n
    return np.meshgrid(t, t)


def test_liveliness_measures():
    u, v = grid()
    smooth = np.stack([u, v, 0.5 + 0.4 * np.sin(6 * u * v)], axis=-1)
    assert liveliness.measure(smooth).lively
    flat = np.full((32, 32, 3), 0.4) + 0.005 * u[..., None]
    assert liveliness.measure(flat).verdict == "flat"
    one = np.zeros((32, 32, 3))
    one[..., 0] = 1.0  # pure red, with a small white spot
    one[:3, :3] = 1.0
    assert liveliness.measure(one).verdict == "saturated"
    noise = np.random.default_rng(0).uniform(size=(32, 32, 3))
    m = liveliness.measure(noise)
    assert m.verdict == "noise" and m.roughness == pytest.approx(1.13, abs=0.1)
    two = np.where((u > 0.5)[..., None], 1.0, 0.0) * np.ones(3)  # two crisp colours: alive
    assert liveliness.measure(two).lively
    assert liveliness.measure((smooth * 255).astype(np.uint8)).lively


def test_choose_takes_the_first_lively_or_the_best():
    u, v = grid()
    frames = {1: np.zeros((32, 32, 3)), 2: np.stack([u, v, u * v], -1), 3: np.ones((32, 32, 3))}
    assert liveliness.choose([1, 2, 3], frames.__getitem__)[0] == 2
    assert liveliness.choose([1, 3], frames.__getitem__)[0] in (1, 3)


def test_overlay_panel_is_readable_rgba():
    img = overlay.panel([("R", "reseed"), ("Shift+R", "morph")], "keys", size=14)
    assert img.dtype == np.uint8 and img.shape[2] == 4 and img.shape[0] >= 3 * 14
    assert (img[..., 3] > 0).all()  # a translucent panel everywhere: text on any background
    assert img[..., :3].max() == 255  # white text
    both = overlay.stack([img, img])
    assert both.shape[0] == 2 * img.shape[0] + 8
    assert overlay.stack([]) is None
    assert overlay.fit(both, (10, 5)).shape == (5, 10, 4)


def test_view_replace_in_reducer_keeps_view_valid():
    s = replace(state(), scene=replace(state().scene, view=View(symmetry="k4")))
    assert apply(s, Action("symmetry")).scene.view.symmetry == "none"


# --- variations, recording, auto scale, export (the wiring of issues 4, 5, 7, 8) ---------------


def test_kaleidoscope_keys_cycle_both_ways_through_every_order():
    s = state()
    up = []
    for _ in range(12):
        s = apply(s, Action("kaleido_up"))
        up.append(s.scene.view.symmetry)
    assert up == [f"k{n}" for n in range(2, 13)] + ["none"]
    s = apply(apply(state(), Action("symmetry", "k5")), Action("kaleido_down"))
    assert s.scene.view.symmetry == "k4"
    mirror = apply(state(), Action("symmetry", "xy"))
    assert apply(mirror, Action("kaleido_up")).scene.view.symmetry == "k2"


def test_colour_palette_wrap_and_uv_cycles_and_values():
    s = state()
    modes = [s := apply(s, Action("color_mode")) for _ in range(3)]
    assert [m.scene.view.color for m in modes] == ["hsv", "palette", "rgb"]
    assert apply(s, Action("color_mode", "palette")).scene.view.color == "palette"
    palettes = []
    for _ in range(4):
        s = apply(s, Action("palette"))
        palettes.append(s.scene.view.palette)
    assert palettes == ["fire", "ocean", "neon", "rainbow"]
    assert apply(s, Action("wrap", "repeat")).scene.view.wrap == "repeat"
    assert apply(s, Action("uv_normalize", "on")).scene.view.uv_normalize is True
    with pytest.raises(CPPNError, match="palette must be one of"):
        apply(s, Action("palette", "mauve"))
    with pytest.raises(CPPNError, match="wrap must be one of"):
        actions.parse("wrap=wobble")


def test_texture_cycles_the_listed_files_and_takes_a_file():
    s = replace(state(), textures=("a.png", "b.png", "c.png"))
    s = replace(s, scene=replace(s.scene, texture="b.png"))
    assert apply(s, Action("texture")).scene.texture == "c.png"
    assert apply(apply(s, Action("texture")), Action("texture")).scene.texture == "a.png"
    assert apply(s, Action("texture", "x/y.jpg")).scene.texture == "x/y.jpg"
    assert apply(state(), Action("texture")) == state()  # nothing listed: nothing to cycle
    with pytest.raises(CPPNError, match="needs a file name"):
        actions.parse("texture= ")


def test_auto_scale_record_and_export_actions():
    s = state()
    on = apply(s, Action("auto_scale"))
    assert on.auto_scale and on.target_fps == actions.DEFAULT_TARGET_FPS
    assert not apply(on, Action("auto_scale")).auto_scale
    thirty = apply(s, actions.parse("auto_scale=30"))
    assert thirty.auto_scale and thirty.target_fps == 30.0
    assert not apply(thirty, Action("auto_scale", 0)).auto_scale
    assert not apply(thirty, Action("render_scale", 0.5)).auto_scale  # a chosen scale sticks
    rec = apply(s, Action("record"))
    assert rec.recording and not apply(rec, Action("record")).recording
    assert apply(rec, Action("record", "off")).recording is False
    ex = apply(apply(s, Action("export")), actions.parse("export=isf"))
    assert ex.exports == 2 and ex.export_format == "isf"
    with pytest.raises(CPPNError, match="export must be one of"):
        actions.parse("export=hlsl")


def test_state_header_round_trips_what_replay_needs():
    s = replace(state(), speed=2.0, rate=1.5, paused=True, history=(3, 4), draws=7,
                time=10.0, morph=actions.Morph(4, 9.5), textures=("a.png",), render_scale=0.5)
    doc = actions.state_header(s, start=9.0)
    assert doc["morph"] == {"from_seed": 4, "start": 0.5, "duration": actions.MORPH_SECONDS}
    back = actions.state_from_header(s.scene, doc)
    assert back.time == 0.0 and back.morph == actions.Morph(4, 0.5)
    for name in ("speed", "rate", "paused", "history", "draws", "textures", "render_scale"):
        assert getattr(back, name) == getattr(s, name), name
    with pytest.raises(CPPNError, match="state is malformed"):
        actions.state_from_header(s.scene, {"morph": {"start": 1}})
    with pytest.raises(CPPNError, match="speed must be a number"):
        actions.state_from_header(s.scene, {"speed": "fast"})


# --- the one vocabulary: every action's value from every source ----------------------------------


def _sample(spec: actions.ActionSpec):
    """A valid value of the spec's kind (inside its range, one of its choices)."""
    if spec.kind in ("int", "float"):
        lo, hi = spec.range or (0, 7)
        v = min(max(lo, 1 if spec.kind == "int" else 0.5), hi)
        v = v if v > lo or not spec.open_low else (lo + min(hi, lo + 2)) / 2
        return int(v) if spec.kind == "int" else float(v)
    return {"bool": True, "vector": (3, 0.5) if spec.item == "latent" else ("sin", "tanh"),
            "object": {"slot": 2, "scene": Scene(network={"seed": 3}).to_dict(), "morph": False},
            "str": (spec.choices or ("zoom" if spec.name == "midi_learn" else "a.png",))[-1],
            }[spec.kind]


@pytest.mark.parametrize("name", [n for n, s in actions.ACTIONS.items() if s.kind != "none"])
def test_every_valued_action_round_trips_through_coerce_from_text_and_json(name):
    import json

    spec = actions.ACTIONS[name]
    value = _sample(spec)
    typed = actions.coerce(name, value)
    assert actions.coerce(name, typed) == typed  # idempotent: a checked value stays itself
    text = actions.format_value(typed)  # OSC strings, TOML, the CLI, /cppn/action
    assert actions.coerce(name, text) == typed, text
    logged = json.loads(json.dumps(typed))  # the performance log: tuples come back as lists
    assert actions.coerce(name, logged) == typed
    if name in actions.APPLIED:
        assert actions.from_log(name, logged) == Action(name, typed)
    if spec.owner != "made":  # what keys, the CLI and OSC may name, as text
        assert actions.parse(f"{name}={text}", actions.NAMEABLE) == Action(name, typed)


@pytest.mark.parametrize("name", actions.named(["show"]))
def test_every_show_action_comes_from_midi_through_the_same_coerce(name):
    """A MIDI note fires an action (with the value written in the config), a CC maps 0..127
    onto a parameter's range: what comes out is a checked Action of the table."""
    from realtime_cppn.instrument import midi, osc

    spec = actions.ACTIONS[name]
    text = name if spec.kind == "none" else f"{name}={actions.format_value(_sample(spec))}"
    binding = midi.Binding.for_target(text, "note")
    mapping = midi.Mapping({("note", 0, 60): binding})
    for velocity in (1, 64, 127):
        (got,) = midi.handle(mapping, _Msg("note_on", velocity=velocity, note=60))
        assert got == actions.make(got.name, got.value) and got.name == name
    if name in osc.PARAMS:
        mapping = midi.Mapping({("cc", 0, 7): midi.Binding.for_param(name)})
        for raw in (0, 1, 63, 64, 126, 127):
            (got,) = midi.handle(mapping, _Msg("control_change", value=raw, control=7))
            assert got == actions.make(got.name, got.value) and got.name == name
            if spec.range is not None and spec.kind in ("int", "float"):
                assert spec.range[0] <= got.value <= spec.range[1]


def test_latent_from_midi_and_osc_is_the_same_checked_action():
    from realtime_cppn.instrument import midi, osc

    mapping = midi.Mapping({("cc", 0, 7): midi.Binding.for_param("z/3", -2.0, 2.0)})
    (got,) = midi.handle(mapping, _Msg("control_change", value=127, control=7))
    assert got == Action("latent", (3, 2.0)) == actions.make("latent", "3,2.0")
    assert osc.message_actions("/cppn/z/3", [2.0])[0] == [got]
    s = apply(state(), got)
    assert s.z_offsets == (0.0, 0.0, 0.0, 2.0)
    assert apply(s, Action("latent", (3, 0.0))).z_offsets == ()  # back to nothing
    assert apply(s, Action("latent", (0, 99.0))).z_offsets[0] == actions.LATENT_RANGE[1]


class _Msg:
    """A mido-like message (midi.handle reads type, channel and the data fields)."""

    def __init__(self, type: str, channel: int = 0, **fields) -> None:
        self.type, self.channel = type, channel
        self.__dict__.update(fields)


def test_the_reducer_is_a_table_with_a_handler_for_every_action_it_applies():
    assert set(actions.HANDLERS) == actions.APPLIED
    assert all(s.owner in actions.OWNERS and s.kind in actions.KINDS
               for s in actions.ACTIONS.values())


def test_network_defaults_and_ranges_have_one_source():
    from realtime_cppn.core import scene
    from realtime_cppn.instrument import bank
    from realtime_cppn.nn import model

    assert actions.NETWORK_DEFAULTS is scene.NETWORK_DEFAULTS
    assert (actions.WIDTH_RANGE, actions.DEPTH_RANGE) == (scene.NETWORK_RANGES["width"],
                                                          scene.NETWORK_RANGES["depth"])
    assert actions.WIDTH_RANGE[1] == model.MAX_WIDTH and actions.DEPTH_RANGE[1] == model.MAX_DEPTH
    assert actions.ACTIONS["width"].range == actions.WIDTH_RANGE
    # A bank morphs between a scene naming a default and one leaving it out.
    a, b = Scene(network={"seed": 1, "scale": 2.0}), Scene(network={"seed": 2})
    assert bank.can_morph(a, b)


def test_quanta_agree_with_the_tempo():
    from realtime_cppn.instrument import tempo

    assert actions.QUANTA == ("off", *tempo.QUANTA)
