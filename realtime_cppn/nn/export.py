"""torch -> NetworkSpec: our CPPN, or any plain MLP built from nn.Sequential.

Accepted layers: nn.Linear, activation modules the registry knows, nn.BatchNorm1d in eval mode
(folded exactly into a neighbouring Linear), nn.Dropout and nn.Identity (no-ops at inference).
Containers: nn.Sequential, nested, and wrapper modules whose only child is one (the seed's FFN).
"""

from __future__ import annotations

import numpy as np
from torch import nn

from ..core.errors import CPPNError
from ..core.spec import Layer, NetworkSpec
from .model import CPPN, Act

# torch activation modules -> registry names
_TORCH_ACTIVATIONS: dict[type, str] = {
    nn.Tanh: "tanh",
    nn.Sigmoid: "sigmoid",
    nn.ReLU: "relu",
    nn.Softplus: "softplus",
    nn.Identity: "identity",
}


def _activation_name(leaf: nn.Module) -> str:
    """The registry name of a torch activation module, refusing what the name would not say:
    parameters other than the defaults (Softplus beta / threshold) and subclasses that
    compute something else (their own forward)."""
    if isinstance(leaf, Act):
        return leaf.name
    base = next(t for t in _TORCH_ACTIVATIONS if isinstance(leaf, t))
    if type(leaf).forward is not base.forward:
        raise CPPNError(f"{type(leaf).__name__} subclasses {base.__name__} with its own forward: "
                        f"it cannot be exported as {_TORCH_ACTIVATIONS[base]}")
    if isinstance(leaf, nn.Softplus) and (leaf.beta != 1 or leaf.threshold != 20):
        raise CPPNError(f"Softplus(beta={leaf.beta}, threshold={leaf.threshold}) is not "
                        f"supported: the shader's softplus is beta 1 (threshold 20)")
    return _TORCH_ACTIVATIONS[base]


def _flatten(module: nn.Module) -> list[nn.Module]:
    if isinstance(module, nn.Sequential):
        return [leaf for child in module for leaf in _flatten(child)]
    children = list(module.children())
    if isinstance(module, (nn.Linear, nn.BatchNorm1d, nn.Dropout, Act, *_TORCH_ACTIVATIONS)):
        return [module]
    if len(children) == 1:  # a wrapper such as the seed's FFN(nn.Module) with self.net
        return _flatten(children[0])
    raise CPPNError(
        f"unsupported layer {type(module).__name__}: use Linear, BatchNorm1d and activations "
        f"({', '.join(sorted(set(_TORCH_ACTIVATIONS.values()) | {'sin', 'gaussian', '...'}))})"
    )


def _bn_affine(bn: nn.BatchNorm1d) -> tuple[np.ndarray, np.ndarray]:
    """BatchNorm1d in eval mode as y = a * x + c."""
    if bn.training:
        raise CPPNError("BatchNorm1d must be in eval mode (call module.eval()) to be exported")
    if bn.running_mean is None:
        raise CPPNError("BatchNorm1d without running statistics cannot be folded")
    var = bn.running_var.double().numpy()
    mean = bn.running_mean.double().numpy()
    a = 1.0 / np.sqrt(var + bn.eps)
    c = -mean * a
    if bn.affine:
        g, b = bn.weight.detach().double().numpy(), bn.bias.detach().double().numpy()
        a, c = a * g, c * g + b
    return a, c


class _Folder:
    """Linear, BatchNorm1d and activation leaves folded, in order, into dense layers (float64)."""

    def __init__(self) -> None:
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        self.acts: list[str | None] = []
        self.pending: tuple[np.ndarray, np.ndarray] | None = None  # a BatchNorm after an activation

    def linear(self, leaf: nn.Linear) -> None:
        w = leaf.weight.detach().double().numpy().copy()
        b = (leaf.bias.detach().double().numpy().copy() if leaf.bias is not None
             else np.zeros(w.shape[0]))
        if self.pending is not None:  # W (a x + c) + b = (W diag a) x + (W c + b)
            a, c = self.pending
            b = b + w @ c
            w = w * a[None, :]
            self.pending = None
        if self.weights and self.acts[-1] is None:
            self.acts[-1] = "identity"  # two Linears in a row
        self.weights.append(w)
        self.biases.append(b)
        self.acts.append(None)

    def batch_norm(self, leaf: nn.BatchNorm1d) -> None:
        if not self.weights:
            raise CPPNError("a BatchNorm1d before the first Linear is not supported")
        a, c = _bn_affine(leaf)
        if self.acts[-1] is None:  # directly after a Linear: fold into it
            self.weights[-1] = self.weights[-1] * a[:, None]
            self.biases[-1] = self.biases[-1] * a + c
        elif self.pending is None:
            self.pending = (a, c)
        else:
            pa, pc = self.pending
            self.pending = (pa * a, pc * a + c)

    def activation(self, leaf: nn.Module) -> None:
        name = _activation_name(leaf)
        if not self.weights:
            raise CPPNError("an activation before the first Linear is not supported")
        if name == "identity":
            return
        if self.acts[-1] is not None:
            raise CPPNError("two activations in a row are not supported")
        self.acts[-1] = name

    def layers(self) -> tuple[Layer, ...]:
        if not self.weights:
            raise CPPNError("the module has no Linear layer")
        if self.pending is not None:  # a trailing BatchNorm becomes a diagonal layer
            a, c = self.pending
            self.weights.append(np.diag(a))
            self.biases.append(c)
            self.acts.append("identity")
        return tuple(
            Layer(w.astype(np.float32), b.astype(np.float32), a or "identity")
            for w, b, a in zip(self.weights, self.biases, self.acts)
        )


def from_torch(
    module: nn.Module,
    inputs: tuple[str, ...] = ("x", "y"),
    z_dim: int = 0,
    scale: float = 1.0,
) -> NetworkSpec:
    """Export a plain MLP whose first Linear takes ``inputs`` followed by ``z_dim`` latents.

    Batch norms are folded into the neighbouring Linear (or become a diagonal layer), dropout is
    dropped, and anything the shader cannot evaluate exactly is refused.

    Args:
        module: a ``CPPN`` (exported as is) or a torch MLP of Linear, BatchNorm1d, Dropout and
            the registry's activations, nested Sequentials allowed.
        inputs: the coordinate features the first Linear takes, in order (``x``, ``y``, ``r``,
            ``b``).
        z_dim: how many latent inputs follow the coordinates.
        scale: the coordinate scale the network is evaluated at.

    Returns:
        A float32 ``NetworkSpec`` the renderer, the cpu path and the exports all read.

    Raises:
        CPPNError: an unsupported layer or order, or a first Linear whose width does not match
            ``inputs`` and ``z_dim``.
    """
    if isinstance(module, CPPN):
        return to_spec(module)
    fold = _Folder()
    for leaf in _flatten(module):
        if isinstance(leaf, nn.Linear):
            fold.linear(leaf)
        elif isinstance(leaf, nn.BatchNorm1d):
            fold.batch_norm(leaf)
        elif not isinstance(leaf, nn.Dropout):
            fold.activation(leaf)
    layers = fold.layers()
    expected = len(inputs) + z_dim
    if layers[0].weight.shape[1] != expected:
        raise CPPNError(
            f"the first Linear takes {layers[0].weight.shape[1]} inputs but inputs={inputs!r} "
            f"with z_dim={z_dim} gives {expected}"
        )
    return NetworkSpec(inputs=tuple(inputs), z_dim=z_dim, layers=layers, scale=scale)


def to_spec(cppn: CPPN) -> NetworkSpec:
    spec = from_torch(cppn.net, inputs=cppn.config.inputs, z_dim=cppn.config.z_dim,
                      scale=cppn.config.scale)
    return spec


def as_spec(net) -> NetworkSpec:
    """A NetworkSpec from a spec, our CPPN or a plain torch MLP on (x, y)."""
    if isinstance(net, NetworkSpec):
        return net
    if isinstance(net, nn.Module):
        return from_torch(net)
    raise CPPNError(f"expected a NetworkSpec or torch module, got {type(net).__name__}")
