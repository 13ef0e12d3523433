"""``realtime-cppn render``: a clip rendered offline, frame-exact, to a video file or PNG sequence.

Frame n shows latent phase ``scene.phase + (n / fps) / scene.loop``: time comes from the frame
counter, never the wall clock, so a slow machine makes the same clip, only later, and the same
command gives the same frames twice. ``--loops N`` renders whole loop periods, so the frame after
the last is the first and the clip loops seamlessly in a VJ player. The frames go through
the offline loop (``media.offline``): the GPU draws frame n while frame n-1 is copied out
(``Renderer.read_async``), earlier frames are encoded on another thread, and a stop signal
finishes the clip as it stands.

``--audio FILE`` makes an audio-reactive clip: the same ``audio.Reactor`` the live show uses
analyses the file on the fixed-step clock (frame n at n / fps), so the clip is identical every
time; its latent offset is added to z, its speed factor scales the phase step into frame n and its
zoom factor the view's zoom. The clip is as long as the audio unless ``--duration`` / ``--loops``
say otherwise, and the audio is muxed into the video, trimmed (or padded with silence) to the
clip: AAC in .mp4, PCM (or ``--audio-codec aac``) in .mov. PNG sequences carry no audio.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..core.errors import CPPNError
from ..media import codecs, offline, writers
from .args import PROG, _float, _int, _size, add_scene_arguments, scene_from_args, scene_spec


@dataclass(frozen=True)
class ClipPlan:
    """Which latent phase each frame shows: ``phase(n) = start + n * step`` (in loops)."""

    frames: int
    fps: float
    start: float
    step: float
    note: str = ""  # said on stderr when the request had to be adjusted

    def phase(self, n: int) -> float:
        return self.start + n * self.step

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


def plan_clip(fps: float, loop: float, phase: float, duration: float | None = None,
              loops: int | None = None) -> ClipPlan:
    """The frames of a clip of ``duration`` seconds or ``loops`` whole loops (default 1 loop)."""
    if not (math.isfinite(fps) and fps > 0):
        raise CPPNError(f"--fps must be a positive number, got {fps}")
    step = 1.0 / (fps * loop)  # loops per frame: frame n at time n / fps exactly
    if duration is not None:
        if not (math.isfinite(duration) and duration > 0):
            raise CPPNError(f"--duration must be a positive number of seconds, got {duration}")
        exact = duration * fps
        frames = round(exact)
        if frames < 1:
            raise CPPNError(f"--duration {duration} s is shorter than one frame at {fps:g} fps")
        note = "" if abs(frames - exact) < 1e-6 else (
            f"{duration} s is {exact:.3f} frames at {fps:g} fps: rendering {frames} frames "
            f"({frames / fps:.4f} s)")
        return ClipPlan(frames, fps, phase, step, note)
    loops = 1 if loops is None else loops
    if loops < 1:
        raise CPPNError(f"--loops must be at least 1, got {loops}")
    exact = fps * loops * loop
    frames = round(exact)
    if frames < 1:
        raise CPPNError(f"a {loop} s loop is shorter than one frame at {fps:g} fps")
    if abs(frames - exact) < 1e-6:
        return ClipPlan(frames, fps, phase, step)
    # Not a whole number of frames per loop: a seamless clip needs the loop stretched slightly,
    # so frame `frames` lands exactly on phase + loops. Said, never done silently.
    return ClipPlan(frames, fps, phase, loops / frames, (
        f"{loops} x {loop} s is {exact:.3f} frames at {fps:g} fps: the loop is stretched to "
        f"{frames / fps / loops:.4f} s ({frames} frames) so the clip loops seamlessly"))


def modulated_phases(plan: ClipPlan, modulation: Sequence | None) -> list[float]:
    """The phase of every frame: ``plan.phase(n)``, or with audio the step into frame n scaled
    by frame n's speed factor (as the live app advances after polling the instrument)."""
    if modulation is None:
        return [plan.phase(n) for n in range(plan.frames)]
    phases, phase = [], plan.start
    for n in range(plan.frames):
        if n:
            phase += plan.step * modulation[n].speed_scale
        phases.append(phase)
    return phases


def clip_source(renderer, path, plan: ClipPlan, size: tuple[int, int], view,
                modulation: Sequence | None = None,
                text: Callable[[int, float], str | None] | None = None) -> offline.Draw:
    """Frame n of ``plan`` drawn on ``renderer`` (the network set, ``path(phase)`` gives z):
    its texture and ``text(n, phase)``. ``modulation``: one ``audio.Modulation`` per frame."""
    phases = modulated_phases(plan, modulation)

    def draw(n: int):
        z, at = path(phases[n]), view
        if modulation is not None:
            m = modulation[n]
            z = z + m.z_offset[: z.shape[0]]  # (z_dim,)
            at = replace(view, zoom=view.zoom * m.zoom_scale)
        renderer.set_latent(z)
        tex = renderer.draw(size, at, dtype="f1", display=True)
        return tex, None if text is None else text(n, phases[n])
    return draw


def render_frames(renderer, path, plan: ClipPlan, size: tuple[int, int], view,
                  submit: Callable[[np.ndarray], object] | None,
                  on_frame: Callable[[int], object] | None = None,
                  modulation: Sequence | None = None) -> None:
    """Draw every frame of ``plan`` and hand each, uint8 (H, W, 3), to ``submit`` in order
    (``offline.draw_all``: frame n is drawn while frame n-1 is read back). ``submit=None``
    draws only (for benchmarks); ``on_frame(done)`` is told how many frames were handed on."""
    offline.draw_all(plan.frames, clip_source(renderer, path, plan, size, view, modulation),
                     lambda tex: renderer.read_async(tex, 3),
                     None if submit is None else (lambda frame, _text: submit(frame)), on_frame)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_scene_arguments(p)
    p.add_argument("--size", type=_size, default=(1280, 720), help="WxH (default 1280x720)")
    p.add_argument("--fps", type=codecs.parse_fps, default=30.0,
                   help="frames per second: 30, 29.97 or 30000/1001 (NTSC rates are stored "
                        "exactly) (default 30)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--duration", type=_float, help="clip length in seconds")
    length.add_argument("--loops", type=_int,
                        help="whole loop periods, seamless (the default: 1 loop)")
    p.add_argument("--start", type=_float, default=0.0,
                   help="seconds along the latent loop from the scene's own position (default 0)")
    p.add_argument("--codec", help=f"one of {', '.join(codecs.CODECS)} "
                   "(default from -o: .mp4 h264, .mov prores, a folder png)")
    p.add_argument("-o", "--output", type=Path, default=Path("cppn.mp4"),
                   help="video file, or a folder for a PNG sequence (default cppn.mp4)")
    p.add_argument("--gop", type=codecs.parse_gop, metavar="N",
                   help="H.264 keyframe every N frames (default: every second; 1: all-intra)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    a = p.add_argument_group("audio")
    a.add_argument("--audio", type=Path, metavar="FILE",
                   help="react to this audio file and mux it into the video (the clip is as long "
                        "as the audio unless --duration / --loops say otherwise)")
    a.add_argument("--reactivity", type=_float,
                   help="how strongly the picture follows the audio, 0..2 (default 0.5)")
    a.add_argument("--audio-codec", choices=("aac", "pcm"),
                   help="audio in the video: aac (.mp4 default) or pcm (.mov default)")


def _audio_options(args: argparse.Namespace, codec: codecs.Codec) -> tuple[str | None, object, list[str]]:
    """--audio and the options that need it, checked: (the file or None, its reactivity, notes)."""
    sound = getattr(args, "audio", None)
    notes: list[str] = []
    if sound is None:
        if args.reactivity is not None or args.audio_codec is not None:
            raise CPPNError("--reactivity and --audio-codec need --audio FILE")
        return None, None, notes
    from ..instrument import audio

    if not Path(sound).is_file():
        raise CPPNError(f"no such audio file: {sound}")
    amount = audio.Reactivity().amount if args.reactivity is None else args.reactivity
    reactivity = audio.Reactivity(amount=amount)
    if codec.route == "png":
        notes.append("a PNG sequence carries no audio: the audio only drives the picture")
    else:
        codecs.audio_codec_for(codec, args.audio_codec)
    return sound, reactivity, notes


def run(args: argparse.Namespace) -> int:
    # Everything a user can get wrong is checked before torch loads or a frame is drawn.
    codec = codecs.get_codec(args.codec) if args.codec else codecs.codec_for_path(args.output)
    output = codecs.check_output(codec, args.output)
    size = codecs.check_size(codec, args.size)
    if codec.route == "ffmpeg":
        codecs.ffmpeg_with_hap()
    sound, reactivity, notes = _audio_options(args, codec)
    if sound is not None:
        from ..instrument import audio
    scene = scene_from_args(args)
    if not math.isfinite(args.start):
        raise CPPNError(f"--start must be a finite number of seconds, got {args.start}")
    duration = args.duration
    if sound is not None and duration is None and args.loops is None:
        duration = audio.file_seconds(sound)
        if duration <= 0:
            raise CPPNError(f"{sound} holds no audio")
    plan = plan_clip(args.fps, scene.loop, scene.phase + args.start / scene.loop, duration,
                     args.loops)
    spec = scene_spec(args, scene)
    modulation = None
    if sound is not None:
        modulation = audio.analyse_file(sound, plan.fps, plan.frames, reactivity, spec.z_dim)

    renderer, path = _renderer_for(scene, spec, plan)
    for note in ([plan.note] if plan.note else []) + notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    return _write(args, renderer, path, plan, scene, codec, output, size, sound, modulation)


def _renderer_for(scene, spec, plan: ClipPlan):
    """The renderer with the scene's network, latent path and texture set: (it, the path)."""
    from ..api import default_renderer
    from ..core.animation import LatentPath

    path = LatentPath(scene.path_seed, spec.z_dim)
    renderer = default_renderer()
    texture = None
    if getattr(scene, "texture", None):
        from ..media.images import load_texture

        texture = load_texture(scene.texture)
    renderer.set_texture(texture)  # None: the default grid, whatever an earlier call set
    renderer.set_network(spec, path(plan.phase(0)))
    return renderer, path


def _frame_scene(scene, modulation: Sequence | None) -> Callable[[int, float], str]:
    """Each PNG carries the scene at its own moment: `still --scene frame_000042.png` renders
    that frame again, at any size. An audio-reactive frame keeps its phase and zoom; its latent
    offset has no field."""
    def text(n: int, phase: float) -> str:
        at = replace(scene, phase=phase)
        if modulation is not None:
            at = replace(at, view=replace(at.view, zoom=at.view.zoom * modulation[n].zoom_scale))
        return at.to_json()
    return text


def _write(args: argparse.Namespace, renderer, path, plan: ClipPlan, scene,
           codec: codecs.Codec, output: Path, size: tuple[int, int], sound,
           modulation: Sequence | None) -> int:
    """The clip through the offline loop; Ctrl-C, SIGTERM or SIGHUP finish it as it stands."""
    muxed = sound if sound is not None and codec.route != "png" else None

    def wrote(writer, elapsed: float) -> str:
        return (f"wrote {output}: {plan.frames} frames, {size[0]}x{size[1]}, {plan.fps:g} fps, "
                f"{plan.seconds:.3f} s, {codec.title}"
                + (f" + {writer.audio_codec} audio" if muxed is not None else "")
                + f" ({plan.frames / elapsed:.1f} frames/s)")

    return offline.write_clip(
        lambda: writers.open_writer(output, codec, size, plan.fps, muxed,
                                    getattr(args, "audio_codec", None),
                                    gop=getattr(args, "gop", None)),
        plan.frames,
        clip_source(renderer, path, plan, size, scene.view, modulation,
                    _frame_scene(scene, modulation) if codec.route == "png" else None),
        lambda tex: renderer.read_async(tex, 3), output=output, fps=plan.fps, prog=PROG,
        progress=not args.no_progress, wrote=wrote)
