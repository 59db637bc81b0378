"""Pictures every chapter needs: training curves, image grids, confusion matrices, decision boundaries.

Introduced in ``01_neural_network_foundations/01_theory_neurons_activations_losses.ipynb``
(decision boundaries) and ``04_project_mnist_classifier.ipynb`` (the rest).

Convention: a helper draws a new figure and returns it (``plot_confusion_matrix`` returns its
counts, ``plot_decision_boundary`` the Axes it drew on); it never calls ``show``. In Jupyter the
figure then appears exactly once whichever way the cell uses it: ``fig = helper(...)``,
``_ = helper(...)``, a bare ``helper(...)`` ending the cell, or a call followed by ``plt.show()``.
That is the job of the figure class the helpers draw on (``CourseFigure``, defined on first
use): pyplot shows its open figures when a cell ends, and a ``CourseFigure`` that Jupyter
displays (as a cell's value, or from ``plt.show()``) is closed in the same moment, so it is
never shown a second time. In a script, save it (``fig.savefig``).

``matplotlib.pyplot`` is imported on first use, not by ``import utils``; the course style
(:data:`STYLE`: small figures at 80 dpi, a light grid) is applied while each helper creates its
figure and restored after, and to the whole session by :func:`use_style` (``utils.setup`` calls it).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

#: The course's figure style: small figures (dpi 80) keep committed notebooks light.
STYLE = {"figure.dpi": 80, "savefig.dpi": 80, "axes.grid": True, "grid.alpha": 0.3,
         "axes.spines.top": False, "axes.spines.right": False}

_figure_class = None


def use_style() -> None:
    """Apply :data:`STYLE` to every figure of the session (the notebook's own ones too)."""
    import matplotlib

    matplotlib.rcParams.update(STYLE)


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _new_figure(*args, **kwargs):
    """``plt.subplots`` in the course style, returning a :class:`CourseFigure` and its axes."""
    global _figure_class
    import matplotlib

    plt = _pyplot()
    if _figure_class is None:
        from matplotlib.figure import Figure

        class CourseFigure(Figure):
            """A pyplot figure that Jupyter shows once: displaying it closes it (see the module docstring)."""

            def _repr_mimebundle_(self, include=None, exclude=None):
                plt.close(self)  # pyplot's end-of-cell show will not show it again
                return None      # IPython goes on to render the PNG as for any figure

        _figure_class = CourseFigure
    # Not matplotlib.rc_context: it restores *every* setting on exit, and the first figure of a
    # Jupyter session activates the inline backend inside it, whose interactive=True it would undo
    # (pyplot would then stop showing figures at the end of cells). Only STYLE's keys are restored.
    before = {key: matplotlib.rcParams[key] for key in STYLE}
    matplotlib.rcParams.update(STYLE)
    try:
        return plt.subplots(*args, FigureClass=_figure_class, **kwargs)
    finally:
        matplotlib.rcParams.update(before)


def _as_dict(history: Any) -> Mapping[str, Sequence[float]]:
    """Accept our History, a Keras History, or a plain dict of lists."""
    if hasattr(history, "history"):
        return history.history
    return history


def plot_history(*histories: Any, labels: Sequence[str] | None = None,
                 metrics: Sequence[str] = ("loss", "acc"), title: str = ""):
    """Training (solid) and validation (dashed) curves per metric, one panel each.

    Takes any number of histories (``utils.train.History``, Keras ``History``, or dicts);
    Keras's ``accuracy`` is shown as ``acc``. ``labels`` name the runs in the legend (default
    "run 1", "run 2", ...; a single history without a label is just "train"/"val"). Returns the figure.
    """
    import matplotlib

    if labels is not None and len(labels) != len(histories):
        raise ValueError(f"{len(labels)} labels for {len(histories)} histories")
    fig, axes = _new_figure(1, len(metrics), figsize=(5 * len(metrics), 3.4), squeeze=False)
    if labels is None:
        labels = [f"run {i + 1}" for i in range(len(histories))] if len(histories) > 1 else [""]
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (h, label) in enumerate(zip(histories, labels)):
        color = colors[i % len(colors)]
        h = dict(_as_dict(h))
        for k in list(h):
            if "accuracy" in k:
                h[k.replace("accuracy", "acc")] = h[k]
        for ax, m in zip(axes[0], metrics):
            for key, style, part in ((m, "-", "train"), (f"val_{m}", "--", "val")):
                if key in h:
                    ax.plot(range(1, len(h[key]) + 1), h[key], style, color=color,
                            label=f"{label} {part}".strip())
            ax.set_xlabel("epoch")
            ax.set_title(m)
    for ax in axes[0]:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(images: np.ndarray, labels: Sequence[int] | None = None, preds: Sequence[int] | None = None,
               classes: Sequence[str] | None = None, ncols: int = 8, size: float = 1.3,
               title: str = "", notes: Sequence[str] | None = None):
    """A grid of images; captions "label" or "pred (true)" in red when wrong.

    ``images``: (N, H, W), (N, H, W, C) or flattened square (N, H*W).
    """
    images = np.asarray(images)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        images = images.reshape(-1, side, side)
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    caption_lines = (1 if labels is not None else 0) + (1 if notes is not None else 0)
    row_height = size + 0.1 + 0.18 * caption_lines  # room for each caption line above the image
    fig, axes = _new_figure(nrows, ncols, figsize=(ncols * size, nrows * row_height + (0.3 if title else 0)),
                             squeeze=False)
    name = (lambda i: classes[i]) if classes is not None else str
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap="gray" if images[i].ndim == 2 else None)
        caption, color = "", "black"
        if preds is not None and labels is not None:
            caption = f"{name(preds[i])} ({name(labels[i])})"
            color = "black" if preds[i] == labels[i] else "red"
        elif labels is not None:
            caption = name(labels[i])
        if notes is not None:
            caption += f"\n{notes[i]}"
        ax.set_title(caption, fontsize=8, color=color)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of true class i predicted as j."""
    n = n_classes or int(max(y_true.max(), y_pred.max()) + 1)
    return np.bincount(np.asarray(y_true) * n + np.asarray(y_pred), minlength=n * n).reshape(n, n)


def plot_confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str] | None = None,
                          normalize: bool = False, title: str = "Confusion matrix"):
    """Heat map of :func:`confusion_matrix`, counts written in each cell; returns the matrix (callers use it)."""
    cm = confusion_matrix(y_true, y_pred, len(classes) if classes else None)
    shown = cm / cm.sum(1, keepdims=True) if normalize else cm
    n = len(cm)
    fig, ax = _new_figure(figsize=(0.55 * n + 2, 0.55 * n + 1.5))
    ax.imshow(np.log1p(shown * (100 if normalize else 1)), cmap="Blues")
    ax.grid(False)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{shown[i, j]:.2f}" if normalize else str(shown[i, j]), ha="center", va="center",
                    fontsize=7, color="white" if i == j else "black")
    ticks = classes if classes is not None else [str(i) for i in range(n)]
    ax.set_xticks(range(n), ticks, rotation=45 if classes and len(max(ticks, key=len)) > 2 else 0, fontsize=8)
    ax.set_yticks(range(n), ticks, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return cm


def plot_decision_boundary(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray,
                           ax=None, resolution: int = 200, title: str = "", pad: float = 0.5):
    """Shade the classes ``predict`` assigns over the plane, with the points ``X`` coloured by ``y``.

    ``predict`` maps (M, 2) points to class labels (or to probabilities of class 1). Draws into
    ``ax`` (a panel of the caller's figure) or a new figure; returns the Axes.
    """
    if ax is None:
        _, ax = _new_figure(figsize=(4, 3.6))
    x0, x1 = X[:, 0].min() - pad, X[:, 0].max() + pad
    y0, y1 = X[:, 1].min() - pad, X[:, 1].max() + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    z = np.asarray(predict(np.c_[gx.ravel(), gy.ravel()]))
    if z.ndim == 2:
        z = z.argmax(1) if z.shape[1] > 1 else z[:, 0]
    ax.contourf(gx, gy, z.reshape(gx.shape), levels=20 if z.dtype.kind == "f" else None, cmap="RdBu", alpha=0.35)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu", edgecolors="k", s=18)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.grid(False)
    if title:
        ax.set_title(title)
    return ax
