"""PNG output and input with the scene in the metadata (Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from .errors import CPPNError
from .scene import PNG_KEY, Scene


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


def save_png(path: str | Path, frame: np.ndarray, scene: Scene | None = None) -> Path:
    """Write an RGB PNG; with ``scene``, its JSON goes into a text chunk."""
    path = Path(path)
    info = PngImagePlugin.PngInfo()
    if scene is not None:
        info.add_text(PNG_KEY, scene.to_json())
    try:
        Image.fromarray(to_uint8(frame), "RGB").save(path, format="PNG", pnginfo=info)
    except OSError as exc:
        raise CPPNError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def read_scene(path: str | Path) -> Scene:
    """The scene stored in a PNG this tool wrote."""
    try:
        with Image.open(path) as im:
            text = im.text.get(PNG_KEY) if hasattr(im, "text") else None
    except FileNotFoundError:
        raise CPPNError(f"no such file: {path}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise CPPNError(f"cannot read {path} as an image: {exc}") from None
    if text is None:
        raise CPPNError(f"{path} holds no realtime-cppn scene")
    return Scene.from_json(text)


MAX_TEXTURE_PIXELS = 8192 * 8192  # refuse larger images before decoding them


def load_texture(path: str | Path) -> np.ndarray:
    """An image for uv remapping as uint8 (H, W, 4), top row first. Alpha is kept, 16-bit and
    palette images are converted to 8-bit RGBA; images above 8192x8192 are refused."""
    path = Path(path)
    if not path.is_file():
        raise CPPNError(f"no such texture file: {path}")
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > MAX_TEXTURE_PIXELS:
                raise CPPNError(f"texture {path} is {w}x{h}; the limit is 8192x8192 pixels")
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                # 16-bit grey: Pillow's RGBA conversion clips instead of scaling; scale by hand.
                grey = np.asarray(im, dtype=np.uint32)
                grey = (grey >> 8).astype(np.uint8) if grey.max() > 255 else grey.astype(np.uint8)
                return np.dstack([grey, grey, grey, np.full_like(grey, 255)])
            return np.asarray(im.convert("RGBA"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise CPPNError(f"cannot read texture {path}: {exc}") from None
