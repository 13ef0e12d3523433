"""The activation registry: each activation's torch function, numpy function and GLSL code, side by side.

The torch side is written with tensor methods only, so this module imports no torch and the
GLSL generator can use the registry without it. The numpy side serves the CPU path (cpu.py): it
works in place on a float32 array, because the CPU path's time is memory traffic. The GLSL side
is the body of a ``vec4 act_<name>(vec4 x)`` function. All three must compute the same function,
and the parity tests check that they do for every entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import CPPNError


@dataclass(frozen=True)
class Activation:
    name: str
    torch: Callable[[Any], Any]  # tensor -> tensor, tensor methods only
    glsl: str  # body of vec4 act_<name>(vec4 x)
    numpy: Callable[[np.ndarray], np.ndarray]  # float32 array -> the same array, overwritten
    # Points where the function jumps (tests skip pixels whose pre-activation lies this close).
    discontinuous: bool = False


# GLSL's built-in tanh overflows to NaN for large |x| on some drivers (exp(2x) = inf), and ISF
# hosts on GLSL 1.x have none: every activation that needs tanh uses this stable form.
_TANH = "vec4 e = exp(-2.0 * abs(x)); return sign(x) * (1.0 - e) / (1.0 + e);"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # (1 + tanh(x/2)) / 2, as the GLSL side: no exp to overflow.
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


def _gaussian(x: np.ndarray) -> np.ndarray:
    np.square(x, out=x)
    np.negative(x, out=x)
    return np.exp(x, out=x)


def _softplus(x: np.ndarray) -> np.ndarray:
    t = np.abs(x)
    np.negative(t, out=t)
    np.exp(t, out=t)
    np.log1p(t, out=t)
    np.maximum(x, 0.0, out=x)
    x += t
    return x


_ACTIVATIONS = (
    Activation("tanh", lambda x: x.tanh(), _TANH, lambda x: np.tanh(x, out=x)),
    # sigmoid(x) = (1 + tanh(x/2)) / 2: never divides by an overflowed exp.
    Activation(
        "sigmoid",
        lambda x: x.sigmoid(),
        "vec4 e = exp(-abs(x)); return 0.5 + 0.5 * sign(x) * (1.0 - e) / (1.0 + e);",
        _sigmoid,
    ),
    Activation("sin", lambda x: x.sin(), "return sin(x);", lambda x: np.sin(x, out=x)),
    Activation("cos", lambda x: x.cos(), "return cos(x);", lambda x: np.cos(x, out=x)),
    Activation("tan", lambda x: x.tan(), "return tan(x);", lambda x: np.tan(x, out=x),
               discontinuous=True),
    Activation("sign", lambda x: x.sign(), "return sign(x);", lambda x: np.sign(x, out=x),
               discontinuous=True),
    Activation("relu", lambda x: x.relu(), "return max(x, 0.0);",
               lambda x: np.maximum(x, 0.0, out=x)),
    Activation("abs", lambda x: x.abs(), "return abs(x);", lambda x: np.abs(x, out=x)),
    Activation("gaussian", lambda x: (-x * x).exp(), "return exp(-x * x);", _gaussian),
    Activation(
        "softplus",
        lambda x: x.clamp(min=0) + (-x.abs()).exp().log1p(),
        "return max(x, 0.0) + log(1.0 + exp(-abs(x)));",
        _softplus,
    ),
    Activation("identity", lambda x: x, "return x;", lambda x: x),
)

REGISTRY: dict[str, Activation] = {a.name: a for a in _ACTIVATIONS}
NAMES: tuple[str, ...] = tuple(REGISTRY)


def get(name: str) -> Activation:
    """The activation called ``name``; an unknown name is an error that lists the valid ones."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise CPPNError(
            f"unknown activation {name!r}; valid: {', '.join(NAMES)}"
        ) from None


def glsl_functions(names: list[str] | tuple[str, ...]) -> str:
    """GLSL definitions of ``act_<name>`` for each distinct name, in registry order."""
    wanted = {get(n).name for n in names}
    return "\n".join(
        f"vec4 act_{a.name}(vec4 x) {{ {a.glsl} }}" for a in _ACTIVATIONS if a.name in wanted
    )
