"""realtime-cppn: random CPPN art, defined in PyTorch, evaluated per pixel by a GLSL shader.

The public API is loaded lazily so that importing a plain module (core, show, rendering.codegen)
never pulls in torch, moderngl or glfw.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "CPPN": "nn.model",
    "CPPNConfig": "nn.model",
    "from_torch": "nn.export",
    "to_spec": "nn.export",
    "NetworkSpec": "core.spec",
    "Layer": "core.spec",
    "View": "core.spec",
    "coords": "core.spec",
    "CPPNError": "core.errors",
    "Renderer": "rendering.renderer",
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
