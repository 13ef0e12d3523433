"""The live window (glfw): placeholder until the live window lands."""

from __future__ import annotations

import argparse

from .errors import CPPNError


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .cli import add_scene_arguments

    add_scene_arguments(p)


def run(args: argparse.Namespace) -> int:
    raise CPPNError("the live window is not built yet; use `realtime-cppn still`")
