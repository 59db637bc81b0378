"""What a computation costs: multiply-adds of a model's forward pass and the wall time of a call.

``count_multiply_adds`` is introduced in ``05_cnns/04_project_cifar10.ipynb``; ``best_time`` replaces the
three notebook copies (02/01, 02/02, 05/02) that timed in seconds, microseconds and CPU seconds;
``call_times`` keeps every timing, for medians and tail latencies (``10_training_at_scale/04_project_ship_cifar10``).
"""
from __future__ import annotations

import time
from typing import Callable


def best_time(fn: Callable[[], object], repeat: int = 5, number: int = 1, *,
              clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds per call of ``fn()``: the fastest of ``repeat`` timings of ``number`` calls each.

    The minimum is the run least disturbed by other programs; ``number`` > 1 averages calls too
    short for the clock. ``clock=time.process_time`` counts only this process's CPU seconds
    (useful on a machine busy with other work, for single-threaded code). Always seconds:
    multiply by 1e6 to print microseconds.
    """
    if repeat < 1 or number < 1:
        raise ValueError(f"repeat and number must be at least 1, got repeat={repeat}, number={number}")
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        for _ in range(number):
            fn()
        best = min(best, (clock() - start) / number)
    return best


def call_times(fn: Callable[[], object], repeat: int, *, warmup: int = 1,
               clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Seconds of each of ``repeat`` calls of ``fn()``, after ``warmup`` untimed calls.

    The whole distribution, where :func:`best_time` keeps only its minimum: a serving latency is a median
    and a high percentile (p99) of these, since every call a user makes counts, the slow ones too.
    """
    if repeat < 1 or warmup < 0:
        raise ValueError(f"repeat must be at least 1 and warmup at least 0, got repeat={repeat}, warmup={warmup}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return times


def count_multiply_adds(model, shape=(1, 3, 32, 32)) -> int:
    """Multiply-adds of one forward pass of a PyTorch model, from hooks on its Conv2d and Linear layers.

    Introduced in ``05_cnns/04_project_cifar10.ipynb``; chapter 06 checks it against
    ``torch.utils.flop_counter.FlopCounterMode`` (which counts 2 FLOPs per multiply-add).
    Runs one zero batch of ``shape`` on the model's device; the model's train/eval mode is kept.
    """
    import torch
    from torch import nn

    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += output.numel() * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        else:
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    where = next(model.parameters()).device
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(shape, device=where))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total


def count_parameters(model, trainable_only: bool = False) -> int:
    """Number of parameters of a PyTorch module or a Keras model (buffers such as BatchNorm's running
    statistics are not parameters and are not counted; Keras's non-trainable BN weights are, as Keras
    counts them, unless ``trainable_only``).

    Replaces the ``n_params`` copies of 05/01, 06/01, 06/02 and 07/04 (introduced in
    ``05_cnns/01_theory_convolutions.ipynb``, where the count is also derived by hand per layer).
    """
    if hasattr(model, "parameters") and callable(model.parameters):  # torch.nn.Module
        return int(sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only))
    if hasattr(model, "count_params"):  # keras.Model / keras.layers.Layer
        if trainable_only:
            return int(sum(int(w.numpy().size) for w in model.trainable_weights))
        return int(model.count_params())
    raise TypeError(f"count_parameters: expected a torch.nn.Module or a Keras model, got {type(model).__name__}")
