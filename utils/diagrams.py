"""Diagrams of structures (neurons, layers, graphs, cells, feature maps) drawn by code, in one style.

Plots of *numbers* live in :mod:`utils.plots`; this module draws *ideas*, where each is introduced: a neuron and an
MLP (01/01), forward and backward through layers (01/02), computation graphs with values and gradients (02/01, and
the graph 02/04's engine records), Adam's state flow (03/01), dropout and the normalization axes (04/01), BatchNorm
in train and eval mode (04/02); convolutions, receptive fields, residual blocks, unrolled RNNs, LSTM/GRU cells and
attention in chapters 05-08.

A diagram is a few short calls in one notebook cell::

    fig, ax = utils.diagrams.diagram(6, 2.4, title="y = w x + b")
    x = utils.diagrams.node(ax, (0.6, 1.2), "x", kind="input")
    op = utils.diagrams.box(ax, (2.6, 1.2), "w x + b", kind="linear")
    y = utils.diagrams.node(ax, (4.8, 1.2), "y", kind="value")
    utils.diagrams.arrow(ax, x, op, label="x = 2")
    utils.diagrams.arrow(ax, op, y)
    utils.diagrams.arrow(ax, y, op, label="∂L/∂y", style="backward")

Coordinates are inches: ``diagram(6, 2.4)`` is a 6 x 2.4 inch figure whose data coordinates run over
[0, 6] x [0, 2.4] with equal aspect and no axes. Arrows join the *edges* of the shapes they connect
(circle or box), never their centres. Colours come from a small fixed :data:`PALETTE` of kinds, so the
same kind of thing looks the same in every chapter. Figures are :mod:`utils.plots`' course figures:
shown once in Jupyter, then closed. ``matplotlib`` is imported on first use, not by ``import utils``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

#: kind -> (face colour, edge colour). Light faces, darker edges: readable in print and on screen.
PALETTE = {
    "input": ("#e8f1fb", "#3b75af"),      # data entering: x, images, tokens
    "value": ("#ffffff", "#444444"),      # an intermediate value / a neuron's output
    "param": ("#f5ede4", "#8d6e63"),      # trainable parameters: weights, biases
    "neuron": ("#fff4e0", "#c77c02"),     # a unit that computes w·x + b and an activation
    "linear": ("#fde9d9", "#c0504d"),     # affine maps: Dense, nn.Linear, convolution
    "activation": ("#eaf5e4", "#4f8a3a"),  # ReLU, tanh, sigmoid, softmax
    "norm": ("#efe7f6", "#7a5a9e"),       # batch/layer normalisation, dropout
    "attention": ("#fdf3c4", "#a88b00"),  # attention weights and mixing
    "loss": ("#f9dede", "#a33a3a"),       # the scalar being minimised
    "state": ("#e3f3f3", "#2f8585"),      # carried state: momentum, hidden state, cell state
    "gate": ("#f1f1f1", "#666666"),       # multiplicative gates, masks
    "dropped": ("#f4f4f4", "#bbbbbb"),    # a unit switched off (dropout), drawn faded
}
#: Arrow styles: forward pass (solid), backward pass (dashed, red), skip/carry (curved, grey).
ARROWS = {
    "forward": dict(color="#333333", linestyle="-", connectionstyle="arc3,rad=0"),
    "backward": dict(color="#c0392b", linestyle="--", connectionstyle="arc3,rad=0"),
    "skip": dict(color="#888888", linestyle="-", connectionstyle="arc3,rad=-0.35"),
}
FONT = 9


def _check_kind(kind: str) -> tuple[str, str]:
    if kind not in PALETTE:
        raise ValueError(f"unknown kind {kind!r}: choose one of {sorted(PALETTE)}")
    return PALETTE[kind]


def diagram(width: float = 6.0, height: float = 3.0, *, title: str | None = None):
    """A new figure of ``width`` x ``height`` inches whose data coordinates are inches: returns ``(fig, ax)``."""
    from .plots import _new_figure

    fig, ax = _new_figure(figsize=(width, height))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=FONT + 1)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9 if title else 0.99)
    return fig, ax


def _tag(patch: Any, xy: Sequence[float], half_w: float, half_h: float, shape: str) -> Any:
    patch.dlf_anchor = (float(xy[0]), float(xy[1]), float(half_w), float(half_h), shape)
    return patch


def node(ax, xy: Sequence[float], label: str = "", *, kind: str = "neuron", r: float = 0.25,
         fontsize: float = FONT):
    """A circle of radius ``r`` centred at ``xy``: a neuron or a value. Returns the patch (``arrow`` accepts it)."""
    from matplotlib.patches import Circle

    face, edge = _check_kind(kind)
    patch = Circle(xy, r, facecolor=face, edgecolor=edge, linewidth=1.3, zorder=3)
    ax.add_patch(patch)
    patch.dlf_kind = kind
    if label:
        ax.text(*xy, label, ha="center", va="center", fontsize=fontsize, zorder=4,
                color="#999999" if kind == "dropped" else "black")
    return _tag(patch, xy, r, r, "circle")


def box(ax, xy: Sequence[float], label: str = "", *, kind: str = "linear", w: float = 1.1, h: float = 0.45,
        fontsize: float = FONT):
    """A rounded box of ``w`` x ``h`` centred at ``xy``: a layer or an operation. Returns the patch."""
    from matplotlib.patches import FancyBboxPatch

    face, edge = _check_kind(kind)
    patch = FancyBboxPatch((xy[0] - w / 2, xy[1] - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.08",
                           facecolor=face, edgecolor=edge, linewidth=1.3, zorder=3)
    ax.add_patch(patch)
    if label:
        ax.text(*xy, label, ha="center", va="center", fontsize=fontsize, zorder=4)
    return _tag(patch, xy, w / 2, h / 2, "box")


def anchor(obj: Any) -> tuple[float, float, float, float, str]:
    """``(x, y, half_width, half_height, shape)`` of a node, box, :class:`Grid` or plain ``(x, y)`` point."""
    if hasattr(obj, "dlf_anchor"):
        return obj.dlf_anchor
    x, y = obj
    return float(x), float(y), 0.0, 0.0, "point"


def edge_point(obj: Any, toward: Sequence[float], gap: float = 0.03) -> np.ndarray:
    """Where the straight line from ``obj``'s centre toward ``toward`` leaves its outline (plus ``gap``)."""
    x, y, hw, hh, shape = anchor(obj)
    d = np.asarray(toward, float) - (x, y)
    n = float(np.hypot(*d))
    if n == 0 or shape == "point":
        return np.array([x, y])
    if shape == "circle":
        t = hw / n
    else:  # the ray leaves the rectangle through whichever side it meets first
        t = min(hw / abs(d[0]) if d[0] else np.inf, hh / abs(d[1]) if d[1] else np.inf)
    return np.array([x, y]) + d * (t + gap / n)


def arrow(ax, a: Any, b: Any, label: str | None = None, *, style: str = "forward", fontsize: float = FONT - 1,
          offset: float = 0.14, shift: float | None = None, lw: float = 1.2):
    """An arrow from shape (or point) ``a`` to ``b``, edge to edge; ``label`` sits beside its middle (left side).

    ``style``: ``"forward"`` (solid), ``"backward"`` (dashed red: gradients), ``"skip"`` (curved grey).
    ``shift`` moves the arrow sideways (to its left); a backward arrow is shifted by 0.1 by default, so that
    ``arrow(ax, a, b)`` and ``arrow(ax, b, a, style="backward")`` run in two lanes.
    Returns the ``FancyArrowPatch``; its end points are ``patch.dlf_ends``.
    """
    from matplotlib.patches import FancyArrowPatch

    if style not in ARROWS:
        raise ValueError(f"unknown arrow style {style!r}: choose one of {sorted(ARROWS)}")
    ca, cb = np.array(anchor(a)[:2]), np.array(anchor(b)[:2])
    d = cb - ca
    left = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-9)
    lane = left * ((0.1 if style == "backward" else 0.0) if shift is None else shift)
    start, end = edge_point(a, cb) + lane, edge_point(b, ca) + lane
    kw = ARROWS[style]
    patch = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, linewidth=lw, zorder=2,
                            color=kw["color"], linestyle=kw["linestyle"], connectionstyle=kw["connectionstyle"])
    ax.add_patch(patch)
    patch.dlf_ends = (start, end)
    if label:
        bend = 0.35 * float(np.hypot(*(end - start))) / 2 if style == "skip" else 0.0
        mid = (start + end) / 2 + left * (offset + bend)
        ax.text(*mid, label, ha="center", va="center", fontsize=fontsize, color=kw["color"], zorder=4)
    return patch


class Grid:
    """A matrix drawn as cells (see :func:`grid`); ``center(i, j)`` is the middle of cell (row i, column j)."""

    def __init__(self, xy: Sequence[float], shape: tuple[int, int], cell: float):
        self.x0, self.y0, self.shape, self.cell = float(xy[0]), float(xy[1]), shape, cell
        w, h = shape[1] * cell, shape[0] * cell
        self.dlf_anchor = (self.x0 + w / 2, self.y0 - h / 2, w / 2, h / 2, "box")
        self.cells: list = []

    def center(self, i: int, j: int) -> tuple[float, float]:
        return self.x0 + (j + 0.5) * self.cell, self.y0 - (i + 0.5) * self.cell


def grid(ax, array: Any, xy: Sequence[float], *, cell: float = 0.3, numbers: bool = True, kind: str = "input",
         window: tuple[int, int, int, int] | None = None, label: str | None = None, fmt: str = "{:g}",
         fontsize: float = FONT - 1) -> Grid:
    """A small matrix or feature map as cells, top-left corner at ``xy``; row 0 is drawn at the top.

    ``array`` is a 2-D array of numbers (written in the cells when ``numbers``) or a shape ``(rows, cols)``.
    ``window=(row, col, height, width)`` outlines a block of cells (a convolution's receptive field);
    ``label`` goes under the grid. Returns a :class:`Grid` (``arrow`` accepts it).
    """
    from matplotlib.patches import Rectangle

    face, edge = _check_kind(kind)
    values = np.asarray(array) if np.ndim(array) == 2 else None
    shape = values.shape if values is not None else tuple(int(s) for s in array)
    g = Grid(xy, shape, cell)
    for i in range(shape[0]):
        for j in range(shape[1]):
            cx, cy = g.center(i, j)
            rect = Rectangle((cx - cell / 2, cy - cell / 2), cell, cell, facecolor=face, edgecolor=edge,
                             linewidth=0.8, zorder=2)
            ax.add_patch(rect)
            g.cells.append(rect)
            if numbers and values is not None:
                ax.text(cx, cy, fmt.format(values[i, j]), ha="center", va="center", fontsize=fontsize, zorder=3)
    if window is not None:
        r, c, hgt, wid = window
        ax.add_patch(Rectangle((g.x0 + c * cell, g.y0 - (r + hgt) * cell), wid * cell, hgt * cell, fill=False,
                               edgecolor="#c0392b", linewidth=2.2, zorder=4))
    if label:
        ax.text(g.dlf_anchor[0], g.y0 - shape[0] * cell - 0.18, label, ha="center", va="center", fontsize=FONT)
    return g


def chain(ax, labels: Sequence[str], xy: Sequence[float], *, kinds: str | Sequence[str] = "linear",
          step: float = 1.5, vertical: bool = False, w: float = 1.1, h: float = 0.45,
          arrow_labels: Sequence[str | None] | None = None) -> list:
    """Boxes ``labels`` in a row (or a column going down, ``vertical=True``) from ``xy``, joined by arrows."""
    kinds = [kinds] * len(labels) if isinstance(kinds, str) else list(kinds)
    boxes = []
    for k, (text, kind) in enumerate(zip(labels, kinds)):
        at = (xy[0], xy[1] - k * step) if vertical else (xy[0] + k * step, xy[1])
        boxes.append(box(ax, at, text, kind=kind, w=w, h=h))
    for k in range(len(boxes) - 1):
        arrow(ax, boxes[k], boxes[k + 1], arrow_labels[k] if arrow_labels else None)
    return boxes


def layer_stack(ax, sizes: Sequence[int], xy: Sequence[float], *, dx: float = 1.4, dy: float = 0.55,
                labels: Sequence[str] | None = None, kinds: Sequence[str] | None = None, max_shown: int = 5,
                r: float = 0.18, dropped: Sequence[Sequence[int]] | None = None) -> list[list]:
    """Columns of neurons, fully connected column to column (an MLP); ``xy`` is the first column's centre.

    A layer wider than ``max_shown`` draws ``max_shown - 1`` units and a "⋮", with its true width under it.
    ``dropped[k]`` lists units of layer ``k`` switched off (faded, and their connections omitted).
    Returns the nodes, one list per layer.
    """
    kinds = list(kinds) if kinds else ["input"] + ["neuron"] * (len(sizes) - 1)
    bottom = xy[1] - (min(max(sizes), max_shown) - 1) * dy / 2 - dy / 2 - 0.12  # one baseline for captions
    columns = []
    for k, size in enumerate(sizes):
        shown = min(size, max_shown)
        off = set(dropped[k]) if dropped and k < len(dropped) else set()
        x, top = xy[0] + k * dx, xy[1] + (shown - 1) * dy / 2
        slots = list(range(shown)) if size <= shown else list(range(shown - 2)) + [shown - 1]  # "⋮" in between
        col = [node(ax, (x, top - i * dy), kind="dropped" if n in off else kinds[k], r=r) for n, i in enumerate(slots)]
        for n in off:
            ax.text(x, top - slots[n] * dy, "×", ha="center", va="center", fontsize=FONT + 2, color="#999999", zorder=4)
        if size > shown:
            ax.text(x, top - (shown - 2) * dy, "⋮", ha="center", va="center", fontsize=FONT + 2)
        caption = (labels[k] if labels else "") + (f"\n({size} units)" if size > shown else "")
        if caption:
            ax.text(x, bottom, caption, ha="center", va="top", fontsize=FONT - 1)
        columns.append(col)
    for k in range(len(columns) - 1):
        for a in columns[k]:
            for b in columns[k + 1]:
                if "dropped" not in (a.dlf_kind, b.dlf_kind):
                    start, end = edge_point(a, b.center, 0), edge_point(b, a.center, 0)
                    ax.plot(*np.stack([start, end]).T, color="#999999", linewidth=0.6, zorder=1)
    return columns

