"""Overlay text (help, info, the REC badge) rendered to an RGBA image with Pillow. Plain: no GL,
no window.

Text is white with a dark outline on a translucent dark panel, so it reads on any background.
The window uploads the image to a texture and blends it over the frame; only the screen sees it
(screenshots and recordings do not). Panels stack at the top left, the REC badge sits at the top
right; ``compose`` puts both into the one image the window uploads. ``fitted`` lays a long
panel (the key help) out to fit a window: more columns, then a smaller font, then descriptions
without their parenthesised details.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_FONTS = (  # a monospace face keeps the columns straight; Pillow's own font is the fallback
    "DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "Menlo.ttc",
    "consola.ttf",
    "LiberationMono-Regular.ttf",
)
PANEL = (0, 0, 0, 170)  # translucent black: dims the picture under the text
TEXT = (255, 255, 255, 255)
HEADING = (255, 210, 90, 255)
REC = (220, 30, 30, 255)
BUSY = (255, 176, 32, 255)  # the badge's dot while a network compiles (not recording)
SCALE = (90, 170, 255, 255)  # the badge's dot for a note: a reduced render scale, a dead network


@functools.lru_cache(maxsize=16)
def font(size: int = 14) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    f = _load_font(size)
    # The first text layout loads the shaper (~60 ms here): pay it now, not on the frame that
    # first shows a badge mid-show.
    ImageDraw.Draw(Image.new("RGBA", (1, 1))).textlength("REC 0:00", font=f)
    return f


def _load_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in _FONTS:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1 has only the bitmap font
        return ImageFont.load_default()


def panel(rows: Sequence[tuple[str, str]], title: str = "", size: int = 14,
          pad: int | None = None) -> np.ndarray:
    """A two-column text panel: (H, W, 4) uint8 RGBA, top row first."""
    f = font(size)
    pad = pad if pad is not None else max(4, size // 2)
    line = int(size * 1.35)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))

    def width(text: str) -> int:
        return int(np.ceil(probe.textlength(text, font=f))) if text else 0

    key_w = max((width(k) for k, _ in rows), default=0)
    gap = width("  ") if key_w else 0
    body_w = max((key_w + gap + width(d) for _, d in rows), default=0)
    w = max(body_w, width(title)) + 2 * pad + 2
    h = (len(rows) + bool(title)) * line + 2 * pad
    img = Image.new("RGBA", (max(w, 1), max(h, 1)), PANEL)
    draw = ImageDraw.Draw(img)
    y = pad
    if title:
        draw.text((pad, y), title, font=f, fill=HEADING, stroke_width=1, stroke_fill=(0, 0, 0, 255))
        y += line
    for k, d in rows:
        draw.text((pad, y), k, font=f, fill=HEADING, stroke_width=1, stroke_fill=(0, 0, 0, 255))
        draw.text((pad + key_w + gap, y), d, font=f, fill=TEXT, stroke_width=1,
                  stroke_fill=(0, 0, 0, 255))
        y += line
    return np.asarray(img, dtype=np.uint8)


MIN_FONT = 7  # the smallest size ``fitted`` goes down to (still legible on a 640x360 window)
MAX_COLUMNS = 4
_DETAIL = re.compile(r"\s*\([^)]*\)")


def brief(text: str) -> str:
    """A description without its parenthesised details: 'recall a bank slot (morphs ...)' ->
    'recall a bank slot'."""
    return _DETAIL.sub("", text).strip() or text


def columns(rows: Sequence[tuple[str, str]], title: str = "", size: int = 14,
            n: int = 1) -> np.ndarray:
    """``panel`` with its rows in ``n`` columns side by side (top to bottom, then the next
    column), one title above them all: (H, W, 4) uint8 RGBA."""
    n = max(1, min(n, len(rows) or 1))
    per = math.ceil(len(rows) / n) if rows else 0
    parts = [panel(rows[i * per:(i + 1) * per], "", size) for i in range(n)]
    head = panel([], title, size) if title else None
    pad = max(4, size // 2)
    line = int(size * 1.35)
    w = sum(p.shape[1] for p in parts)
    h = max(p.shape[0] for p in parts) + (line if head is not None else 0)
    out = np.zeros((h, max(w, head.shape[1] if head is not None else 0), 4), np.uint8)
    out[:] = PANEL
    top = 0
    if head is not None:
        out[:line + pad, :head.shape[1]] = head[:line + pad]
        top = line
    x = 0
    for p in parts:
        out[top:top + p.shape[0], x:x + p.shape[1]] = p
        x += p.shape[1]
    return out


def _widths(rows: Sequence[tuple[str, str]], size: int) -> list[tuple[float, float]]:
    """Each row's (key, description) text width at ``size``."""
    f = font(size)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    return [(probe.textlength(k, font=f), probe.textlength(d, font=f)) for k, d in rows]


def _extent(widths: list[tuple[float, float]], title_w: float, size: int,
            n: int) -> tuple[int, int]:
    """The (width, height) ``columns`` would have, from the rows' text widths."""
    pad, line = max(4, size // 2), int(size * 1.35)
    per = math.ceil(len(widths) / n) if widths else 0
    gap = size * 0.6 * 2  # two spaces of a monospace face, as panel() leaves
    w = 0
    for i in range(n):
        chunk = widths[i * per:(i + 1) * per]
        key_w = max((k for k, _ in chunk), default=0.0)
        w += int(np.ceil(max((key_w + gap + d for _, d in chunk), default=0.0))) + 2 * pad + 2
    return max(w, int(np.ceil(title_w)) + 2 * pad + 2), (per + 1) * line + 2 * pad


def fitted(rows: Sequence[tuple[str, str]], title: str, size: int,
           box: tuple[int, int]) -> np.ndarray:
    """The rows as a panel no larger than ``box`` (width, height) where any layout fits: the
    largest font first, at each size full descriptions before brief ones, fewer columns before
    more. Where none fits (a tiny window), the smallest layout, cropped by ``fit`` later."""
    rows = list(rows)
    short = [(k, brief(d)) for k, d in rows]
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    for s in range(size, MIN_FONT - 1, -1):
        title_w = probe.textlength(title, font=font(s))
        for variant in (rows, short):
            widths = _widths(variant, s)
            for n in range(1, MAX_COLUMNS + 1):
                w, h = _extent(widths, title_w, s, n)
                if w <= box[0] and h <= box[1]:
                    return columns(variant, title, s, n)
    widths = _widths(short, MIN_FONT)
    n = next((n for n in range(1, MAX_COLUMNS + 1)
              if _extent(widths, 0.0, MIN_FONT, n)[1] <= box[1]), MAX_COLUMNS)
    return columns(short, title, MIN_FONT, n)


def stack(images: Sequence[np.ndarray], gap: int = 8) -> np.ndarray | None:
    """Panels one under another (transparent between): (H, W, 4) uint8, or None for none."""
    images = [im for im in images if im is not None and im.size]
    if not images:
        return None
    w = max(im.shape[1] for im in images)
    h = sum(im.shape[0] for im in images) + gap * (len(images) - 1)
    out = np.zeros((h, w, 4), np.uint8)
    y = 0
    for im in images:
        out[y:y + im.shape[0], :im.shape[1]] = im
        y += im.shape[0] + gap
    return out


def fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Crop an overlay to a (width, height) window so it never overflows the viewport."""
    w, h = size
    return np.ascontiguousarray(image[:max(h, 1), :max(w, 1)])


def badge(text: str, size: int = 14, dot: tuple[int, int, int, int] = REC) -> np.ndarray:
    """A corner badge: a dot (red: recording) and ``text`` on a dark panel, (H, W, 4) uint8."""
    f = font(size)
    pad = max(4, size // 2)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    text_w = int(np.ceil(probe.textlength(text, font=f)))
    line = int(size * 1.35)
    d = int(size * 0.8)
    w, h = pad + d + pad + text_w + pad, line + 2 * pad
    img = Image.new("RGBA", (w, h), PANEL)
    draw = ImageDraw.Draw(img)
    top = pad + (line - d) // 2
    draw.ellipse((pad, top, pad + d, top + d), fill=dot)
    draw.text((pad + d + pad, pad), text, font=f, fill=TEXT, stroke_width=1,
              stroke_fill=(0, 0, 0, 255))
    return np.asarray(img, dtype=np.uint8)


def compose(left: np.ndarray | None, right: np.ndarray | None, width: int,
            margin: int = 8) -> np.ndarray | None:
    """``left`` at the top left and ``right`` at the top right of a transparent image ``width``
    wide (the window's): one upload shows both. None when there is nothing to show."""
    if right is None:
        return left
    width = max(width, right.shape[1] + margin)
    h = max(right.shape[0] + margin, 0 if left is None else left.shape[0])
    out = np.zeros((h, width, 4), np.uint8)
    if left is not None:
        lw = min(left.shape[1], width)
        out[:left.shape[0], :lw] = left[:, :lw]
    x = width - right.shape[1] - margin
    out[margin:margin + right.shape[0], x:x + right.shape[1]] = right
    return out
