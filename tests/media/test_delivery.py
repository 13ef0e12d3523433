"""What a VJ player needs from a clip, decoded back with PyAV and read with ffprobe: H.264 with
a keyframe at least every second and no B-frames (``--gop N``, 1 = all-intra), ProRes with its
BT.709 tags in every frame header (not only the container), NTSC rates stored exactly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction

import pytest

from realtime_cppn import api
from realtime_cppn.cli import main as cli
from realtime_cppn.media import codecs

av = pytest.importorskip("av")

CLIP = ["--width", "8", "--depth", "2", "--seed", "3", "--loop", "2", "--size", "64x48",
        "--no-progress"]


@pytest.fixture
def render(renderer, monkeypatch, capsys):
    monkeypatch.setattr(api, "_default", renderer)

    def run(*argv: str) -> tuple[int, str, str]:
        status = cli.main(["render", *CLIP, *argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run


def pictures(path) -> tuple[list[str], list[bool], object]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = list(c.decode(s))
        kinds = {1: "I", 2: "P", 3: "B"}  # AVPictureType
        return [kinds.get(int(f.pict_type), "?") for f in frames], \
            [bool(f.key_frame) for f in frames], s


def ffprobe_frames(path) -> list[dict]:
    if not shutil.which("ffprobe"):
        pytest.skip("no ffprobe")
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_frames",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["frames"]


def test_h264_keyframe_every_second_and_no_b_frames(render, tmp_path):
    out = tmp_path / "a.mp4"
    # A slow loop: few scene cuts, so the interval is what places keyframes.
    assert render("--fps", "30", "--duration", "4", "--loop", "60", "-o", str(out))[0] == 0
    types, keys, stream = pictures(out)
    assert len(types) == 120
    key_at = [n for n, k in enumerate(keys) if k] + [120]
    # At most 30 frames apart (x264 may add one at a scene cut).
    assert key_at[0] == 0 and max(b - a for a, b in zip(key_at, key_at[1:])) <= 30, key_at
    assert "B" not in types and stream.codec_context.has_b_frames == 0


def test_h264_at_ntsc_rate_keeps_keyframes_under_a_second(render, tmp_path):
    out = tmp_path / "a.mp4"
    assert render("--fps", "29.97", "--duration", "2", "-o", str(out))[0] == 0
    types, keys, stream = pictures(out)
    assert stream.average_rate == Fraction(30000, 1001)
    key_at = [n for n, k in enumerate(keys) if k] + [len(keys)]
    assert key_at[0] == 0 and max(b - a for a, b in zip(key_at, key_at[1:])) <= 29, key_at


def test_gop_1_is_all_intra(render, tmp_path):
    out = tmp_path / "a.mp4"
    assert render("--fps", "10", "--duration", "2", "--gop", "1", "-o", str(out))[0] == 0
    types, keys, _ = pictures(out)
    assert len(types) == 20 and all(keys) and set(types) == {"I"}


@pytest.mark.parametrize("gop", ["0", "-3", "ten"])
def test_bad_gop_is_one_line(render, tmp_path, gop):
    status, out, err = render("--gop", gop, "-o", str(tmp_path / "a.mp4"))
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "keyframe interval" in err and list(tmp_path.iterdir()) == []


def test_prores_frames_carry_bt709(render, tmp_path):
    out = tmp_path / "a.mov"
    assert render("--fps", "10", "--duration", "0.5", "-o", str(out))[0] == 0
    frames = ffprobe_frames(out)
    assert len(frames) == 5
    for f in frames:
        assert (f.get("color_primaries"), f.get("color_transfer"), f.get("color_space")) == \
            ("bt709", "bt709", "bt709"), f
    with av.open(str(out)) as c:
        for f in c.decode(video=0):
            assert (int(f.color_primaries), int(f.color_trc)) == (1, 1)


@pytest.mark.parametrize(("text", "rate"), [
    ("29.97", Fraction(30000, 1001)), ("30000/1001", Fraction(30000, 1001)),
    ("23.976", Fraction(24000, 1001)), ("59.94", Fraction(60000, 1001)),
    ("24000/1001", Fraction(24000, 1001)), ("25", Fraction(25)), ("12.5", Fraction(25, 2))])
def test_ntsc_rates_are_exact(text, rate):
    assert codecs.frame_rate(codecs.parse_fps(text)) == rate


@pytest.mark.parametrize("text", ["0", "-30", "1/0", "abc", "nan", "inf"])
def test_bad_rates_are_refused(text):
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="frame rate"):
        codecs.parse_fps(text)


def test_render_stores_30000_over_1001(render, tmp_path):
    out = tmp_path / "a.mp4"
    assert render("--fps", "30000/1001", "--duration", "1", "-o", str(out))[0] == 0
    types, _, stream = pictures(out)
    assert stream.average_rate == Fraction(30000, 1001) and len(types) == 30
