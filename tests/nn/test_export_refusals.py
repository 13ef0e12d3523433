"""from_torch refuses what it cannot carry across exactly: activation parameters the shader does
not have, and activation subclasses that compute something else."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.nn.export import from_torch


def test_softplus_with_another_beta_or_threshold_is_refused_not_dropped():
    for act in (nn.Softplus(beta=5), nn.Softplus(threshold=5)):
        with pytest.raises(CPPNError, match="Softplus"):
            from_torch(nn.Sequential(nn.Linear(2, 4), act, nn.Linear(4, 3)))
    spec = from_torch(nn.Sequential(nn.Linear(2, 4), nn.Softplus(), nn.Linear(4, 3)))
    assert spec.layers[0].activation == "softplus"


def test_an_activation_subclass_is_accepted_when_it_is_the_activation():
    class MyTanh(nn.Tanh):
        pass

    class Doubled(nn.Tanh):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 2 * torch.tanh(x)

    spec = from_torch(nn.Sequential(nn.Linear(2, 4), MyTanh(), nn.Linear(4, 3)))
    assert spec.layers[0].activation == "tanh"
    with pytest.raises(CPPNError, match="Doubled subclasses Tanh"):
        from_torch(nn.Sequential(nn.Linear(2, 4), Doubled(), nn.Linear(4, 3)))
