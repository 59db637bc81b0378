"""Shared helpers of the Deep Learning Fundamentals course.

One small module per concern (see ``CONTRIBUTING.md``):

* :mod:`utils.config`  quick mode, data directory, seeding, device — the ground floor
* :mod:`utils.data`    the five data sets as NumPy arrays, and framework wrappers
* :mod:`utils.train`   a plain PyTorch fit/evaluate loop with progress and history
* :mod:`utils.plots`   curves, image grids, confusion matrices, decision boundaries
* :mod:`utils.checks`  ``assert_close``, gradient checks, auto-checked exercises
* :mod:`utils.results` ``record`` headline numbers (asserted against targets in full mode)
* :mod:`utils.run`     ``python -m utils.run``: execute notebooks, collect results
* :mod:`utils.stamp`   ``python -m utils.stamp``: write the Colab badge and set-up cell

Nothing here imports torch or TensorFlow at import time.
"""
from __future__ import annotations

from . import checks, config, data, plots, results, train
from .checks import Exercise, assert_close, gradient_check, must_fail, numerical_gradient
from .config import data_dir, device, is_quick, pick, rng, seed_everything, setup
from .results import record

#: Marks this package as the course's own ``utils`` (not some other top-level ``utils``).
COURSE = "deep-learning-fundamentals"

__all__ = ["checks", "config", "data", "plots", "results", "train", "Exercise", "assert_close",
           "gradient_check", "must_fail", "numerical_gradient", "data_dir", "device", "is_quick", "pick", "rng",
           "seed_everything", "setup", "record", "COURSE"]
