"""The key table: key names -> action names, the help text made from it, and TOML rebinding.

Keys are data (``DEFAULT_KEYS``), not ``if`` chains: the window turns a key event into a name such
as ``"r"``, ``"shift+r"``, ``"ctrl+q"``, ``"f11"`` or ``"space"`` and looks it up; the help overlay
is generated from the same table and the descriptions in ``actions.ACTIONS``. Defaults follow
glslViewer and projectM: R reseeds, Shift+R morphs, Space pauses, H / F1 help, F / F11 fullscreen,
Ctrl+Q quits; Ctrl+R (or Shift+F12, beside F12's screenshot) starts and stops recording, as
OBS-style hotkeys carry a modifier so a stray key cannot end a take. A config file rebinds any key::

    [keys]
    "ctrl+r" = "reseed"      # bind
    "r" = ""                 # unbind
    "1" = "render_scale=1"   # an action with a value

Other top-level tables in the file belong to other features and are left to them.
"""

from __future__ import annotations

import string
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import CPPNError
from . import actions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MODIFIERS = ("ctrl", "alt", "shift", "super")  # canonical order in a key name
_NAMED = (
    "space", "escape", "enter", "tab", "backspace", "insert", "delete",
    "up", "down", "left", "right", "page_up", "page_down", "home", "end",
    "minus", "equal", "left_bracket", "right_bracket", "comma", "period", "slash",
    "semicolon", "apostrophe", "backslash", "grave_accent",
    "kp_add", "kp_subtract", "kp_multiply", "kp_divide", "kp_enter",
)
# Every base key name; each is also the suffix of its GLFW constant (KEY_<NAME.upper()>).
KEY_NAMES: tuple[str, ...] = (
    tuple(string.ascii_lowercase) + tuple(string.digits)
    + tuple(f"f{i}" for i in range(1, 26)) + _NAMED
    + tuple(f"kp_{d}" for d in string.digits)
)
_KEY_SET = frozenset(KEY_NAMES)
_ALIASES = {
    "esc": "escape", "return": "enter", "del": "delete", "pgup": "page_up", "pgdn": "page_down",
    "-": "minus", "=": "equal", "[": "left_bracket", "]": "right_bracket", ",": "comma",
    ".": "period", "/": "slash", ";": "semicolon", "'": "apostrophe", "\\": "backslash",
    "`": "grave_accent", "control": "ctrl", "cmd": "super", "option": "alt",
}

DEFAULT_KEYS: dict[str, str] = {
    "r": "reseed",
    "shift+r": "morph",
    "l": "new_path",
    "backspace": "previous_seed",
    "a": "next_activation",
    "shift+a": "previous_activation",
    "m": "random_activations",
    "w": "width_up",
    "shift+w": "width_down",
    "d": "depth_up",
    "shift+d": "depth_down",
    "c": "output_mode",
    "s": "symmetry",
    "equal": "zoom_in",
    "kp_add": "zoom_in",
    "minus": "zoom_out",
    "kp_subtract": "zoom_out",
    "right_bracket": "speed_double",
    "left_bracket": "speed_half",
    "space": "pause",
    "k": "kaleido_up",
    "shift+k": "kaleido_down",
    "shift+c": "color_mode",
    "shift+p": "palette",
    "t": "texture",
    "shift+t": "wrap",
    "u": "uv_normalize",
    "g": "render_scale",
    "shift+g": "auto_scale",
    "f": "fullscreen",
    "f11": "fullscreen",
    "shift+f": "next_monitor",
    "h": "help",
    "f1": "help",
    "i": "info",
    "p": "screenshot",
    "f12": "screenshot",
    "ctrl+r": "record",  # OBS-style: a modifier, so a stray key never starts or ends a take
    "shift+f12": "record",  # next to the screenshot key: F12 a still, Shift+F12 a clip
    "e": "export",
    "escape": "escape",
    "ctrl+q": "quit",
}


def parse_action(text: str) -> actions.Action:
    """A key's target: a show action or an instrument one (tempo, bank...) of actions.ACTIONS."""
    return actions.parse(text, owners=actions.NAMEABLE)


def description(name: str) -> str:
    return actions.spec(name, actions.NAMEABLE).description


def _vocabulary_order() -> list[str]:
    return list(actions.named(actions.NAMEABLE))


_SHOWN = {  # how key names read in the help overlay
    "equal": "=", "minus": "-", "left_bracket": "[", "right_bracket": "]", "kp_add": "keypad +",
    "kp_subtract": "keypad -", "escape": "Esc", "backspace": "Backspace", "space": "Space",
    "period": ".", "comma": ",", "apostrophe": "'", "semicolon": ";",
}


def normalize(key: str) -> str:
    """``'Shift+R'`` -> ``'shift+r'``: modifiers in canonical order; unknown names are errors."""
    parts = [p.strip().lower() for p in str(key).replace(" ", "").split("+")]
    if len(parts) > 1 and parts[-1] == "" and parts[-2] == "":  # "ctrl++" means ctrl + '+'
        parts = [*parts[:-2], "kp_add"]
    parts = [_ALIASES.get(p, p) for p in parts]
    *mods, base = parts
    if base not in _KEY_SET:
        raise CPPNError(
            f"unknown key {key!r}; keys look like r, shift+r, ctrl+q, f11, space, escape, "
            f"left_bracket (modifiers: {', '.join(MODIFIERS)})"
        )
    for m in mods:
        if m not in MODIFIERS:
            raise CPPNError(f"unknown modifier {m!r} in key {key!r}; valid: {', '.join(MODIFIERS)}")
    return "+".join([m for m in MODIFIERS if m in mods] + [base])


def key_name(base: str, ctrl: bool = False, alt: bool = False, shift: bool = False,
             super_: bool = False) -> str:
    """The table name of a key event (what the window builds from GLFW's key and modifiers)."""
    mods = [m for m, on in zip(MODIFIERS, (ctrl, alt, shift, super_)) if on]
    return "+".join([*mods, base])


def shown(key: str) -> str:
    """A key name as a person reads it: ``'shift+r'`` -> ``'Shift+R'``."""
    *mods, base = key.split("+")
    base = _SHOWN.get(base, base.upper() if len(base) <= 3 else base.replace("_", " "))
    return "+".join([*(m.capitalize() for m in mods), base])


@dataclass(frozen=True)
class KeyMap:
    """Normalised key name -> action (name and optional value)."""

    bindings: Mapping[str, actions.Action]

    @classmethod
    def from_table(cls, table: Mapping[str, str], base: Mapping[str, actions.Action] | None = None,
                   where: str = "key table") -> KeyMap:
        """Bindings from ``{key: "action[=value]"}`` laid over ``base``; "" unbinds a key."""
        bindings = dict(base or {})
        for key, target in table.items():
            try:
                k = normalize(key)
            except CPPNError as exc:
                raise CPPNError(f"{where}: {exc}") from None
            if not isinstance(target, str):
                raise CPPNError(f"{where}: key {key!r} must name an action as a string, "
                                f"got {target!r}")
            if not target.strip():
                bindings.pop(k, None)
                continue
            try:
                bindings[k] = parse_action(target)
            except CPPNError as exc:
                raise CPPNError(f"{where}: key {key!r}: {exc}") from None
        return cls(bindings)

    def action_for(self, key: str) -> actions.Action | None:
        return self.bindings.get(key)

    def help_rows(self) -> list[tuple[str, str]]:
        """(keys, description) per bound action, in vocabulary order; all keys of one action
        share a row."""
        by_action: dict[actions.Action, list[str]] = {}
        for key, action in self.bindings.items():
            by_action.setdefault(action, []).append(key)
        order = _vocabulary_order()
        rows = []
        families: dict[str, list[actions.Action]] = {}  # one action over many values: one row
        for action in by_action:
            if action.value is not None:
                families.setdefault(action.name, []).append(action)
        collapsed = {name for name, members in families.items() if len(members) > 3}
        done: set[str] = set()
        for action in sorted(by_action, key=lambda a: (order.index(a.name), str(a.value))):
            if action.name in collapsed:
                if action.name not in done:
                    done.add(action.name)
                    members = sorted(families[action.name], key=lambda a: str(a.value))
                    first, last = by_action[members[0]][0], by_action[members[-1]][0]
                    rows.append((f"{shown(first)} .. {shown(last)}",
                                 f"{description(action.name)} (the key's number)"))
                continue
            desc = description(action.name)
            if action.value is not None:
                desc = f"{action.name} = {actions.format_value(action.value)}"
            rows.append((" / ".join(shown(k) for k in by_action[action]), desc))
        return rows

    def help_text(self) -> str:
        rows = self.help_rows()
        width = max((len(k) for k, _ in rows), default=0)
        return "\n".join(f"{k.ljust(width)}  {d}" for k, d in rows)


def _with_instrument_keys(table: dict[str, str]) -> dict[str, str]:
    out = dict(table)
    for action, key, _ in INSTRUMENT_KEYS:
        out.setdefault(key, action)
    return out


# The instrument's keys (action, key, help): defaults a key file may rebind like any other.
INSTRUMENT_KEYS: tuple[tuple[str, str, str], ...] = (
    ("tap", "b", "tap tempo"),
    ("resync", "shift+b", "resync: now is beat one"),
    ("bpm_double", "period", "tempo x2"),
    ("bpm_half", "comma", "tempo /2"),
    ("loop_bars", "shift+l", "loop length 1, 2, 4, 8, 16 bars"),
    ("quantize", "q", "quantise reseed / morph / recall: off, beat, bar"),
    ("reactivity_up", "apostrophe", "more audio reactivity"),
    ("reactivity_down", "semicolon", "less audio reactivity"),
    ("midi_learn", "ctrl+m", "MIDI learn (then a key or parameter, then a control)"),
    *((f"bank_recall={n}", str(n), f"recall bank slot {n}") for n in range(1, 10)),
    *((f"bank_store={n}", f"ctrl+{n}", f"store the scene in bank slot {n}") for n in range(1, 10)),
)


DEFAULT_KEYS = _with_instrument_keys(DEFAULT_KEYS)
DEFAULT = KeyMap.from_table(DEFAULT_KEYS)


def read_config(path: str | Path) -> dict:
    """The config file (TOML) as a dict: ``[keys]`` is read here, ``[midi.*]`` by midi.py."""
    from ..core.safeio import read_limited

    path = Path(path)
    data = read_limited(path, 1 << 20, "config file")  # a FIFO or a device is refused unread
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CPPNError(f"cannot read config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CPPNError(f"config {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise CPPNError(f"config {path} is nested too deeply to be a config") from None


def load_config(path: str | Path, base: KeyMap = DEFAULT) -> KeyMap:
    """The key map of a TOML config file's ``[keys]`` table laid over ``base``."""
    path = Path(path)
    data = read_config(path)
    table = data.get("keys", {})
    if not isinstance(table, dict):
        raise CPPNError(f"config {path}: [keys] must be a table of \"key\" = \"action\"")
    return KeyMap.from_table(table, base.bindings, where=f"config {path}")
