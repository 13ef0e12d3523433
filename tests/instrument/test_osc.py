"""OSC over real loopback UDP: the same Actions and state as the keys, malformed input survived."""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import replace

import pytest

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.scene import Scene
from realtime_cppn.instrument import osc
from realtime_cppn.show import actions, keys
from realtime_cppn.show.actions import Action

pytest.importorskip("pythonosc")
from pythonosc import dispatcher as osc_dispatcher  # noqa: E402
from pythonosc import osc_server, udp_client  # noqa: E402
from pythonosc.osc_message_builder import OscMessageBuilder  # noqa: E402


@pytest.fixture
def server():
    with osc.OscServer(port=0) as s:
        yield s


@pytest.fixture
def client(server):
    return udp_client.SimpleUDPClient("127.0.0.1", server.port)


def wait_for(server: osc.OscServer, n: int, timeout: float = 30.0) -> list[Action]:
    """Poll as the render loop would until ``n`` actions arrived (UDP on loopback is not lossy
    in practice, but delivery is asynchronous)."""
    got: list[Action] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got += server.poll()
        time.sleep(0.001)
    return got


def wait_received(server: osc.OscServer, n: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while server.received < n and time.monotonic() < deadline:
        time.sleep(0.001)
    assert server.received >= n, f"server saw {server.received} of {n} messages"


def start_state() -> actions.AppState:
    scene = Scene(network={"seed": 7, "width": 16, "depth": 3, "activation": "tanh"})
    return actions.initial_state(scene)


def test_binds_localhost_by_default_on_an_ephemeral_port(server):
    assert server.host == "127.0.0.1"
    assert server.port > 0


def test_every_key_has_an_osc_message_giving_the_same_action_and_state():
    with osc.OscServer(port=0, allow_quit=True) as server:  # quit and escape included
        _every_key(server, udp_client.SimpleUDPClient("127.0.0.1", server.port))


def test_quitting_over_osc_is_opt_in(server, client, caplog):
    caplog.set_level(logging.WARNING, logger="realtime_cppn.instrument.osc")
    for address in ("/cppn/quit", "/cppn/escape", "/cppn/escape"):
        client.send_message(address, [])
    client.send_message("/cppn/action", ["quit"])
    client.send_message("/cppn/zoom_in", [])
    assert wait_for(server, 1) == [Action("zoom_in")]  # the rest were dropped, not queued
    assert server.dropped == 4
    assert any("--osc-quit" in r.getMessage() for r in caplog.records)


def test_a_malformed_datagram_is_one_log_line_not_a_traceback(server, caplog, capfd):
    caplog.set_level(logging.WARNING, logger="realtime_cppn.instrument.osc")
    deep = b""
    for _ in range(2999):  # a bundle nested 2,999 deep: python-osc's parser recurses
        deep = b"#bundle\x00" + b"\x00" * 8 + (len(deep).to_bytes(4, "big") + deep if deep
                                                 else b"")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(3):
        sock.sendto(deep, ("127.0.0.1", server.port))
    wait_received(server, 3)
    sock.close()
    udp_client.SimpleUDPClient("127.0.0.1", server.port).send_message("/cppn/reseed", [])
    assert wait_for(server, 1) == [Action("reseed")]  # still serving
    assert "Traceback" not in capfd.readouterr().err
    lines = [r for r in caplog.records if "malformed datagram" in r.getMessage()]
    assert len(lines) == 1


def _every_key(server, client) -> None:
    by_key = start_state()
    by_osc = start_state()
    for key, target in keys.DEFAULT_KEYS.items():
        want = keys.DEFAULT.action_for(key)
        if actions.ACTIONS[want.name].owner != "show":
            continue  # instrument actions: test_instrument checks their OSC addresses
        assert want == actions.parse(target)
        args = [] if want.value is None else [want.value]
        client.send_message(f"/cppn/{want.name}", args)
        got = wait_for(server, 1)
        assert got == [want], key
        by_key = actions.apply(by_key, want)
        by_osc = actions.apply(by_osc, got[0])
        assert by_osc == by_key, key
    # The walk changed the show (so equal states are not trivially equal start states).
    assert by_osc.seed != start_state().seed and by_osc.quit


def test_values_set_parameters_exactly_like_the_cli_actions(server, client):
    cases = [
        ("/cppn/width", [64], "width=64"),
        ("/cppn/depth", [5], "depth=5"),
        ("/cppn/seed", [1234], "seed=1234"),
        ("/cppn/morph", [99], "morph=99"),
        ("/cppn/reseed", [5], "reseed=5"),
        ("/cppn/zoom", [1.5], "zoom=1.5"),  # exact in float32, OSC's float
        ("/cppn/speed", [0.25], "speed=0.25"),
        ("/cppn/symmetry", ["k6"], "symmetry=k6"),
        ("/cppn/symmetry", [3], "symmetry=xy"),  # an index into spec.SYMMETRIES
        ("/cppn/activation", ["sin"], "activation=sin"),
        ("/cppn/activation", ["sin", "relu", "tanh"], "activation=sin,relu,tanh"),
        ("/cppn/render_scale", [0.5], "render_scale=0.5"),
        ("/cppn/pause", [True], "pause=true"),
        ("/cppn/pause", [0], "pause=false"),
        ("/cppn/output_mode", ["mono"], "output_mode=mono"),
        ("/cppn/action", ["speed=0.5"], "speed=0.5"),
    ]
    state = start_state()
    for address, args, text in cases:
        client.send_message(address, args)
        got = wait_for(server, 1)
        want = actions.parse(text)
        assert got == [want], address
        assert actions.apply(state, got[0]) == actions.apply(state, want)
        state = actions.apply(state, want)
    assert state.net("activation") == ["sin", "relu", "tanh"] and state.net("depth") == 3


def test_buttons_fire_actions_on_press_only(server, client):
    client.send_message("/cppn/width_up", 1.0)  # TouchOSC: press
    client.send_message("/cppn/width_up", 0.0)  # release
    client.send_message("/cppn/zoom_in", 1)
    client.send_message("/cppn/zoom_in", [])
    assert wait_for(server, 3) == [Action("width_up"), Action("zoom_in"), Action("zoom_in")]
    wait_received(server, 4)
    assert server.poll() == [] and server.dropped == 0


def test_latent_dimensions_and_record(server, client):
    client.send_message("/cppn/z/3", 0.5)
    client.send_message("/cppn/z/255", -2.0)
    client.send_message("/cppn/record", True)
    client.send_message("/cppn/record", [])
    assert wait_for(server, 4) == [
        Action("latent", (3, 0.5)), Action("latent", (255, -2.0)),
        Action("record", True), Action("record"),
    ]


def raw(address: str, *typed: tuple[str, object]) -> bytes:
    b = OscMessageBuilder(address)
    for kind, value in typed:
        b.add_arg(value, kind)
    return b.build().dgram


def test_malformed_messages_never_raise_are_logged_once_and_the_show_goes_on(server, caplog):
    caplog.set_level(logging.WARNING, logger="realtime_cppn.instrument.osc")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bad = [
        raw("/cppn/zoom", ("d", float("nan"))),
        raw("/cppn/zoom", ("d", float("inf"))),
        raw("/cppn/zoom", ("s", "big")),
        raw("/cppn/width", ("s", "wide")),
        raw("/cppn/width", ("b", b"\x00\x01")),
        raw("/cppn/width", ("N", None)),
        raw("/cppn/reseed", ("f", 1.5)),
        raw("/cppn/speed", ("f", 1.0), ("f", 2.0)),
        raw("/cppn/quit", ("s", "now")),  # takes no value
        raw("/cppn/quit", ("d", float("nan"))),
        raw("/cppn/activation", ("s", "nope")),
        raw("/cppn/symmetry", ("s", "k99")),
        raw("/cppn/z/999", ("f", 0.5)),
        raw("/cppn/z/x", ("f", 0.5)),
        raw("/cppn/nothing"),
        raw("/other/thing", ("i", 1)),
        raw("/cppn/action", ("s", "explode")),
        raw("/cppn/activation", *([("s", "sin")] * 65)),  # deeper than any network
    ]
    garbage = [b"\x00garbage", b"#bundle\x00" + b"\xff" * 7, b""]
    for _ in range(3):  # each twice more: still logged once per address and problem
        for d in bad + garbage:
            sock.sendto(d, ("127.0.0.1", server.port))
    wait_received(server, 3 * len(bad))
    assert server.poll() == []
    assert server.dropped == 3 * len(bad)
    records = [r for r in caplog.records if r.name == "realtime_cppn.instrument.osc"]
    assert len(records) == len({r.getMessage() for r in records})  # no repeats
    assert 10 <= len(records) <= len(bad)
    # Clamped, not dropped: huge and tiny numbers become the nearest valid value, logged once.
    for _ in range(2):
        sock.sendto(raw("/cppn/width", ("h", 2**62)), ("127.0.0.1", server.port))
        sock.sendto(raw("/cppn/zoom", ("d", 1e300)), ("127.0.0.1", server.port))
        sock.sendto(raw("/cppn/speed", ("d", -5.0)), ("127.0.0.1", server.port))
        sock.sendto(raw("/cppn/z/0", ("d", -1e30)), ("127.0.0.1", server.port))
    got = wait_for(server, 8)
    assert got == [
        Action("width", actions.WIDTH_RANGE[1]), Action("zoom", actions.ZOOM_RANGE[1]),
        Action("speed", actions.SPEED_RANGE[0]), Action("latent", (0, osc.LATENT_RANGE[0])),
    ] * 2
    clamped_logs = [r for r in caplog.records if "clamped" in r.getMessage()]
    assert len(clamped_logs) == 4
    state = start_state()
    for a in got:  # every clamped action applies without error
        if a.name in actions.ACTIONS:
            state = actions.apply(state, a)
    # Still alive and serving.
    udp_client.SimpleUDPClient("127.0.0.1", server.port).send_message("/cppn/reseed", [])
    assert wait_for(server, 1) == [Action("reseed")]
    sock.close()


def test_bundles_act_on_arrival_even_with_a_far_future_timetag(server):
    from pythonosc.osc_bundle_builder import OscBundleBuilder

    bundle = OscBundleBuilder(time.time() + 10**6)  # about 12 days ahead
    for address, value in (("/cppn/width", 8), ("/cppn/zoom", 2.0)):
        b = OscMessageBuilder(address)
        b.add_arg(value)
        bundle.add_content(b.build())
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.sendto(bundle.build().dgram, ("127.0.0.1", server.port))
    assert wait_for(server, 2) == [Action("width", 8), Action("zoom", 2.0)]
    sock.close()


def test_log_once_is_bounded_under_a_flood_of_distinct_addresses(server, caplog):
    caplog.set_level(logging.WARNING, logger="realtime_cppn.instrument.osc")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = osc.MAX_LOGGED + 50
    for i in range(n):
        sock.sendto(raw(f"/junk/{i}"), ("127.0.0.1", server.port))
        if i % 50 == 49:  # let the server keep up: the kernel's UDP buffer is finite
            wait_received(server, i + 1)
    wait_received(server, n)
    records = [r for r in caplog.records if r.name == "realtime_cppn.instrument.osc"]
    assert len(records) == osc.MAX_LOGGED + 1
    assert "no more logged" in records[-1].getMessage()
    sock.close()


def test_message_actions_is_pure_and_checks_like_the_server():
    assert osc.message_actions("/cppn/width", [32]) == ([Action("width", 32)], False)
    assert osc.message_actions("/cppn/width", [5000]) == ([Action("width", 1024)], True)
    assert osc.message_actions("/cppn/activation", [1]) == ([Action("activation", ("sigmoid",))],
                                                             False)
    for address, args in [("/cppn/zoom", [float("nan")]), ("/x", []), ("/cppn/seed", []),
                          ("/cppn/zoom", [True])]:
        with pytest.raises(CPPNError):
            osc.message_actions(address, args)


def test_state_output_sends_changes_only():
    received: list[tuple] = []
    d = osc_dispatcher.Dispatcher()
    d.set_default_handler(lambda address, *args: received.append((address, *args)))
    listener = osc_server.BlockingOSCUDPServer(("127.0.0.1", 0), d)
    listener.timeout = 0.5
    try:
        sender = osc.StateSender(listener.server_address[1])
        state = start_state()
        n = sender.send(state)
        for _ in range(n):
            listener.handle_request()
        values = {a: v for a, v in received}
        assert values["/cppn/state/width"] == 16 and values["/cppn/state/seed"] == 7
        assert values["/cppn/state/activation"] == "tanh"
        assert sender.send(state) == 0
        received.clear()
        state = replace(actions.apply(state, Action("width", 32)))
        assert sender.send(state) == 1
        listener.handle_request()
        assert received == [("/cppn/state/width", 32)]
    finally:
        listener.server_close()


def test_port_in_use_is_one_clear_error(server):
    with pytest.raises(CPPNError, match="cannot open OSC port"):
        osc.OscServer(port=server.port)


def test_address_table_lists_every_action_and_parameter():
    table = osc.address_table()
    for name in actions.named(["show"]):
        assert f"`/cppn/{name}`" in table
    assert "`/cppn/z/<i>`" in table and "`/cppn/record`" in table
    lines = table.splitlines()
    assert all(line.count(" | ") == 2 for line in lines)  # pipes inside cells are escaped


def test_instrument_modules_import_without_their_optional_libraries():
    """The app imports these whether or not the ``vj`` extra is installed: the libraries load
    only when a server, port, device or file is opened."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "for m in ('pythonosc', 'mido', 'rtmidi', 'sounddevice', 'av'):\n"
        "    sys.modules[m] = None  # importing a None entry raises ImportError\n"
        "from realtime_cppn.instrument import osc, midi, audio, tempo, bank\n"
        "try:\n"
        "    osc.OscServer(port=0)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("CPPNError OSC needs python-osc")
