"""Weight converters between the course's NumPy layers, PyTorch and Keras.

A NumPy dense layer computes ``x @ W + b`` with ``W`` of shape ``(n_in, n_out)``. PyTorch's
``nn.Linear`` stores ``weight`` as ``(n_out, n_in)`` (so it receives ``W.T``); Keras's ``Dense``
stores ``kernel`` as ``(n_in, n_out)`` (so it receives ``W`` itself). That one transposition is the
whole difference, and it is taught in ``01_neural_network_foundations/02_scratch_mlp.ipynb``, which
keeps its own ``to_torch``/``to_keras``; 01/04 and 02/02 use these.

``layers`` is a list of ``(W, b)`` pairs; ``activations`` names the activation after each of them
(``"relu"``, ``"tanh"``, ``"sigmoid"`` or ``None``), so an MLP with ReLU hidden layers and raw
logits is ``activations=["relu", "relu", None]``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .checks import to_numpy

ACTIVATIONS = ("relu", "tanh", "sigmoid", None)


def _checked(layers: Sequence[tuple[np.ndarray, np.ndarray]], activations: Sequence[str | None]):
    if len(layers) != len(activations):
        raise ValueError(f"{len(layers)} layers but {len(activations)} activations: give one per layer (None for none)")
    for i, ((W, b), act) in enumerate(zip(layers, activations)):
        W, b = np.asarray(W), np.asarray(b)
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"layer {i}: W must be (n_in, n_out) and b (n_out,), got {W.shape} and {b.shape}")
        if i and W.shape[0] != np.asarray(layers[i - 1][0]).shape[1]:
            raise ValueError(f"layer {i}: takes {W.shape[0]} inputs but layer {i - 1} gives {layers[i - 1][0].shape[1]}")
        if act not in ACTIVATIONS:
            raise ValueError(f"layer {i}: activation {act!r} is not one of {ACTIVATIONS}")
    return [(np.asarray(W), np.asarray(b)) for W, b in layers]


def mlp_to_torch(layers: Sequence[tuple[np.ndarray, np.ndarray]], activations: Sequence[str | None]):
    """A ``torch.nn.Sequential`` of ``Linear`` (+ activation) modules holding copies of the weights,
    in the weights' dtype (float32 or float64); ``Linear.weight`` receives ``W.T``."""
    import torch

    modules_by_name = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}
    modules = []
    for (W, b), act in zip(_checked(layers, activations), activations):
        linear = torch.nn.Linear(*W.shape, dtype=torch.from_numpy(W).dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b))
        modules.append(linear)
        if act is not None:
            modules.append(modules_by_name[act]())
    return torch.nn.Sequential(*modules)


def mlp_to_keras(layers: Sequence[tuple[np.ndarray, np.ndarray]], activations: Sequence[str | None]):
    """A ``keras.Sequential`` of ``Dense`` layers holding copies of the weights (``kernel = W``), in the
    weights' dtype."""
    import keras

    layers = _checked(layers, activations)
    dtype = str(layers[0][0].dtype)
    stack = [keras.Input(shape=(layers[0][0].shape[0],), dtype=dtype)]
    stack += [keras.layers.Dense(W.shape[1], activation=act, dtype=dtype) for (W, _), act in zip(layers, activations)]
    model = keras.Sequential(stack)
    model.set_weights([w for pair in layers for w in pair])
    return model


def torch_to_mlp(model) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``(W, b)`` pairs of every ``Linear`` in a PyTorch module, in order (``W = weight.T``)."""
    import torch

    return [(to_numpy(m.weight).T.copy(), to_numpy(m.bias).copy())
            for m in model.modules() if isinstance(m, torch.nn.Linear)]


def keras_to_mlp(model) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``(W, b)`` pairs of every ``Dense`` layer of a Keras model, in order."""
    import keras

    return [(to_numpy(l.kernel).copy(), to_numpy(l.bias).copy()) for l in model.layers
            if isinstance(l, keras.layers.Dense)]
