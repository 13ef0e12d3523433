"""argparse value types: numbers, sizes, activation lists and symmetries, each error one line.

Plain: lower layers (the instrument's options, the window's) use them without importing the cli.
"""

from __future__ import annotations

import argparse

from . import activations, spec
from .errors import CPPNError


def checked(fn):
    """argparse shows an ArgumentTypeError's own text; any other error becomes 'invalid value'."""

    def conv(text: str):
        try:
            return fn(text)
        except CPPNError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    conv.__name__ = fn.__name__
    return conv


@checked
def activation_list(text: str) -> str | tuple[str, ...]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    for n in names:
        activations.get(n)
    if not names:
        raise CPPNError("--activation needs a name")
    return names[0] if len(names) == 1 else tuple(names)


@checked
def symmetry(text: str) -> str:
    spec.View(symmetry=text)
    return text


@checked
def size(text: str) -> tuple[int, int]:
    return spec.parse_size(text)


def typed(fn, what: str):
    def conv(text: str):
        try:
            return fn(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{what} expected, got {text!r}") from None

    conv.__name__ = what
    return conv


integer = typed(int, "an integer")
number = typed(float, "a number")
