"""Chapter 05's fast CIFAR-10 network: patch whitening, ``FastCifarNet`` and the settings of its recipe.

Taught in ``05_cnns/04_project_cifar10.ipynb``, which keeps its own copy for teaching (the whitening derived
and checked, the network's cost counted, the recipe ablated); used by chapter 10's project
(``10_training_at_scale/04_project_ship_cifar10.ipynb``), which trains, exports and quantizes this network.
``tests/test_cifar.py`` fails when this code and the notebook's copy differ (docstrings, comments and
formatting aside).

Unlike the rest of :mod:`utils`, this module imports PyTorch when it is imported, so ``import utils`` does
not import it: ``from utils.cifar import FastCifarNet, Recipe, patch_whitening`` after ``utils.setup``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

__all__ = ["patch_whitening", "conv_block", "FastCifarNet", "Recipe"]


def patch_whitening(images, patch=2, eps=5e-4, max_patches=200_000, seed=0):
    """Fixed first-layer filters that whiten the 2x2x3 patches of ``images`` (N, 3, H, W).

    Returns ``(filters, eigenvalues, patches)``: filters ``(24, 3, 2, 2)`` (``+W`` and ``-W``, with
    ``W = Lambda^(-1/2) V^T`` from the patch covariance), the covariance's eigenvalues in ascending order,
    and the (at most ``max_patches``, seeded) patches they were computed from.
    """
    # Filters (2*12, 3, 2, 2) that whiten 2x2x3 patches of `images` (N, 3, H, W): +W and -W.
    patches = images.float().unfold(2, patch, 1).unfold(3, patch, 1)            # N, C, H', W', p, p
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, 3 * patch * patch)  # one row per patch
    pick = torch.randperm(len(patches), generator=torch.Generator().manual_seed(seed))[:max_patches]
    covariance = torch.cov(patches[pick].T.double())
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)                   # ascending
    filters = (eigenvectors.T / torch.sqrt(eigenvalues[:, None] + eps)).float()
    filters = filters.reshape(-1, 3, patch, patch)
    return torch.cat([filters, -filters]), eigenvalues, patches[pick]


def conv_block(c_in, c_out):
    """conv 3x3 -> max-pool 2x2 -> batch norm -> GELU -> conv 3x3 -> batch norm -> GELU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(c_out), nn.GELU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.GELU())


class FastCifarNet(nn.Module):
    """2x2 whitening convolution, GELU, three :func:`conv_block`, global max-pooling, a linear head / 9.

    With ``whitening`` (the filters of :func:`patch_whitening`) the first layer's weight is set to it, its
    bias to zero, and the weight is frozen; without, the first layer is an ordinary trainable convolution.
    """

    def __init__(self, widths=(32, 64, 128), whitening=None, logit_scale=1 / 9):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, kernel_size=2)
        if whitening is not None:                       # fixed, computed from the data
            with torch.no_grad():
                self.whiten.weight.copy_(whitening)
                self.whiten.bias.zero_()
            self.whiten.weight.requires_grad_(False)
        self.blocks = nn.Sequential(nn.GELU(), conv_block(24, widths[0]), conv_block(widths[0], widths[1]),
                                    conv_block(widths[1], widths[2]))
        self.head = nn.Linear(widths[2], 10, bias=False)
        self.logit_scale = logit_scale

    def forward(self, x):
        features = self.blocks(self.whiten(x)).amax(dim=(2, 3))      # global max-pooling
        return self.head(features) * self.logit_scale


@dataclass(frozen=True)
class Recipe:
    """The training settings of 05/04: Nesterov SGD, warm-up then linear decay, label smoothing, augmentation."""

    epochs: int = 10
    batch_size: int = 512
    lr: float = 0.2
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup: float = 0.2
    label_smoothing: float = 0.2
    max_shift: int = 2            # 0 = no translation
    flip: bool = True
    whitening: bool = True
    mixed: bool = True            # autocast in PRECISION; False: float32
    tta: bool = True
    widths: tuple = (32, 64, 128)
