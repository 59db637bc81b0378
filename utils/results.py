"""Headline numbers: ``utils.record("test_accuracy", acc, target=0.98)``.

Introduced in ``01_neural_network_foundations/04_project_mnist_classifier.ipynb``.

``record`` prints the number; in full mode it asserts the target right there (quick mode
trains too little to meet it, so it only says so). A NaN or infinite number is never a
result: it fails in quick mode too, since quick mode runs the same code. When the notebook
runs under the runner (``python -m utils.run``), the number is also appended to the file
named by ``$DLF_RESULTS_FILE``, from which the runner builds ``results.json`` and the README
table. :func:`format_value` is the one place numbers are formatted for people.
"""
from __future__ import annotations

import json
import math
import numbers
import os
from typing import Any, Sequence

import numpy as np

from .config import is_quick, is_reference_setup

RESULTS_ENV = "DLF_RESULTS_FILE"


def format_value(value: Any, unit: str = "") -> str:
    """A recorded number as people read it: floats to 4 significant digits, then the unit."""
    shown = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{shown}{unit or ''}"


def _as_number(name: str, value: Any) -> int | float:
    """``value`` as a plain Python int or float (NumPy, PyTorch and TF scalars included), else TypeError."""
    if hasattr(value, "numpy") and not hasattr(value, "item"):
        value = value.numpy()
    if hasattr(value, "item"):
        if (value.numel() if hasattr(value, "numel") else np.size(value)) != 1:
            raise TypeError(f"record({name!r}): expected one number, got an array of shape "
                            f"{tuple(getattr(value, 'shape', ()))}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"record({name!r}): expected a real number, got {type(value).__name__} {value!r}")
    return value


def record(name: str, value: Any, *, target: float | None = None, higher_is_better: bool = True,
           unit: str = "", headline: bool = True, reference_only: bool = False) -> Any:
    """Record one number of this notebook; with ``target``, assert it in full mode.

    ``higher_is_better=False`` for losses, errors, times and ratios that must stay below the target.
    ``headline=False`` keeps the number in results.json but out of the README table.
    A NaN or infinite value raises ``AssertionError`` in either mode (and is written as ``null``).
    ``reference_only=True`` is for wall times and speed-ups: the target is asserted only on the
    reference setup (:func:`utils.config.is_reference_setup`), and shown everywhere.
    """
    value = _as_number(name, value)
    finite = math.isfinite(value)
    msg = f"📌 {name} = {format_value(value, unit)}"
    met = None
    if target is not None:
        met = finite and (value >= target if higher_is_better else value <= target)
        rel = "≥" if higher_is_better else "≤"
        asserted = not is_quick() and (not reference_only or is_reference_setup())
        if is_quick():
            msg += f"   (target {rel} {target}{unit} is asserted in full mode only)"
        elif not asserted:
            msg += (f"   target {rel} {target}{unit} on the reference 2-core CPU: "
                    f"{'met' if met else 'not met'} here (not asserted on this machine)")
        else:
            msg += f"   target {rel} {target}{unit}: {'met ✓' if met else 'MISSED ✗'}"
    print(msg)
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"name": name, "value": value if finite else None, "target": target,
                                "unit": unit, "higher_is_better": higher_is_better, "headline": headline,
                                "met": met}, allow_nan=False) + "\n")
    if not finite:
        raise AssertionError(f"{name} = {value}: a NaN or infinite number is never a result "
                             "(something upstream diverged or divided by zero)")
    if target is not None and asserted and not met:
        raise AssertionError(f"{name} = {format_value(value, unit)} misses the target "
                             f"{'≥' if higher_is_better else '≤'} {target}{unit}")
    return value


def show_table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, markdown: bool = False) -> str:
    """Show rows under ``header`` as an aligned text table (or, ``markdown=True``, a rendered Markdown table).

    Integers get thousands separators and floats 4 significant digits (:func:`format_value`); the text
    is printed (or displayed) and returned. Introduced in ``05_cnns/01_theory_convolutions.ipynb``.
    """
    def cell(v: Any) -> str:
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return f"{int(v):,}"
        if isinstance(v, (float, np.floating)):
            return format_value(float(v))
        return str(v)

    cells = [[cell(v) for v in row] for row in rows]
    if any(len(r) != len(header) for r in cells):
        raise ValueError(f"show_table: every row needs {len(header)} cells, one per column of the header")
    if markdown:
        text = "\n".join(["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
                         + ["| " + " | ".join(r) + " |" for r in cells])
        from IPython.display import Markdown, display

        display(Markdown(text))
        return text
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    text = "\n".join("  ".join(f"{v:>{w}}" for v, w in zip(line, widths)) for line in [list(map(str, header))] + cells)
    print(text)
    return text
