"""The CPPN as a torch.nn.Module: random N(0, sigma) weights, any width and depth.

Reads top to bottom: a config dataclass, the module, and its forward pass on an explicit input
grid (``realtime_cppn.coords``). The shader evaluates exactly this function; ``export.to_spec``
carries its weights across.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..core import activations
from ..core.errors import CPPNError
from ..core.spec import INPUTS, MAX_Z, OUTPUT_CHANNELS

MAX_WIDTH = 1024  # beyond this a per-pixel MLP is not a real-time network on any GPU
MAX_DEPTH = 64


@dataclass(frozen=True)
class CPPNConfig:
    width: int = 32  # hardmaru's cppn-tensorflow net_size
    depth: int = 4  # hidden layers of `width` units; enough for rich art, cheap enough for 60 fps
    activation: str | tuple[str, ...] = "tanh"  # one name for every hidden layer, or one per layer
    inputs: tuple[str, ...] = ("x", "y", "r")
    z_dim: int = 8
    out_channels: int = 3  # 3 rgb, 1 mono, 2 uv (texture remap)
    output_activation: str = "sigmoid"  # maps to (0, 1) as in the seed
    sigma: float = 1.0  # N(0, 1) weights and biases, as in the seed
    scale: float = 2.0  # coordinate zoom: the network sees [-scale, scale] on the short side
    seed: int = 0
    extra: dict = field(default_factory=dict, compare=False)

    def hidden_activations(self) -> tuple[str, ...]:
        if not isinstance(self.activation, (str, list, tuple)):
            raise CPPNError(f"activation must be a name or a list of names, got {self.activation!r}")
        acts = (self.activation,) * self.depth if isinstance(self.activation, str) else tuple(
            self.activation
        )
        if len(acts) != self.depth:
            raise CPPNError(f"{len(acts)} activations given for {self.depth} hidden layers")
        return acts

    def validate(self) -> None:
        if not isinstance(self.width, int) or not 1 <= self.width <= MAX_WIDTH:
            raise CPPNError(f"width must be an integer in 1..{MAX_WIDTH}, got {self.width!r}")
        if not isinstance(self.depth, int) or not 1 <= self.depth <= MAX_DEPTH:
            raise CPPNError(f"depth must be an integer in 1..{MAX_DEPTH}, got {self.depth!r}")
        for name in (*self.hidden_activations(), self.output_activation):
            activations.get(name)
        if (not isinstance(self.inputs, (list, tuple)) or not self.inputs
                or any(i not in INPUTS for i in self.inputs)):
            raise CPPNError(f"inputs must be chosen from {', '.join(INPUTS)}, got {self.inputs!r}")
        if not isinstance(self.z_dim, int) or not 0 <= self.z_dim <= MAX_Z:
            raise CPPNError(f"z size must be an integer in 0..{MAX_Z}, got {self.z_dim!r}")
        if self.out_channels not in OUTPUT_CHANNELS:
            raise CPPNError(f"output channels must be 1, 2 or 3, got {self.out_channels!r}")
        for name in ("sigma", "scale"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
                raise CPPNError(f"{name} must be a positive number, got {v!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        d["inputs"] = list(self.inputs)
        if not isinstance(self.activation, str):
            d["activation"] = list(self.activation)
        return d


class Act(nn.Module):
    """A registry activation as a module, so a CPPN is a plain nn.Sequential underneath."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = activations.get(name).name
        self.fn = activations.get(name).torch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


class CPPN(nn.Module):
    """features (..., len(inputs)) and z (z_dim,) -> outputs (..., out_channels).

    Hidden Linear layers of ``width`` units, ``depth`` of them, each followed by its activation,
    then an output Linear and the output activation; weights and biases drawn from N(0, sigma) by
    ``seed`` (``reseed`` draws them again).

    Args:
        config: the network settings; the defaults when omitted.
        **overrides: fields of ``CPPNConfig`` that replace the config's (``width=16``).

    Raises:
        CPPNError: a setting out of range or an unknown activation or input name.
    """

    def __init__(self, config: CPPNConfig | None = None, **overrides) -> None:
        super().__init__()
        config = config or CPPNConfig()
        if overrides:
            config = CPPNConfig(**{**config.to_dict(), **overrides})
        if isinstance(config.activation, list):
            config = CPPNConfig(**{**config.to_dict(), "activation": tuple(config.activation)})
        if isinstance(config.inputs, list):
            config = CPPNConfig(**{**config.to_dict(), "inputs": tuple(config.inputs)})
        config.validate()
        self.config = config
        sizes = [len(config.inputs) + config.z_dim] + [config.width] * config.depth
        layers: list[nn.Module] = []
        for fan_in, fan_out, act in zip(sizes, sizes[1:], config.hidden_activations()):
            layers += [nn.Linear(fan_in, fan_out), Act(act)]
        layers += [nn.Linear(sizes[-1], config.out_channels), Act(config.output_activation)]
        self.net = nn.Sequential(*layers)
        self.reseed(config.seed)

    def reseed(self, seed: int) -> None:
        """Draw every weight and bias from N(0, sigma) with a CPU generator: the same seed gives
        the same network on every machine."""
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.normal(0.0, self.config.sigma, p.shape, generator=gen))

    def forward(self, features: torch.Tensor, z: torch.Tensor | Sequence[float] | None = None):
        z_dim = self.config.z_dim
        if z_dim:
            z = torch.zeros(z_dim) if z is None else torch.as_tensor(z)
            z = z.to(features.dtype).reshape(-1)
            if z.shape[0] != z_dim:
                raise CPPNError(f"z must have {z_dim} values, got {z.shape[0]}")
            features = torch.cat([features, z.expand(*features.shape[:-1], z_dim)], dim=-1)
        return self.net(features)
