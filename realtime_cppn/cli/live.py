"""``realtime-cppn [live]``: open the live window, with the instrument, recording and video out."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from ..core.autoscale import AutoScale
from ..core.errors import CPPNError
from ..instrument import instrument
from ..live.hooks import RECORD_FPS, RecordSettings, VideoOutHook
from ..live.live import DEFAULT_SIZE, TEXTURE_SUFFIXES, UPSCALE_FILTERS, Live, check_screenshot_dir
from ..media import codecs
from ..show import actions, keys
from ..show.actions import Action, AppState
from ..show.clock import FixedClock, WallClock
from ..window.window import FrameTrace, Window, exit_now, no_window, show, starting_frame, warm_torch
from .args import _float, _int, _size, add_scene_arguments, scene_from_args


def add_show_arguments(p: argparse.ArgumentParser) -> None:
    """The window options other commands' windows share (grid, fit --live)."""
    w = p.add_argument_group("window")
    w.add_argument("--no-vsync", action="store_true", help="do not wait for the display refresh")
    w.add_argument("--fixed-fps", type=_float,
                   help="advance time exactly 1/FPS per frame, paced to real time")
    w.add_argument("--paused", action="store_true", help="start paused")
    w.add_argument("--config", type=Path, help="TOML config file (a [keys] table rebinds keys)")
    w.add_argument("--frames", type=_int, help=argparse.SUPPRESS)  # quit after N frames



# --- command line ----------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_scene_arguments(p)
    w = p.add_argument_group("window")
    w.add_argument("--size", type=_size, default=DEFAULT_SIZE,
                   help=f"window size WxH (default {DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]})")
    w.add_argument("--fullscreen", action="store_true", help="start fullscreen")
    w.add_argument("--monitor", type=_int, help="monitor to open on (0 is the primary)")
    w.add_argument("--no-vsync", action="store_true", help="do not wait for the display refresh")
    w.add_argument("--render-scale", type=_float,
                   help="evaluate the network at this fraction of the window (1, 0.5, 0.25); "
                        "turns the auto scale off")
    w.add_argument("--upscale", choices=("auto", *UPSCALE_FILTERS), default="auto",
                   help="how a reduced render scale is scaled up to the window (default auto: "
                        "catmull-rom, sharper at 1/2 and below, on a GPU; bilinear on a "
                        "software rasterizer, where the bicubic pass costs a full frame)")
    w.add_argument("--render-path", choices=("auto", "compute", "fragment", "cpu"),
                   default="auto",
                   help="where the network runs (default: compute where GL 4.3 exists; cpu, "
                        "i.e. numpy, where OpenGL is a software rasterizer)")
    w.add_argument("--config", type=Path, help="TOML config file (a [keys] table rebinds keys)")
    w.add_argument("--screenshot-dir", type=Path, default=Path("."),
                   help="where the screenshot key writes PNGs (default: here)")
    t = p.add_argument_group("show")
    t.add_argument("--speed", type=_float, default=1.0, help="animation speed (default 1)")
    t.add_argument("--paused", action="store_true", help="start paused")
    t.add_argument("--help-overlay", action="store_true", help="start with the key help shown")
    t.add_argument("--info", action="store_true", help="start with the info overlay shown")
    t.add_argument("--action", dest="actions", action="append", default=[],
                   metavar="NAME[=VALUE]",
                   help="apply an action at start (repeatable), e.g. --action speed=2; the same "
                        "names keys, OSC and the performance log use")
    t.add_argument("--fixed-fps", type=_float,
                   help="advance time exactly 1/FPS per frame, paced to real time (frame-exact)")
    t.add_argument("--auto-scale", type=_float, metavar="FPS",
                   help="pick the render scale to hold FPS (default: on, at the display's "
                        "refresh rate, 30 where that is out of reach; off with --fixed-fps or "
                        "--render-scale; 0 turns it off; Shift+G toggles, G sets a scale)")
    r = p.add_argument_group("recording and output")
    r.add_argument("--record-dir", type=Path, default=Path("."),
                   help="where the record key (Ctrl+R) writes takes and their performance logs")
    r.add_argument("--record-codec", default="h264",
                   help=f"codec of live takes: {', '.join(codecs.CODECS)} (default h264)")
    r.add_argument("--record-fps", type=codecs.parse_fps,
                   help="constant frame rate of takes, e.g. 30, 29.97 or 30000/1001 (default: "
                        f"--fixed-fps, else {RECORD_FPS:g}); a take lasts as long as the show")
    r.add_argument("--record-gop", type=codecs.parse_gop, metavar="N",
                   help="H.264 keyframe every N frames in takes (default: every second; "
                        "1: all-intra)")
    r.add_argument("--video-out", metavar="ROUTE",
                   help="also send the picture to virtualcam, syphon, spout or ndi")
    t.add_argument("--frames", type=_int, help=argparse.SUPPRESS)  # quit after N frames
    t.add_argument("--trace-frames", type=Path, help=argparse.SUPPRESS)  # see FrameTrace
    w.add_argument("--no-specialize", action="store_true",
                   help="never swap in constants-baked programs (see README: Speed)")
    instrument.add_arguments(p)


def run(args: argparse.Namespace) -> int:
    from ..rendering.renderer import Renderer

    listing = instrument.listing(args)
    if listing:
        print(listing)
        return 0
    scene = scene_from_args(args)
    keymap = keys.load_config(args.config) if args.config else keys.DEFAULT
    start = [actions.parse(a) for a in args.actions]  # bad names fail before a window opens
    record = _check_live_options(args)
    inst = instrument.Instrument.from_args(args)  # a missing port or device fails here, once
    try:
        window = Window(args.size, vsync=not args.no_vsync, fullscreen=args.fullscreen,
                        monitor=args.monitor)
    except BaseException:
        inst.close()
        raise
    warm_torch()  # imported meanwhile: the first network needs it, the window does not
    renderer = None
    trace = FrameTrace(args.trace_frames)
    try:
        try:
            # --fixed-fps shows every frame's state exactly (frame-exact takes), so a new
            # architecture compiles in place there; otherwise in the background.
            renderer = Renderer.from_current_context(
                path=args.render_path, specialize="off" if args.no_specialize else "async",
                background=not args.fixed_fps)
        except CPPNError as exc:
            inst.close()
            raise no_window(str(exc)) from None
        renderer.upscale = upscale_filter(args.upscale, renderer.gl_renderer)
        font_size = round(14 * window.content_scale())
        starting_frame(window, renderer, font_size)
        trace.event("starting")
        auto = _auto_scale_target(args, window)
        clock = FixedClock(args.fixed_fps, pace=True) if args.fixed_fps else WallClock()
        state = _first_state(args, scene, auto, renderer.path)
        live = Live(renderer, state, keymap, clock, args.screenshot_dir, font_size=font_size,
                    record=record, instrument_=inst)
        if trace.file is not None:  # every applied action, from keys, OSC, MIDI or the bank
            live.listeners.append(lambda t, action, state: trace.event("action", str(action)[:80]))
        try:
            _start_show(live, args, scene, window, start)
            rc = show(live, window, args.frames, trace=trace)
        finally:
            live.close()  # a take cut short by Ctrl-C or a crash is still a playable file
    finally:
        if renderer is not None:
            renderer.release()
        window.close()
    trace.event("exit", f"threads {threading.active_count()}")
    trace.close()
    return exit_now(rc)


def _first_state(args: argparse.Namespace, scene, auto: float | None, path: str) -> AppState:
    """The show's state before its first frame, from the live options."""
    # Auto scale on the cpu path starts at half the window (a quarter of the pixels: the
    # first frame comes sooner) and climbs from there where the machine has headroom.
    first_scale = args.render_scale or (0.5 if auto is not None and path == "cpu" else 1.0)
    return actions.initial_state(
        scene, speed=args.speed, paused=args.paused, render_scale=first_scale,
        fullscreen=args.fullscreen, help=args.help_overlay, info=args.info,
        monitor=args.monitor or 0, textures=texture_folder(scene.texture),
        auto_scale=auto is not None,
        target_fps=auto if auto is not None else actions.DEFAULT_TARGET_FPS)


def upscale_filter(choice: str, gl_renderer: str) -> str:
    """The upscale filter for ``--upscale``: 'auto' is Catmull-Rom on a GPU, bilinear on a
    software rasterizer (its 9 taps cost llvmpipe more than the reduced network saves)."""
    from ..rendering.cpu import is_software

    if choice != "auto":
        return choice
    return "bilinear" if is_software(gl_renderer) else "catmull-rom"


def _check_live_options(args: argparse.Namespace) -> RecordSettings:
    """The live options checked before a window opens: one clear line each."""
    if args.render_scale is not None and not 0.0 < args.render_scale <= 1.0:
        raise CPPNError(f"--render-scale must be in (0, 1], got {args.render_scale}")
    check_screenshot_dir(args.screenshot_dir)  # a file there fails before a window opens
    record = RecordSettings(args.record_dir, codecs.get_codec(args.record_codec).name,
                            args.record_fps, gop=args.record_gop)
    if args.record_fps is not None:
        codecs.frame_rate(args.record_fps)
    if args.video_out is not None:
        from ..media import videoout

        if args.video_out not in videoout.ROUTES:
            raise CPPNError(f"unknown video output {args.video_out!r}; "
                            f"valid: {', '.join(videoout.ROUTES)}")
    auto = args.auto_scale
    if auto is not None and not auto >= 0:
        raise CPPNError(f"--auto-scale needs a positive fps (0: off), got {auto}")
    return record


def _auto_scale_target(args: argparse.Namespace, window: Window) -> float | None:
    """The fps the auto scale holds, or None (off). On by default at the display's refresh
    rate; off where the frame must be exact or the user chose a scale (--fixed-fps,
    --render-scale), unless --auto-scale asks for it."""
    if args.auto_scale is not None:
        return args.auto_scale if args.auto_scale > 0 else None
    if args.fixed_fps or args.render_scale is not None:
        return None
    return window.refresh_rate()


def _start_show(live: Live, args: argparse.Namespace, scene, window: Window,
                start: list[Action]) -> None:
    """What the show needs before its first frame: texture, auto scale, a lively default
    scene, video out and the --action list."""
    live.fb_size = window.framebuffer_size()  # what the cost model judges the first network at
    if scene.texture:
        live._load_texture(scene.texture)  # a bad image fails now, with one line
    if live.state.auto_scale:
        live.autoscale = AutoScale(live.state.target_fps)
    # A scene the user pinned (--seed, --scene) is shown as is; the default one must live.
    if args.seed is None and args.scene is None:
        live.make_lively()
    if args.video_out is not None:
        live.video_out = VideoOutHook(live, args.video_out, window.framebuffer_size(),
                                      args.fixed_fps or RECORD_FPS)
    for action in start:
        live.dispatch(action)
    window.set_title(live.title())


def texture_folder(texture: str) -> tuple[str, ...]:
    """The images beside ``texture`` (itself included), sorted: what the texture key cycles."""
    if not texture:
        return ()
    path = Path(texture)
    folder = path.parent
    try:
        found = sorted(str(folder / p.name) for p in folder.iterdir()
                       if p.suffix.lower() in TEXTURE_SUFFIXES and p.is_file())
    except OSError:
        found = []
    return tuple(found) if str(path) in found else (str(path), *found)
