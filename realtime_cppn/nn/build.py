"""Scene -> NetworkSpec and z: where a plain scene meets torch (weights are drawn by the model)."""

from __future__ import annotations

import numpy as np

from ..core.animation import LatentPath
from ..core.errors import CPPNError
from ..core.scene import Scene, check_network
from ..core.spec import NetworkSpec


def scene_config(scene: Scene):
    """The model config a scene names, checked (a bad value is one CPPNError line)."""
    from .model import CPPNConfig

    net = check_network(scene.network, "network")  # types and ranges before torch sees them
    for key in ("inputs", "activation"):
        if isinstance(net.get(key), list):
            net[key] = tuple(net[key])
    try:
        config = CPPNConfig(**net)
    except TypeError as exc:
        raise CPPNError(f"unknown network setting in scene: {exc}") from None
    config.validate()
    return config


def scene_network(scene: Scene) -> NetworkSpec:
    from .export import to_spec
    from .model import CPPN

    return to_spec(CPPN(scene_config(scene)))


def scene_z(scene: Scene, spec: NetworkSpec) -> np.ndarray:
    return LatentPath(scene.path_seed, spec.z_dim)(scene.phase)
