"""PNG output and input with the scene in the metadata (Pillow), and textures read safely.

PNGs are written whole or not at all (``safeio``). The scene is read back from the PNG's chunks
before its pixels, by a small reader of its own that stops at the first image data and bounds
every text chunk, so a hostile PNG (huge or compressed text, a bomb of pixels) is one CPPNError.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from ..core.errors import CPPNError
from ..core.safeio import check_name, open_regular, write_atomic
from ..core.scene import PNG_KEY, Scene

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_SCENE_TEXT = 1 << 20  # bytes of scene JSON in a PNG; a real scene is a few kilobytes
MAX_TEXTURE_PIXELS = 8192 * 8192  # refuse larger images before decoding them
MAX_IMAGE_BYTES = 1 << 30  # no image file this tool reads is larger


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """Float (H, W, C) in [0, 1] -> uint8 RGB (H, W, 3); one channel becomes grey."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        frame = (np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if frame.shape[-1] == 1:
        frame = np.repeat(frame, 3, axis=-1)
    elif frame.shape[-1] == 2:
        frame = np.concatenate([frame, np.full_like(frame[..., :1], 128)], axis=-1)
    return np.ascontiguousarray(frame[..., :3])


def check_png_output(path: str | Path, flag: str = "-o") -> Path:
    """An output path for a PNG: ends in .png, every name within the OS limit. Checked before
    anything is rendered, so a wrong name costs nothing."""
    path = check_name(path)
    if path.suffix.lower() != ".png":
        raise CPPNError(f"{flag} writes a PNG: the name must end in .png, got {path.name!r}")
    return path


def save_png(path: str | Path, frame: np.ndarray, scene: Scene | None = None) -> Path:
    """Write an RGB PNG whole or not at all; with ``scene``, its JSON goes into a text chunk
    (before the image data, where :func:`read_scene` looks)."""
    path = Path(path)
    info = PngImagePlugin.PngInfo()
    if scene is not None:
        info.add_text(PNG_KEY, scene.to_json())
    image = Image.fromarray(to_uint8(frame), "RGB")
    return write_atomic(path, lambda f: image.save(f, format="PNG", pnginfo=info))


def read_scene(path: str | Path) -> Scene:
    """The scene stored in a PNG this tool wrote."""
    return read_png_scene(path)[0]


def read_png_scene(path: str | Path) -> tuple[Scene, tuple[int, int]]:
    """The scene stored in a PNG this tool wrote, and the PNG's size (width, height), read from
    the chunks before the image data without decoding a pixel."""
    path = Path(path)
    with open_regular(path, "file") as f:
        try:
            size, text = _scene_chunk(f)
        except (struct.error, zlib.error, UnicodeDecodeError, ValueError) as exc:
            raise CPPNError(f"cannot read {path} as a PNG: {exc}") from None
    if size is None:
        raise CPPNError(f"cannot read {path} as a PNG: no image header")
    if text is None:
        raise CPPNError(f"{path} holds no realtime-cppn scene")
    try:
        return Scene.from_json(text), size
    except CPPNError as exc:
        raise CPPNError(f"{path}: {exc}") from None


def _scene_chunk(f) -> tuple[tuple[int, int] | None, str | None]:
    """(size from IHDR, the scene text) of a PNG stream; chunks are skipped, never buffered."""
    if f.read(8) != PNG_MAGIC:
        raise ValueError("not a PNG file")
    size = None
    while True:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError("the file ends before its image data")
        length, kind = struct.unpack(">I4s", head)
        if kind in (b"IDAT", b"IEND"):
            return size, None
        if kind == b"IHDR":
            if length != 13:
                raise ValueError("its header chunk is malformed")
            size = struct.unpack(">II", f.read(8))
            f.seek(13 - 8 + 4, io.SEEK_CUR)
            continue
        if kind not in (b"tEXt", b"zTXt", b"iTXt") or length > MAX_SCENE_TEXT + 1024:
            f.seek(length + 4, io.SEEK_CUR)  # data and CRC: another chunk, or text far too big
            continue
        data = f.read(length)
        f.seek(4, io.SEEK_CUR)
        key, _, body = data.partition(b"\0")
        if key == PNG_KEY.encode():
            return size, _chunk_text(kind, body)


def _chunk_text(kind: bytes, body: bytes) -> str:
    """The text of a tEXt / zTXt / iTXt chunk body (after its keyword), decompressed to at most
    MAX_SCENE_TEXT bytes."""
    if kind == b"tEXt":
        return body.decode("latin-1")
    if kind == b"zTXt":
        return _inflate(body[1:]).decode("latin-1")
    compressed, body = body[:1] == b"\1", body[2:]
    _lang, _, body = body.partition(b"\0")
    _translated, _, body = body.partition(b"\0")
    return (_inflate(body) if compressed else body).decode("utf-8")


def _inflate(data: bytes) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(data, MAX_SCENE_TEXT + 1)
    if len(out) > MAX_SCENE_TEXT:
        raise ValueError(f"its scene text is over {MAX_SCENE_TEXT:,} bytes")
    return out


def load_texture(path: str | Path, what: str = "texture") -> np.ndarray:
    """An image for uv remapping (or to fit) as uint8 (H, W, 4), top row first. Alpha is kept,
    16-bit and palette images are converted to 8-bit RGBA; images above 8192x8192 are refused
    before they are decoded."""
    path = Path(path)
    with open_regular(path, f"{what} file") as f:
        try:
            return _decode(f, path, what)
        except CPPNError:
            raise
        except Exception as exc:  # noqa: BLE001 (Pillow's decoders raise any type on a bad file)
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CPPNError(f"cannot read {what} {path}: {why}") from None


def _decode(f, path: Path, what: str) -> np.ndarray:
    if os.fstat(f.fileno()).st_size > MAX_IMAGE_BYTES:
        raise CPPNError(f"{what} {path} is over {MAX_IMAGE_BYTES >> 20} MiB")
    with warnings.catch_warnings():
        # Pillow's warnings about a damaged file are noise on a show's console; the pixel-count
        # warning between its own limits is an error here like any other.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return _pixels(Image.open(f), path, what)


def _pixels(im: Image.Image, path: Path, what: str) -> np.ndarray:
    with im:
        w, h = im.size
        if w * h > MAX_TEXTURE_PIXELS:
            raise CPPNError(f"{what} {path} is {w}x{h}; the limit is 8192x8192 pixels")
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            # 16-bit grey: Pillow's RGBA conversion clips instead of scaling; scale by hand.
            grey = np.asarray(im, dtype=np.uint32)
            grey = (grey >> 8).astype(np.uint8) if grey.max() > 255 else grey.astype(np.uint8)
            return np.dstack([grey, grey, grey, np.full_like(grey, 255)])
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint8)
        if rgba.ndim != 3 or rgba.shape[:2] != (h, w):
            raise CPPNError(f"cannot read {what} {path}: it decodes to {rgba.shape}")
        return rgba.copy()
