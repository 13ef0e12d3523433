"""Fitting a CPPN to an image (the seed's super-sampling), in torch on the CPU.

The network learns colour = f(x, y) on the image's own pixel grid (``coords``), with Adam and the
seed's binary cross-entropy loss; batch norm is optional and folds away on export. Optional
Fourier features help it reach detail: they are a fixed first layer ``sin(2 pi B p + phase)``
with random B, so the shader evaluates them like any other layer (nothing new in the GLSL).
Afterwards the network is resolution-free: render it at any size and zoom past the pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..core.errors import CPPNError
from ..core.spec import NetworkSpec, coords
from .export import from_torch
from .model import Act


@dataclass(frozen=True)
class FitConfig:
    width: int = 64
    depth: int = 6
    activation: str = "tanh"
    fourier: int = 0  # Fourier feature pairs (0 = plain x, y, r inputs)
    fourier_sigma: float = 3.0  # frequency spread of B, in cycles per unit
    batch_norm: bool = False
    steps: int = 500
    lr: float = 3e-3
    seed: int = 0
    scale: float = 1.0


def _fourier_layer(n: int, sigma: float, fan_in: int, gen: torch.Generator) -> nn.Linear:
    """sin(2 pi B p) and cos(2 pi B p) as one Linear + sin: phases 0 and pi/2."""
    b = torch.normal(0.0, sigma, (n, fan_in), generator=gen)
    layer = nn.Linear(fan_in, 2 * n)
    with torch.no_grad():
        layer.weight.copy_(2 * math.pi * torch.cat([b, b]))
        layer.bias.copy_(torch.cat([torch.zeros(n), torch.full((n,), math.pi / 2)]))
    layer.requires_grad_(False)  # fixed features, as in Tancik et al. 2020
    return layer


def build(cfg: FitConfig, inputs: tuple[str, ...], channels: int) -> nn.Sequential:
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    layers: list[nn.Module] = []
    fan_in = len(inputs)
    if cfg.fourier:
        layers += [_fourier_layer(cfg.fourier, cfg.fourier_sigma, fan_in, gen), Act("sin")]
        fan_in = 2 * cfg.fourier
    for _ in range(cfg.depth):
        layers += [nn.Linear(fan_in, cfg.width), Act(cfg.activation)]
        if cfg.batch_norm:
            layers.append(nn.BatchNorm1d(cfg.width))
        fan_in = cfg.width
    layers += [nn.Linear(fan_in, channels), nn.Sigmoid()]
    return nn.Sequential(*layers)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(1.0 / mse)


def fit(
    image: np.ndarray,
    cfg: FitConfig = FitConfig(),
    inputs: tuple[str, ...] = ("x", "y", "r"),
    on_step: Callable[[int, float, nn.Module], bool | None] | None = None,
) -> tuple[NetworkSpec, list[float]]:
    """Train on ``image`` (H, W, C) in [0, 1]; returns the exported spec and the loss history.

    ``on_step(step, loss, model)`` is called every step (for progress bars and the live view);
    returning True stops early.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise CPPNError("fit needs an (H, W, 1) or (H, W, 3) image")
    h, w, channels = image.shape
    if cfg.steps < 1 or cfg.width < 1 or cfg.depth < 1:
        raise CPPNError("steps, width and depth must be at least 1")
    feats = torch.from_numpy(coords((w, h), inputs, cfg.scale)).float().reshape(-1, len(inputs))
    target = torch.from_numpy(image.reshape(-1, channels))
    model = build(cfg, inputs, channels)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    loss_fn = nn.BCELoss()  # the seed's loss
    history: list[float] = []
    model.train()
    for step in range(cfg.steps):
        opt.zero_grad()
        loss = loss_fn(model(feats), target)
        loss.backward()
        opt.step()
        history.append(loss.item())
        if on_step is not None and on_step(step, history[-1], model):
            break
    model.eval()
    return from_torch(model, inputs=inputs, scale=cfg.scale), history
