"""realtime-cppn: random CPPN art, defined in PyTorch, evaluated per pixel by a GLSL shader.

The public API is loaded lazily so that importing a plain module (spec, glsl, animation, keys)
never pulls in torch, moderngl or glfw.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "CPPN": "model",
    "CPPNConfig": "model",
    "from_torch": "export",
    "to_spec": "export",
    "NetworkSpec": "spec",
    "Layer": "spec",
    "View": "spec",
    "coords": "spec",
    "CPPNError": "errors",
    "Renderer": "renderer",
    "render": "api",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime_cppn' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
