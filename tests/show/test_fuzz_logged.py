"""Every action in the one vocabulary (``actions.ACTIONS``), fuzzed with values of every type and
with values of its own declared kind: a checked Action that the reducer applies (or, for the
instrument's, that the instrument takes), or one CPPNError, whatever the source."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.scene import Scene
from realtime_cppn.instrument import instrument
from realtime_cppn.show import actions

values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)
STATE = actions.initial_state(Scene(network={"seed": 1, "width": 4, "depth": 1}))
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _number(spec: actions.ActionSpec) -> st.SearchStrategy:
    """Numbers around and past the declared range: the edges, inside, outside, non-finite."""
    lo, hi = spec.range if spec.range is not None else (-2**40, 2**40)
    hi = min(hi, 2**62)
    if spec.kind == "int":
        return st.integers(int(lo) - 3, int(hi) + 3) | st.sampled_from([lo, hi])
    return st.floats(allow_nan=True, allow_infinity=True) | st.floats(lo - 1, min(hi, 1e9) + 1)


def _of_kind(spec: actions.ActionSpec) -> st.SearchStrategy:
    """Values shaped like the spec's kind, in each source's form (typed, text, JSON)."""
    if spec.kind in ("int", "float"):
        typed = _number(spec)
    elif spec.kind == "bool":
        typed = st.booleans() | st.sampled_from(["on", "off", "yes", "1", "maybe"])
    elif spec.kind == "str":
        typed = st.sampled_from(spec.choices or ("a.png", "zoom", "reseed")) | st.text(max_size=8)
    elif spec.kind == "vector" and spec.item == "latent":
        typed = st.tuples(st.integers(-2, 300), st.floats(allow_nan=True, allow_infinity=True))
    elif spec.kind == "vector":
        typed = st.lists(st.sampled_from(["sin", "tanh", "relu", "nope"]), max_size=70)
    elif spec.kind == "object":
        typed = st.fixed_dictionaries({"slot": st.integers(1, 9), "scene": st.just(
            STATE.scene.to_dict()), "morph": st.booleans()}) | values
    else:
        typed = st.none()
    return st.none() | typed | typed.map(actions.format_value) | values


def _take(action: actions.Action) -> None:
    """What the show does with a checked action: the reducer, or the instrument's own handling."""
    assert action.name in actions.ACTIONS
    if actions.ACTIONS[action.name].owner == "instrument":
        inst = instrument.Instrument()
        assert inst.handle_key_action(action)
        inst.poll(0.0, STATE)
        return
    try:
        actions.apply(STATE, action)
    except CPPNError:
        pass  # a value the reducer refuses (a scene a recall cannot become): one line, as live


@SETTINGS
@given(name=st.sampled_from(sorted(actions.APPLIED)) | st.text(max_size=8), value=values)
def test_a_logged_event_is_an_action_the_show_applies_or_one_clear_error(name, value):
    try:
        action = actions.from_log(name, value)
    except CPPNError:
        return
    assert action.name in actions.APPLIED
    _take(action)


@SETTINGS
@given(data=st.data(), name=st.sampled_from(sorted(actions.ACTIONS)))
def test_every_action_takes_values_of_its_kind_from_any_source_or_one_clear_error(data, name):
    value = data.draw(_of_kind(actions.ACTIONS[name]))
    try:
        action = actions.make(name, value)
    except CPPNError as exc:
        assert "\n" not in str(exc)
        return
    spec = actions.ACTIONS[name]
    if action.value is not None and spec.range is not None and spec.kind in ("int", "float") \
            and not spec.clamp:
        lo, hi = spec.range
        assert lo <= action.value <= hi
    _take(action)
