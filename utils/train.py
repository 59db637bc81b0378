"""A plain PyTorch fit/evaluate loop with ``tqdm.auto`` progress and a history.

Introduced in ``01_neural_network_foundations/03_framework_tensors_mlps.ipynb``, where the
same loop is first written out by hand. Keras keeps its own ``model.fit``.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from tqdm.auto import tqdm


@dataclass
class History:
    """Per-epoch numbers of a training run, Keras-style: ``history.history["val_acc"]``."""

    history: dict[str, list[float]] = field(default_factory=dict)

    def add(self, **values: float) -> None:
        for key, value in values.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def last(self) -> dict[str, float]:
        return {k: v[-1] for k, v in self.history.items()}


class NonFiniteLoss(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


def _autocast(device: str, bf16: bool):
    if not bf16:
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16)


def evaluate(model, loader: Iterable, loss_fn: Callable | None = None, *, device: str = "cpu",
             bf16: bool = False) -> dict[str, float]:
    """Mean loss (if ``loss_fn``) and accuracy of ``model`` over ``loader``, in eval mode, no grad."""
    import torch

    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    with torch.no_grad(), _autocast(device, bf16):
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            out = model(xb)
            if loss_fn is not None:
                loss_sum += float(loss_fn(out.float(), yb)) * len(yb)
            if out.ndim == 2 and out.shape[1] > 1:
                correct += int((out.argmax(1) == yb).sum())
            total += len(yb)
    result = {"acc": correct / max(total, 1)}
    if loss_fn is not None:
        result["loss"] = loss_sum / max(total, 1)
    return result


def fit(model, train_loader: Iterable, loss_fn: Callable, optimizer, *, epochs: int = 1,
        val_loader: Iterable | None = None, scheduler: Any = None, device: str = "cpu",
        bf16: bool = False, clip_norm: float | None = None, desc: str = "train") -> History:
    """Train ``model`` for ``epochs`` and return a :class:`History` (loss, acc, val_loss, val_acc, time).

    ``scheduler`` is stepped once per epoch, after the optimizer (the order PyTorch expects).
    ``bf16=True`` runs forward passes under ``torch.autocast(dtype=torch.bfloat16)``.
    Stops with :class:`NonFiniteLoss` the moment the loss is NaN or infinite.
    """
    import torch

    model.to(device)
    history = History()
    for epoch in range(1, epochs + 1):
        model.train()
        start, seen, correct, loss_sum = time.perf_counter(), 0, 0, 0.0
        bar = tqdm(train_loader, desc=f"{desc} epoch {epoch}/{epochs}", leave=False)
        for step, (xb, yb) in enumerate(bar):
            xb, yb = xb.to(device), yb.to(device)
            with _autocast(device, bf16):
                out = model(xb)
            loss = loss_fn(out.float(), yb)
            if not math.isfinite(loss.item()):
                raise NonFiniteLoss(f"loss became {loss.item()} at epoch {epoch}, step {step}: the "
                                    "learning rate is probably too high (or the inputs are not normalised).")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
            optimizer.step()
            loss_sum += loss.item() * len(yb)
            if out.ndim == 2 and out.shape[1] > 1:
                correct += int((out.argmax(1) == yb).sum())
            seen += len(yb)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}")
        if scheduler is not None:
            scheduler.step()
        row = {"loss": loss_sum / seen, "acc": correct / seen}
        if val_loader is not None:
            val = evaluate(model, val_loader, loss_fn, device=device, bf16=bf16)
            row.update(val_loss=val["loss"], val_acc=val["acc"])
        row["time"] = time.perf_counter() - start
        history.add(**row)
        print(f"{desc} epoch {epoch:>3}/{epochs}: " + "  ".join(
            f"{k} {v:.4f}" if k != "time" else f"{v:.1f}s" for k, v in row.items()))
    return history


def predict(model, x, *, batch_size: int = 1024, device: str = "cpu"):
    """Model outputs for a NumPy array ``x`` as a NumPy array, in eval mode, batched, no grad."""
    import numpy as np
    import torch

    model.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            outs.append(model(torch.as_tensor(x[i:i + batch_size]).to(device)).float().cpu().numpy())
    return np.concatenate(outs)


def train_or_load(name: str, model, train_fn: Callable[[Any], dict | None], *, config: Any = None):
    """Train ``model`` once and cache its weights; later runs load them (uvadlc's train-or-load).

    ``train_fn(model)`` trains in place and may return a JSON-able dict (history, seconds, accuracy …),
    which is cached too. The checkpoint is ``data_dir()/checkpoints/{name}-{mode}-{hash of config}.pt`` —
    outside git, separate for quick and full mode, and never reused after ``config`` changes.
    ``DLF_RETRAIN=1`` ignores the cache (the committed full runs use it). Returns ``(info, loaded)``.
    Introduced in ``06_advanced_cnns/04_project_cat_dog_transfer.ipynb``.
    """
    import hashlib
    import json

    import torch

    from .config import data_dir, is_quick, wants_retrain

    digest = hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:10]
    path = data_dir() / "checkpoints" / f"{name}-{'quick' if is_quick() else 'full'}-{digest}.pt"
    if path.exists() and not wants_retrain():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(saved["state_dict"])
        print(f"loaded {name} from {path} (delete it, or set DLF_RETRAIN=1, to train again)")
        return json.loads(saved["info"]), True
    info = train_fn(model) or {}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save({"state_dict": model.state_dict(), "info": json.dumps(info)}, partial)
    partial.replace(path)  # atomic: an interrupted save never leaves a half checkpoint behind
    print(f"trained {name}; cached at {path}")
    return info, False


def flip_and_shift(images, generator, max_shift: int = 2):
    """Random horizontal flip and shift by up to ``max_shift`` pixels (reflect padding), per image.

    Vectorised over a whole NCHW tensor (one call per epoch), which on two CPU cores is several
    times faster than per-image torchvision v2 transforms; returns a channels-last tensor.
    Introduced and checked against an explicit flip + crop in ``05_cnns/04_project_cifar10.ipynb``;
    reused by chapter 06.
    """
    import torch
    import torch.nn.functional as F

    n = len(images)
    flip = torch.rand(n, generator=generator) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(3), images)
    if max_shift == 0:
        return images
    padded = F.pad(images, (max_shift,) * 4, mode="reflect")
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    out = torch.empty_like(images)
    size = images.shape[-1]
    for i in range(2 * max_shift + 1):
        for j in range(2 * max_shift + 1):
            chosen = (dy == i) & (dx == j)
            out[chosen] = padded[chosen][:, :, i:i + size, j:j + size]
    return out.contiguous(memory_format=torch.channels_last)


def count_multiply_adds(model, shape=(1, 3, 32, 32)) -> int:
    """Multiply-adds of one forward pass of a PyTorch model, from hooks on its Conv2d and Linear layers.

    Introduced in ``05_cnns/04_project_cifar10.ipynb``; chapter 06 checks it against
    ``torch.utils.flop_counter.FlopCounterMode`` (which counts 2 FLOPs per multiply-add).
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
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(shape))
    finally:
        for h in handles:
            h.remove()
    return total
