"""Shared helpers of the Deep Learning Fundamentals course.

One small module per concern (see ``CONTRIBUTING.md``):

* :mod:`utils.config`  quick mode, data directory, seeding, device and precision — the ground floor
* :mod:`utils.data`    the five data sets as NumPy arrays, and framework wrappers
* :mod:`utils.train`   the one PyTorch fit/evaluate loop: device, precision, callbacks, history
* :mod:`utils.images`  image-batch augmentation (flip and shift)
* :mod:`utils.measure` what a computation costs: parameters, multiply-adds, best-of-N timing in seconds
* :mod:`utils.notebook` ``add_to_class``: one class written across several short cells
* :mod:`utils.efficientnet` pretrained ImageNet EfficientNet-Lite0 from primitive layers, key mapping, Keras port
* :mod:`utils.convert` weight converters between NumPy (W, b) layers, PyTorch and Keras
* :mod:`utils.plots`   curves, image grids, confusion matrices, decision boundaries
* :mod:`utils.diagrams` pictures of structures: neurons, layers, graphs, feature maps, arrows
* :mod:`utils.checks`  ``assert_close``, gradient checks, auto-checked exercises
* :mod:`utils.results` ``record`` headline numbers (asserted against targets in full mode)
* :mod:`utils.layout`  the repository layout: root, chapters, notebooks, READMEs
* :mod:`utils.run`     ``python -m utils.run``: execute notebooks, collect results
* :mod:`utils.stamp`   ``python -m utils.stamp``: point badges, set-up cells and links at the repository

Nothing here imports torch or TensorFlow at import time.
"""
from __future__ import annotations

from . import checks, config, convert, data, diagrams, efficientnet, images, measure, notebook, plots, results, train
from .checks import CheckFailure, Exercise, assert_close, compare, gradient_check, must_fail, numerical_gradient
from .config import autocast, data_dir, device, is_quick, pick, precision, rng, seed_everything, setup, work_dir
from .measure import best_time, count_parameters
from .notebook import add_to_class
from .results import record, show_table

#: Marks this package as the course's own ``utils`` (not some other top-level ``utils``).
COURSE = "deep-learning-fundamentals"

__all__ = ["checks", "config", "data", "diagrams", "images", "measure", "plots", "results", "train", "CheckFailure",
           "Exercise", "assert_close", "compare", "gradient_check", "must_fail", "numerical_gradient", "autocast",
           "data_dir", "work_dir", "device", "is_quick", "pick", "precision", "rng", "seed_everything", "setup", "best_time", "count_parameters", "convert", "efficientnet", "notebook", "add_to_class",
           "record", "show_table", "COURSE"]
