"""The key table: names, defaults, key -> action -> reducer, help text, TOML rebinding."""

from __future__ import annotations

from dataclasses import replace

import pytest

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.scene import Scene
from realtime_cppn.show import keys
from realtime_cppn.show.actions import Action, apply, initial_state

# The list, action by action: every one must have a default key.
REQUIRED_LATER = (  # the recording, variation, auto scale and export keys (issues 4, 5, 7, 8)
    "record", "kaleido_up", "kaleido_down", "color_mode", "palette", "texture", "wrap",
    "uv_normalize", "auto_scale", "export",
)
REQUIRED = (
    "reseed", "morph", "new_path", "previous_seed", "next_activation", "previous_activation",
    "random_activations", "width_up", "width_down", "depth_up", "depth_down", "output_mode",
    "symmetry", "zoom_in", "zoom_out", "speed_half", "speed_double", "pause", "render_scale",
    "fullscreen", "next_monitor", "help", "info", "screenshot", "escape", "quit",
)


def test_every_required_action_has_a_key():
    bound = {a.name for a in keys.DEFAULT.bindings.values()}
    assert set(REQUIRED) <= bound
    assert set(REQUIRED_LATER) <= bound


def test_record_keys_carry_a_modifier():
    d = {k: a.name for k, a in keys.DEFAULT.bindings.items()}
    rec = [k for k, name in d.items() if name == "record"]
    assert rec == ["ctrl+r", "shift+f12"]  # a stray key never starts or ends a take


def test_defaults_follow_glslviewer_and_projectm():
    d = {k: a.name for k, a in keys.DEFAULT.bindings.items()}
    assert d["r"] == "reseed" and d["shift+r"] == "morph" and d["space"] == "pause"
    assert d["h"] == d["f1"] == "help" and d["f"] == d["f11"] == "fullscreen"
    assert d["ctrl+q"] == "quit" and d["escape"] == "escape"
    assert d.get("q") not in ("quit", "escape")  # a stray key must not end a show


def test_every_bound_key_drives_the_reducer():
    s = replace(initial_state(Scene(network={"seed": 1, "width": 16, "depth": 3})),
                history=(4,), help=True, textures=("a.png", "b.png"))
    from realtime_cppn.instrument.instrument import INSTRUMENT_ACTIONS, Instrument

    for key, action in keys.DEFAULT.bindings.items():
        if action.name in INSTRUMENT_ACTIONS:  # tempo, bank, learn: the instrument takes them
            assert Instrument().handle_key_action(action), f"{key} -> {action} not taken"
            continue
        after = apply(s, keys.DEFAULT.action_for(key))
        assert after != s, f"{key} -> {action} changed nothing"
    assert keys.DEFAULT.action_for("ctrl+shift+alt+x") is None


def test_help_text_lists_every_bound_key_and_its_description():
    text = keys.DEFAULT.help_text()
    rows = dict(keys.DEFAULT.help_rows())
    for key, action in keys.DEFAULT.bindings.items():
        label = next((k for k in rows if keys.shown(key) in k.split(" / ")), None)
        if label is None:  # one action over many values (bank slots 1 .. 9) shares a row
            label = next(k for k in rows if " .. " in k and rows[k].startswith(
                keys.description(action.name)))
            assert keys.shown(key).rstrip("0123456789") in label
            continue
        assert rows[label] == keys.description(action.name)
        assert keys.shown(key) in text
    assert "Shift+R" in text and "Ctrl+Q" in text and "F11" in text and "Space" in text


@pytest.mark.parametrize("raw, name", [
    ("R", "r"), ("Shift+R", "shift+r"), ("shift+ctrl+q", "ctrl+shift+q"), ("Esc", "escape"),
    ("F11", "f11"), ("ctrl + =", "ctrl+equal"), ("]", "right_bracket"), ("cmd+s", "super+s"),
])
def test_key_names_normalise(raw, name):
    assert keys.normalize(raw) == name


@pytest.mark.parametrize("raw, message", [
    ("hyper+r", "unknown modifier 'hyper'"), ("f99", "unknown key 'f99'"), ("", "unknown key"),
])
def test_bad_key_names(raw, message):
    with pytest.raises(CPPNError, match=message):
        keys.normalize(raw)


def write(tmp_path, text: str):
    p = tmp_path / "live.toml"
    p.write_text(text)
    return p


def test_config_rebinds_unbinds_and_binds_values(tmp_path):
    km = keys.load_config(write(tmp_path, """
[keys]
"Ctrl+R" = "reseed"
"r" = ""
"1" = "render_scale=1"
"2" = "render_scale=0.5"
"shift+s" = "symmetry=k6"

[midi]  # belongs to another feature
port = "x"
"""))
    assert km.action_for("ctrl+r") == Action("reseed")
    assert km.action_for("r") is None
    assert km.action_for("2") == Action("render_scale", 0.5)
    assert km.action_for("space") == Action("pause")  # the rest stays
    s = apply(initial_state(Scene()), km.action_for("shift+s"))
    assert s.scene.view.symmetry == "k6"
    assert "render_scale = 0.5" in km.help_text()


@pytest.mark.parametrize("text, message", [
    ('[keys]\n"hyper+x" = "reseed"\n', "unknown modifier 'hyper'"),
    ('[keys]\n"r" = "explode"\n', "key 'r': unknown action 'explode'"),
    ('[keys]\n"r" = "speed=fast"\n', "speed value must be a number"),
    ('[keys]\n"r" = 3\n', "must name an action as a string"),
    ('keys = 3\n', r"\[keys\] must be a table"),
    ('[keys\n', "is not valid TOML"),
])
def test_config_errors_are_one_clear_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(CPPNError, match=message) as info:
        keys.load_config(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_missing_config(tmp_path):
    with pytest.raises(CPPNError, match="no such config file"):
        keys.load_config(tmp_path / "nope.toml")


def test_every_key_name_is_a_glfw_key():
    glfw = pytest.importorskip("glfw")
    missing = [n for n in keys.KEY_NAMES if not hasattr(glfw, "KEY_" + n.upper())]
    assert not missing


def test_plain_modules_import_no_torch_moderngl_or_glfw():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import realtime_cppn.show.actions, realtime_cppn.show.keys, realtime_cppn.live.hud\n"
        "import realtime_cppn.core.liveliness, realtime_cppn.show.clock, realtime_cppn.live.live\n"
        "bad = [m for m in ('torch', 'moderngl', 'glfw') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
