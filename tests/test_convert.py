"""utils.convert (weight converters), utils.measure.count_parameters and utils.add_to_class."""
import numpy as np
import pytest

import torch  # noqa: F401  (PyTorch before TensorFlow: see CONTRIBUTING)
import keras

from utils import convert, measure
from utils.checks import assert_close


def _layers(dtype, sizes=(5, 7, 3), seed=0):
    gen = np.random.default_rng(seed)
    return [(gen.normal(size=(a, b)).astype(dtype), gen.normal(size=b).astype(dtype)) for a, b in zip(sizes, sizes[1:])]


def _numpy_forward(layers, acts, x):
    f = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)), None: lambda z: z}
    for (W, b), a in zip(layers, acts):
        x = f[a](x @ W + b)
    return x


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("acts", [["relu", None], ["tanh", "sigmoid"]])
def test_converted_models_compute_the_numpy_forward(dtype, tol, acts):
    layers = _layers(dtype)
    x = np.random.default_rng(1).normal(size=(4, 5)).astype(dtype)
    want = _numpy_forward(layers, acts, x)
    tm, km = convert.mlp_to_torch(layers, acts), convert.mlp_to_keras(layers, acts)
    assert_close("torch", tm(torch.from_numpy(x)).detach().numpy(), want, rtol=tol, atol=tol)
    assert_close("keras", np.asarray(km(x)), want, rtol=tol, atol=tol)
    assert next(tm.parameters()).dtype == torch.from_numpy(x).dtype


def test_round_trip_and_copies():
    layers = _layers(np.float32)
    tm, km = convert.mlp_to_torch(layers, ["relu", None]), convert.mlp_to_keras(layers, ["relu", None])
    for (W, b), (Wt, bt), (Wk, bk) in zip(layers, convert.torch_to_mlp(tm), convert.keras_to_mlp(km)):
        np.testing.assert_array_equal(W, Wt), np.testing.assert_array_equal(W, Wk)
        np.testing.assert_array_equal(b, bt), np.testing.assert_array_equal(b, bk)
    layers[0][0][:] = 0  # the models hold copies, not views
    assert np.abs(convert.torch_to_mlp(tm)[0][0]).sum() > 0


def test_a_transposed_or_mismatched_layer_is_refused():
    (W1, b1), (W2, b2) = _layers(np.float64)
    with pytest.raises(ValueError, match="layer 1: takes"):
        convert.mlp_to_torch([(W1, b1), (W2.T, np.zeros(7))], ["relu", None])
    with pytest.raises(ValueError, match="W must be"):
        convert.mlp_to_keras([(W1, b2)], [None])
    with pytest.raises(ValueError, match="activations"):
        convert.mlp_to_torch([(W1, b1)], [])
    with pytest.raises(ValueError, match="not one of"):
        convert.mlp_to_torch([(W1, b1)], ["gelu"])


def test_count_parameters_torch_and_keras_agree():
    tnet = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Flatten(), torch.nn.Linear(8, 2))
    # conv 3*8*9 + 8, BN 8 + 8 (running statistics are buffers), linear 16 + 2
    assert measure.count_parameters(tnet) == 224 + 16 + 18
    tnet[1].weight.requires_grad_(False)
    assert measure.count_parameters(tnet, trainable_only=True) == 224 + 8 + 18
    knet = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(8, 3), keras.layers.BatchNormalization(),
                             keras.layers.Flatten(), keras.layers.Dense(2)])
    # Keras counts BN's moving mean and variance as (non-trainable) weights: 4 * 8
    assert measure.count_parameters(knet) == 224 + 32 + (8 * 4 * 2 + 2)
    assert measure.count_parameters(knet, trainable_only=True) == 224 + 16 + 66
    with pytest.raises(TypeError):
        measure.count_parameters([1, 2])


def test_add_to_class_builds_a_class_across_cells():
    from utils import add_to_class

    class Counter:
        def __init__(self):
            self.n = 0

    @add_to_class(Counter)
    def tick(self, k=1):
        self.n += k
        return self

    assert Counter().tick().tick(2).n == 3
    with pytest.raises(TypeError):
        add_to_class(Counter())
    with pytest.raises(ValueError):
        add_to_class(Counter)(lambda self: None)
