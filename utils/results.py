"""Headline numbers: ``utils.record("test_accuracy", acc, target=0.98)``.

Introduced in ``01_neural_network_foundations/04_project_mnist_classifier.ipynb``.

``record`` prints the number; in full mode it asserts the target right there (quick mode
trains too little to meet it, so it only says so). When the notebook runs under the
runner (``python -m utils.run``), the number is also appended to the file named by
``$DLF_RESULTS_FILE``, from which the runner builds ``results.json`` and the README table.
"""
from __future__ import annotations

import json
import os
from typing import Any

from .config import is_quick

RESULTS_ENV = "DLF_RESULTS_FILE"


def record(name: str, value: Any, *, target: float | None = None, higher_is_better: bool = True,
           unit: str = "", headline: bool = True) -> Any:
    """Record one number of this notebook; with ``target``, assert it in full mode.

    ``higher_is_better=False`` for losses, errors, times and ratios that must stay below the target.
    ``headline=False`` keeps the number in results.json but out of the README table.
    """
    if hasattr(value, "item"):
        value = value.item()
    shown = f"{value:.4g}" if isinstance(value, float) else str(value)
    msg = f"📌 {name} = {shown}{unit}"
    met = None
    if target is not None:
        met = value >= target if higher_is_better else value <= target
        rel = "≥" if higher_is_better else "≤"
        if is_quick():
            msg += f"   (target {rel} {target}{unit} is asserted in full mode only)"
        else:
            msg += f"   target {rel} {target}{unit}: {'met ✓' if met else 'MISSED ✗'}"
    print(msg)
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"name": name, "value": value, "target": target, "unit": unit,
                                "higher_is_better": higher_is_better, "headline": headline,
                                "met": met}) + "\n")
    if target is not None and not is_quick() and not met:
        raise AssertionError(f"{name} = {shown}{unit} misses the target "
                             f"{'≥' if higher_is_better else '≤'} {target}{unit}")
    return value
