"""Every action a show logs, fuzzed through the one table replay reads logs with
(``instrument.LOGGED_ACTIONS``): a checked Action that the show applies, or one CPPNError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_cppn import actions, instrument
from realtime_cppn.errors import CPPNError
from realtime_cppn.scene import Scene

values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)
STATE = actions.initial_state(Scene(network={"seed": 1, "width": 4, "depth": 1}))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(instrument.LOGGED_ACTIONS)) | st.text(max_size=8),
       value=values)
def test_a_logged_event_is_an_action_the_show_applies_or_one_clear_error(name, value):
    try:
        action = instrument.logged_action(name, value)
    except CPPNError:
        return
    assert action.name in instrument.LOGGED_ACTIONS
    try:
        if action.name in instrument.HOST_ACTIONS:
            instrument.Instrument().apply_host(STATE, action)
        else:
            actions.apply(STATE, action)
    except CPPNError:
        pass  # a value the reducer refuses (a morph seed beyond range...): one line, as live
