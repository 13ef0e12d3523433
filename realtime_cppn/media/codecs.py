"""The codec table (each codec's container, encoder, size rule and route), frame rates and GOPs.

Which route each codec takes (the README's table is this one):

=============  =========  ==============================  ==========  =====================
codec          file       encoder                         size rule   route
=============  =========  ==============================  ==========  =====================
h264           .mp4       libx264, yuv420p, BT.709         even        PyAV (in-process)
prores         .mov       prores_ks 422 HQ, 10-bit         even        PyAV (in-process)
prores4444     .mov       prores_ks 4444, alpha, 10-bit    even        PyAV (in-process)
hap            .mov       Hap 1 (DXT1)                     4           ffmpeg of imageio-ffmpeg
hap-q          .mov       Hap Q (DXT5-YCoCg)               4           ffmpeg of imageio-ffmpeg
hap-alpha      .mov       Hap Alpha (DXT5)                 4           ffmpeg of imageio-ffmpeg
png            folder/    frame_000000.png, ...            any         Pillow
=============  =========  ==============================  ==========  =====================

PyAV's wheel carries no HAP encoder, so HAP frames go as raw RGBA through a pipe to the ffmpeg
binary bundled with ``imageio-ffmpeg``. An offline clip is written to a hidden temporary name next
to the target and moved into place only when closed, so a failed or refused render never damages
a file that was already there; a temporary left by a killed process (no one holds its lock) is
removed by the next writer in that folder. A live take (``grow=True``) is written under its own,
freshly claimed name from its first frame as a fragmented MP4/MOV (a fragment about every second,
flushed to disk every few seconds), so a take whose process is killed, or whose machine loses
power, is still a playable file of all but its last seconds. ``close()`` always finishes the
container: a clip cut short by Ctrl-C is a playable file of the frames written. H.264 has a
keyframe at least every second (``gop``; 1 is all-intra) and no B-frames, so VJ players scrub and
launch clips anywhere; every frame carries its BT.709 tags. Frames are uint8 (H, W, 3 or 4), top
row first.
An audio file can ride along (``open_writer(..., audio=path)``): AAC in .mp4, 16-bit PCM (or
AAC) in .mov, resampled to 48 kHz and trimmed (or padded with silence) to exactly the frames
written; PNG sequences carry no audio.
Used as context managers, writers keep what was recorded when the block ends by an exception
(a live set cannot be played again) and drop it only when the encoder itself failed.
Plain Python + numpy; PyAV is imported only when a PyAV codec is used.
"""

from __future__ import annotations

import math
import os
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..core.errors import CPPNError

# FFmpeg's enum values for BT.709 tags (AVCOL_PRI/TRC/SPC_BT709) and limited ("MPEG") range.
BT709 = 1
RANGE_MPEG = 1
# Fragmented MP4/MOV for takes: a fragment at the first keyframe after each second, an empty
# moov up front, so the file plays whatever moment the process dies at.
FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof",
              "min_frag_duration": "1000000"}
SYNC_SECONDS = 2.0  # a growing take is flushed to disk after this much video


@dataclass(frozen=True)
class Codec:
    name: str
    title: str
    suffix: str  # "" for a folder of images
    route: str  # "pyav" | "ffmpeg" | "png"
    encoder: str  # FFmpeg encoder name ("" for png)
    pix_fmt: str  # what the encoder is fed after conversion
    multiple: int  # width and height must be multiples of this
    alpha: bool
    options: dict = field(default_factory=dict)
    live_options: dict = field(default_factory=dict)  # overrides for live takes (None: unset)


CODECS: dict[str, Codec] = {
    c.name: c
    for c in (
        # crf 18 is visually lossless for smooth CPPN gradients. Offline, 'fast' spends time
        # on compression; live, 'veryfast' (OBS's default) is ~1.5-4x faster (measured at 1080p
        # and 360p), so the encoder keeps up with the show instead of dropping frames.
        # Live takes skip +faststart: it rewrites the whole file when the take stops (on the
        # render thread: seconds of frozen picture after a long take) and reopens it by name
        # (a take whose folder was deleted could not be finished).
        Codec("h264", "H.264", ".mp4", "pyav", "libx264", "yuv420p", 2, False,
              {"crf": "18", "preset": "fast", "movflags": "+faststart"},
              {"preset": "veryfast", "movflags": None}),
        Codec("prores", "ProRes 422 HQ", ".mov", "pyav", "prores_ks", "yuv422p10le", 2, False,
              {"profile": "3", "vendor": "apl0"}),
        Codec("prores4444", "ProRes 4444", ".mov", "pyav", "prores_ks", "yuva444p10le", 2, True,
              {"profile": "4", "vendor": "apl0"}),
        Codec("hap", "HAP", ".mov", "ffmpeg", "hap", "rgba", 4, False, {"format": "hap"}),
        Codec("hap-q", "HAP Q", ".mov", "ffmpeg", "hap", "rgba", 4, False, {"format": "hap_q"}),
        Codec("hap-alpha", "HAP Alpha", ".mov", "ffmpeg", "hap", "rgba", 4, True,
              {"format": "hap_alpha"}),
        Codec("png", "PNG sequence", "", "png", "", "rgba", 1, True),
    )
}

FRAME_PATTERN = "frame_{:06d}.png"


def get_codec(name: str) -> Codec:
    """The codec called ``name``; an unknown name lists the valid ones."""
    try:
        return CODECS[str(name).lower()]
    except KeyError:
        raise CPPNError(f"unknown codec {name!r}; valid: {', '.join(CODECS)}") from None


def codec_for_path(path: str | Path) -> Codec:
    """The default codec for an output path: .mp4 -> h264, .mov -> prores, no suffix -> png."""
    suffix = Path(path).suffix.lower()
    by_suffix = {".mp4": "h264", ".mov": "prores", "": "png"}
    if suffix not in by_suffix:
        raise CPPNError(
            f"cannot tell the codec from {Path(path).name!r}: use .mp4, .mov or a folder name, "
            f"or pass --codec ({', '.join(CODECS)})"
        )
    return CODECS[by_suffix[suffix]]


def check_size(codec: Codec, size: tuple[int, int]) -> tuple[int, int]:
    """Refuse a size the codec cannot take, naming the nearest sizes it can."""
    w, h = (int(v) for v in size)
    m = codec.multiple
    if w % m == 0 and h % m == 0:
        return w, h
    down, up = fit_size(codec, (w, h)), (-(-w // m) * m, -(-h // m) * m)
    rule = "even width and height" if m == 2 else f"width and height multiples of {m}"
    raise CPPNError(
        f"{codec.title} needs {rule}; {w}x{h} is not "
        f"(use {down[0]}x{down[1]} or {up[0]}x{up[1]})"
    )


def fit_size(codec: Codec, size: tuple[int, int]) -> tuple[int, int]:
    """The largest size the codec takes that fits in ``size`` (for rendering at it: no scaling)."""
    m = codec.multiple
    w, h = (max(m, int(v) // m * m) for v in size)
    return w, h


def check_output(codec: Codec, path: str | Path) -> Path:
    """Refuse an output path the codec cannot write, before anything is rendered."""
    path = Path(path)
    if codec.route == "png":
        if path.suffix.lower() in (".mp4", ".mov"):
            raise CPPNError(f"a PNG sequence goes into a folder, not {path.name!r}")
        if path.exists() and not path.is_dir():
            raise CPPNError(f"{path} exists and is not a folder")
        if path.is_dir():
            stray = [p.name for p in path.iterdir() if not _is_frame_name(p.name)]
            if stray:
                raise CPPNError(
                    f"{path} holds files that are not frames of a sequence ({stray[0]}, ...): "
                    "choose an empty or new folder"
                )
    elif path.suffix.lower() != codec.suffix:
        raise CPPNError(f"{codec.title} is written to a {codec.suffix} file, not {path.name!r}")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise CPPNError(f"output folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CPPNError(f"output folder {parent} is not writable")
    if path.is_dir() and codec.route != "png":
        raise CPPNError(f"{path} is a folder")
    return path


def _is_frame_name(name: str) -> bool:
    return name.startswith("frame_") and name.endswith(".png") and name[6:-4].isdigit()


# The NTSC rates: 29.97 means 30000/1001, as every camera and editor stores it.
_NTSC = tuple(Fraction(base * 1000, 1001) for base in (24, 30, 48, 60, 120, 240))
_NTSC_TOLERANCE = 5e-4  # 29.97 and 23.976 are 3e-5 from the exact rate, 29.96 is 1e-2


def frame_rate(fps: float) -> Fraction:
    """fps as an exact rational time base: 30 -> 30/1, 29.97 -> 30000/1001, 23.976 ->
    24000/1001, 59.94 -> 60000/1001."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float, Fraction)) or \
            not (fps > 0 and math.isfinite(fps)):
        raise CPPNError(f"fps must be a positive number, got {fps}")
    for ntsc in _NTSC:
        if abs(fps - ntsc) < _NTSC_TOLERANCE:
            return ntsc
    rate = Fraction(fps).limit_denominator(1001)
    if abs(float(rate) - fps) > 1e-6 * fps:
        raise CPPNError(f"fps {fps} is not a rate a video file can store")
    return rate


def exact_fps(fps: float) -> float:
    """``fps`` as the float of the rate a file stores (29.97 -> 30000/1001 = 29.97002997...), so
    frame times computed from it are the file's own."""
    return float(frame_rate(fps))


def parse_fps(text: str) -> float:
    """An ``--fps`` value: a number (``29.97``) or a ratio (``30000/1001``); argparse's type."""
    import argparse

    try:
        value = float(Fraction(text.strip()))
        return exact_fps(value)
    except (ValueError, ZeroDivisionError, CPPNError):
        raise argparse.ArgumentTypeError(
            f"a frame rate expected (30, 29.97 or 30000/1001), got {text!r}") from None


def parse_gop(text: str) -> int:
    """A ``--gop`` value: frames between H.264 keyframes, 1 or more; argparse's type."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"a keyframe interval of 1 or more frames expected, got {text!r}")
    return value


def keyframe_interval(rate: Fraction, gop: int | None = None) -> int:
    """Frames between keyframes: ``gop``, or by default the most that fit in one second."""
    if gop is None:
        return max(1, math.floor(rate))
    if isinstance(gop, bool) or not isinstance(gop, int) or gop < 1:
        raise CPPNError(f"the keyframe interval must be 1 or more frames, got {gop!r}")
    return gop


def hap_available() -> str | None:
    """Why HAP cannot be written here, or None when the bundled ffmpeg has the hap encoder."""
    try:
        ffmpeg_with_hap()
    except CPPNError as exc:
        return str(exc)
    return None


_FFMPEG: str | None = None


def ffmpeg_with_hap() -> str:
    """The path of imageio-ffmpeg's ffmpeg, checked once to have the hap encoder."""
    global _FFMPEG
    if _FFMPEG is not None:
        return _FFMPEG
    try:
        import imageio_ffmpeg
    except ImportError:
        raise CPPNError(
            "HAP needs the ffmpeg bundled with imageio-ffmpeg: pip install 'realtime-cppn[video]'"
        ) from None
    try:
        exe = imageio_ffmpeg.get_ffmpeg_exe()
        out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        raise CPPNError(f"cannot run imageio-ffmpeg's ffmpeg: {exc}") from None
    if not any(line.split()[1:2] == ["hap"] for line in out.splitlines() if line.strip()):
        raise CPPNError(f"the ffmpeg at {exe} has no hap encoder")
    _FFMPEG = exe
    return exe



AUDIO_RATE = 48000  # what every muxed audio track is resampled to: the video world's rate
AUDIO_CODECS = {"aac": "aac", "pcm": "pcm_s16le"}


def audio_codec_for(codec: Codec, name: str | None = None) -> str:
    """The audio codec ("aac" or "pcm") muxed beside ``codec``: AAC in .mp4, PCM in .mov."""
    if codec.route == "png":
        raise CPPNError("a PNG sequence carries no audio")
    if name is None:
        return "aac" if codec.suffix == ".mp4" else "pcm"
    if name not in AUDIO_CODECS:
        raise CPPNError(f"unknown audio codec {name!r}; valid: {', '.join(AUDIO_CODECS)}")
    if name == "pcm" and codec.suffix == ".mp4":
        raise CPPNError("PCM audio goes into .mov files; .mp4 takes aac")
    return name
