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


# sin, cos and tan reduce their argument to one period around 0 first, the same way on all three
# sides: x - k * P with k = round(x / P) and P split in two (Cody-Waite), its first part with few
# enough bits that k * P1 is exact. Some GPUs evaluate sin as a multiply by 1/(2 pi) and a
# hardware sine with no reduction of their own, so pre-activations of 1e3 and more (after relu,
# identity, softplus or abs layers) would otherwise draw a different picture on every vendor.
_TAU_1, _TAU_2, _INV_TAU = 6.28125, 0.0019353071795864769, 0.15915494309189535
_PI_1, _PI_2, _INV_PI = 3.140625, 0.0009676535897932384, 0.3183098861837907


def _reduce_glsl(inv: float, p1: float, p2: float) -> str:
    return (f"vec4 k = floor(x * {inv!r} + 0.5); vec4 t = (x - k * {p1!r}) - k * {p2!r};")


def _reduce_torch(x: Any, inv: float, p1: float, p2: float) -> Any:
    k = (x * inv + 0.5).floor()
    return (x - k * p1) - k * p2


def _reduce_numpy(x: np.ndarray, inv: float, p1: float, p2: float) -> np.ndarray:
    k = np.floor(x * np.float32(inv) + np.float32(0.5))
    x -= k * np.float32(p1)
    k *= np.float32(p2)
    x -= k
    return x


def _periodic(name: str, period: tuple[float, float, float], discontinuous: bool = False):
    inv, p1, p2 = period
    np_fn = getattr(np, name)
    return Activation(
        name,
        lambda x: getattr(_reduce_torch(x, inv, p1, p2), name)(),
        f"{_reduce_glsl(inv, p1, p2)} return {name}(t);",
        lambda x: np_fn(_reduce_numpy(x, inv, p1, p2), out=x),
        discontinuous=discontinuous,
    )


_TAU = (_INV_TAU, _TAU_1, _TAU_2)
_PI = (_INV_PI, _PI_1, _PI_2)


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
    _periodic("sin", _TAU),
    _periodic("cos", _TAU),
    _periodic("tan", _PI, discontinuous=True),
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
