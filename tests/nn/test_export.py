"""torch -> NetworkSpec: plain MLPs (the seed's FFN, nested Sequentials, batch norm) render what
torch computes, and every module we cannot export is refused with one clear line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import reference
from torch import nn

from realtime_cppn import CPPNError, from_torch, render
from realtime_cppn.core.spec import coords
from realtime_cppn.nn.export import to_spec
from realtime_cppn.nn.model import CPPN

ATOL = 1e-4


# The seed's model, exactly as the post writes it (dense() with N(0, 1) init; inputs (x, y)).
def dense(i, o, a=nn.Sigmoid):
    l = nn.Linear(i, o)  # noqa: E741 (the seed's name)
    l.weight.data = torch.normal(0, 1, (o, i))
    l.bias.data = torch.normal(0, 1, (o,))
    return [l, a()]


class FFN(nn.Module):
    def __init__(self, width, depth):
        super().__init__()
        self.net = nn.Sequential(*[
            *dense(2, width, nn.Tanh),
            *[l for _ in range(depth - 2) for l in dense(width, width, nn.Tanh)],  # noqa: E741
            *dense(width, 3, nn.Sigmoid),
        ])

    def forward(self, x):
        return self.net(x)


def torch_on_coords(module: nn.Module, size, inputs=("x", "y")) -> np.ndarray:
    """The module itself in float64 on the grid the shader evaluates: (H, W, C)."""
    module = module.double()  # the float32 weights, exactly, in float64
    grid = coords(size, inputs)  # (H, W, n_inputs)
    with torch.no_grad():  # one pixel per row, as the seed feeds it (BatchNorm1d wants (N, C))
        out = module(torch.from_numpy(grid.reshape(-1, grid.shape[-1]))).numpy()
    return out.reshape(*grid.shape[:2], -1)


def assert_renders_like_torch(renderer, module, size=(48, 36), inputs=("x", "y")) -> None:
    spec = from_torch(module, inputs=inputs)
    out = render(spec, size, renderer=renderer)
    assert out.dtype == np.float32 and out.shape == (size[1], size[0], spec.out_channels)
    expected = torch_on_coords(module, size, inputs)
    np.testing.assert_allclose(out, expected, rtol=0, atol=ATOL)


def test_seed_ffn(renderer):
    torch.manual_seed(0)
    model = FFN(width=25, depth=9)  # 25: not a multiple of 4
    spec = from_torch(model, inputs=("x", "y"))
    assert [layer.shape for layer in spec.layers] == [(25, 2)] + [(25, 25)] * 7 + [(3, 25)]
    assert [layer.activation for layer in spec.layers] == ["tanh"] * 8 + ["sigmoid"]
    assert_renders_like_torch(renderer, model, (64, 40))


def test_render_accepts_a_module(renderer):
    torch.manual_seed(1)
    model = FFN(width=6, depth=3)
    out = render(model, (20, 12), renderer=renderer)  # a plain MLP on (x, y)
    np.testing.assert_allclose(out, torch_on_coords(model, (20, 12)), atol=ATOL)


def test_nested_sequential(renderer):
    torch.manual_seed(2)
    model = nn.Sequential(
        nn.Sequential(nn.Linear(3, 7), nn.Tanh()),
        nn.Sequential(nn.Sequential(nn.Linear(7, 5), nn.ReLU()), nn.Dropout(0.5)),
        nn.Linear(5, 1),
        nn.Sigmoid(),
    ).eval()
    assert_renders_like_torch(renderer, model, inputs=("x", "y", "r"))


def _bn(n: int, seed: int) -> nn.BatchNorm1d:
    """A BatchNorm1d with non-trivial running statistics and affine parameters, in eval mode."""
    g = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm1d(n)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(n, generator=g))
        bn.running_var.copy_(torch.rand(n, generator=g) + 0.5)
        bn.weight.copy_(torch.randn(n, generator=g))
        bn.bias.copy_(torch.randn(n, generator=g))
    return bn.eval()


def test_batchnorm_after_linear(renderer):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(2, 9), _bn(9, 0), nn.Tanh(), nn.Linear(9, 3), _bn(3, 1),
                          nn.Sigmoid())
    assert_renders_like_torch(renderer, model)
    assert len(from_torch(model).layers) == 2, "batch norm folds into the Linear before it"


def test_batchnorm_after_activation(renderer):
    # The seed's TensorFlow model: Dense(tanh) then BatchNormalization, layer after layer; one
    # more batch norm after two in a row and a trailing one after the output.
    torch.manual_seed(4)
    model = nn.Sequential(
        nn.Linear(2, 6), nn.Tanh(), _bn(6, 2),
        nn.Linear(6, 6), nn.Tanh(), _bn(6, 3), _bn(6, 4),
        nn.Linear(6, 3), nn.Sigmoid(), _bn(3, 5),
    )
    assert_renders_like_torch(renderer, model)


def test_batchnorm_in_train_mode_is_refused():
    model = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 3))
    with pytest.raises(CPPNError, match="eval mode"):
        from_torch(model)


@pytest.mark.parametrize(
    "layer, name",
    [(nn.Conv1d(4, 4, 1), "Conv1d"), (nn.LSTM(4, 4), "LSTM"), (nn.Softmax(dim=-1), "Softmax")],
)
def test_unsupported_layer_is_refused(layer, name):
    model = nn.Sequential(nn.Linear(2, 4), layer, nn.Linear(4, 3))
    with pytest.raises(CPPNError, match=f"unsupported layer {name}") as info:
        from_torch(model)
    assert "\n" not in str(info.value)


def test_wrong_input_count_is_refused():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3))
    with pytest.raises(CPPNError, match=r"takes 3 inputs but inputs=\('x', 'y'\)"):
        from_torch(model, inputs=("x", "y"))
    from_torch(model, inputs=("x", "y", "r"))  # the right count is accepted


def test_same_seed_same_weights():
    torch.manual_seed(123)  # the global RNG must not matter: weights come from the seed alone
    a = to_spec(CPPN(width=5, depth=3, seed=42))
    torch.manual_seed(456)
    b = to_spec(CPPN(width=5, depth=3, seed=42))
    c = to_spec(CPPN(width=5, depth=3, seed=43))
    for la, lb in zip(a.layers, b.layers):
        assert np.array_equal(la.weight, lb.weight) and np.array_equal(la.bias, lb.bias)
    assert not np.array_equal(a.layers[0].weight, c.layers[0].weight)


def test_seed_pins_weights_across_machines():
    # torch.normal on a CPU generator: these values are what every machine (and every saved
    # scene) gets for seed 7. A change here means old scenes no longer render the same.
    w = to_spec(CPPN(width=4, depth=1, z_dim=0, seed=7)).layers[0].weight
    np.testing.assert_allclose(
        w[0], [-0.1467950940132141, 0.7861412763595581, 0.9468216300010681], rtol=1e-6
    )


@pytest.mark.parametrize("width", [1, 5, 25])
def test_widths_not_multiple_of_4(renderer, width):
    spec = to_spec(CPPN(width=width, depth=2, z_dim=3, seed=width))
    z = np.array([0.5, -1.0, 2.0])
    out = render(spec, (24, 20), z=z, renderer=renderer)
    np.testing.assert_allclose(out, reference(spec, (24, 20), z)[0], atol=ATOL)


def test_cppn_module_and_spec_agree():
    # to_spec carries the module's function: the spec evaluated in float64 equals the module.
    model = CPPN(width=6, depth=2, z_dim=4, inputs=("x", "r", "b"), seed=5).double()
    z = np.linspace(-1, 1, 4)
    spec = to_spec(model)
    grid = torch.from_numpy(coords((10, 6), model.config.inputs, model.config.scale))
    with torch.no_grad():
        expected = model(grid, torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(reference(spec, (10, 6), z)[0], expected, atol=1e-6)
