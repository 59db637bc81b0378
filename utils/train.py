"""One PyTorch training loop, ``fit``, with ``evaluate`` and ``predict`` on the same device and precision.

Introduced in ``01_neural_network_foundations/03_framework_tensors_mlps.ipynb``, where the
same loop is first written out by hand. Keras keeps its own ``model.fit``.

Where it runs: ``device`` defaults to :func:`utils.config.device` (``DLF_DEVICE``, else CUDA, MPS,
CPU) and ``precision`` to :func:`utils.config.precision` of that device (bfloat16 autocast where the
hardware has it, float16 autocast with a ``GradScaler`` on older GPUs such as Colab's T4, float32
elsewhere); pass ``precision="float32"`` when a lesson compares against a float32 computation.

History keys (one number per epoch; :func:`utils.plots.plot_history` draws them):

``loss``      mean training loss over the epoch's samples (as the model was while it trained)
``acc``       training accuracy (argmax of (N, C) outputs against N integer labels); absent otherwise
``val_loss``, ``val_acc``  the same on ``val_loader`` after the epoch, in eval mode (when given)
``lr``        the learning rate of the epoch's last step (the first parameter group's)
``time``      wall seconds of the epoch, validation included
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from . import config
from .config import Precision, autocast


@dataclass
class History:
    """Per-epoch numbers of a training run, Keras-style: ``history.history["val_acc"]`` (keys above)."""

    history: dict[str, list[float]] = field(default_factory=dict)

    def add(self, **values: float) -> None:
        for key, value in values.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def last(self) -> dict[str, float]:
        return {k: v[-1] for k, v in self.history.items()}


class NonFiniteLoss(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


class Callback:
    """What :func:`fit` calls while it trains; override what you need (any object with these methods works).

    ``on_step_end(step, loss, model)`` after every optimizer step (``step`` counts from 1 over the
    whole run, ``loss`` is the batch's float loss; the step's gradients are still in ``p.grad``,
    unscaled): gradient norms, attention maps. ``on_epoch_end(epoch, row, model)`` after every
    epoch with that epoch's history row: checkpoints, early stopping — return ``True`` to stop
    training after this epoch. It may add its own numbers to ``row`` (``row["val_bleu"] = ...``):
    they go into the history and the epoch's line. A plain function passed as a callback is called as ``on_epoch_end``.
    """

    def on_step_end(self, step: int, loss: float, model) -> None:
        pass

    def on_epoch_end(self, epoch: int, row: dict[str, float], model) -> bool | None:
        return None


class StepLog(Callback):
    """Keeps every optimizer step's training loss (``losses``) and the time just after it (``stamps``).

    ``fit``'s history has one number per epoch; curves of every step, and step timings (the
    difference of two stamps is one whole step: data, forward, backward, update), need this.
    Introduced in ``02_backprop/03_framework_autograd.ipynb``, which writes it out first.
    """

    def __init__(self):
        self.losses: list[float] = []
        self.stamps: list[float] = []

    def on_step_end(self, step: int, loss: float, model) -> None:
        self.losses.append(loss)
        self.stamps.append(time.perf_counter())


def _hooks(callbacks: Sequence[Any], name: str) -> list[Callable]:
    hooks = []
    for cb in callbacks:
        method = getattr(cb, name, None)
        if method is None and name == "on_epoch_end" and callable(cb) and not hasattr(cb, "on_step_end"):
            method = cb
        if method is not None:
            hooks.append(method)
    return hooks


def _policy(device: str, precision: Precision | str | None, bf16: bool | None) -> Precision:
    """The precision to run in; ``bf16`` is the older spelling (True: bfloat16, False: float32)."""
    if bf16 is not None:
        if precision is not None:
            raise ValueError("pass precision=... or the older bf16=..., not both")
        return config.precision(device, "bfloat16" if bf16 else "float32")
    if precision is None:
        return config.precision(device)
    if isinstance(precision, str):
        return config.precision(device, precision)
    return precision


def _model_device(model) -> str:
    """Where the model's first parameter (or buffer) lives, else :func:`utils.config.device`."""
    for tensor in (*model.parameters(), *model.buffers()):
        return str(tensor.device)
    return config.device()


def _to(batch, device: str, non_blocking: bool):
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to(b, device, non_blocking) for b in batch)
    return batch.to(device, non_blocking=non_blocking)


def _is_classification(out, yb) -> bool:
    """(N, C) class scores against N integer labels: then accuracy is counted (not for regression targets)."""
    return (out.ndim == 2 and out.shape[1] > 1 and yb.ndim == 1 and yb.shape[0] == out.shape[0]
            and not yb.dtype.is_floating_point and not yb.dtype.is_complex)


def _call(model, xb):
    return model(*xb) if isinstance(xb, (tuple, list)) else model(xb)


def _check_on_device(model, device: str) -> None:
    """Raise unless every parameter and buffer of ``model`` is on ``device``."""
    import torch

    want = torch.device(device)
    stray = [name for name, t in (*model.named_parameters(), *model.named_buffers())
             if t.device.type != want.type or (want.index is not None and t.device.index != want.index)]
    if stray:
        raise RuntimeError(f"after model.to({device!r}) these tensors are elsewhere: {', '.join(stray[:5])}"
                           + (" ..." if len(stray) > 5 else ""))


def evaluate(model, loader: Iterable, loss_fn: Callable | None = None, *, device: str | None = None,
             precision: Precision | str | None = None, bf16: bool | None = None) -> dict[str, float]:
    """Mean loss (if ``loss_fn``) and accuracy (for class scores and integer labels) of ``model`` over
    ``loader``, in eval mode, no grad.

    ``device`` defaults to where the model is; ``precision`` as in :func:`fit`.
    """
    import torch

    dev = str(device) if device is not None else _model_device(model)
    policy = _policy(dev, precision, bf16)
    model.to(dev).eval()
    non_blocking = dev.startswith("cuda")
    total, correct, loss_sum, classifier = 0, 0, 0.0, False
    with torch.no_grad(), autocast(dev, policy):
        for xb, yb in loader:
            xb, yb = _to(xb, dev, non_blocking), _to(yb, dev, non_blocking)
            out = _call(model, xb)
            if loss_fn is not None:
                loss_sum += float(loss_fn(out.float(), yb)) * len(yb)
            if _is_classification(out, yb):
                classifier = True
                correct += int((out.argmax(1) == yb).sum())
            total += len(yb)
    result = {"acc": correct / max(total, 1)} if classifier else {}
    if loss_fn is not None:
        result["loss"] = loss_sum / max(total, 1)
    return result


def fit(model, train_loader: Iterable, loss_fn: Callable, optimizer, *, epochs: int = 1,
        val_loader: Iterable | None = None, scheduler: Any = None, scheduler_step: str = "epoch",
        device: str | None = None, precision: Precision | str | None = None, bf16: bool | None = None,
        clip_norm: float | None = None, callbacks: Sequence[Any] = (), verbose: bool = True,
        max_steps: int | None = None, progress: bool = True, desc: str = "train") -> History:
    """Train ``model`` for ``epochs`` and return a :class:`History` (keys in the module docstring).

    ``scheduler`` is stepped after the optimizer, once per epoch (``scheduler_step="epoch"``; a
    ``ReduceLROnPlateau`` is given ``val_loss``, else ``loss``) or after every batch (``"step"``:
    warm-up, one-cycle, per-step cosine). ``device`` defaults to :func:`utils.config.device`,
    ``precision`` (a :class:`utils.config.Precision` or its name) to that device's policy; float16
    trains through a ``torch.amp.GradScaler``. ``bf16`` is the older, deprecated spelling:
    ``True`` means bfloat16 autocast whatever the device, ``False`` float32. ``clip_norm`` clips the
    global gradient norm. ``callbacks``: see :class:`Callback`. Shows one ``tqdm.auto`` bar for the
    whole run (``progress=False``: none; a notebook that calls ``fit`` dozens of times keeps its
    saved widgets small that way) and, unless ``verbose=False``, one line per epoch. The loader is
    iterated directly, once per epoch: wrapped in a Jupyter ``tqdm`` bar, a seeded shuffling
    ``DataLoader`` deals its batches in another order than in a script (seen with tqdm 4.70), so a
    hand-written loop that must match ``fit`` puts its bar over the epochs, not over the loader. Stops with :class:`NonFiniteLoss` the moment
    the loss is NaN or infinite. ``max_steps`` ends training after that many optimizer steps in all
    (the epoch it falls in is closed as usual: validation, scheduler, history row, callbacks), for
    step budgets that do not divide into whole epochs.
    """
    import torch
    from tqdm.auto import tqdm

    if scheduler_step not in ("epoch", "step"):
        raise ValueError(f"scheduler_step={scheduler_step!r}: expected 'epoch' or 'step'")
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps={max_steps}: expected a positive number of steps, or None")
    if plateau and scheduler_step == "step":
        raise ValueError("ReduceLROnPlateau needs a per-epoch number: use scheduler_step='epoch'")
    dev = str(device) if device is not None else config.device()
    policy = _policy(dev, precision, bf16)
    model.to(dev)
    _check_on_device(model, dev)
    scaler = policy.scaler(dev) if policy.grad_scaler else None
    non_blocking = dev.startswith("cuda")
    step_hooks, epoch_hooks = _hooks(callbacks, "on_step_end"), _hooks(callbacks, "on_epoch_end")
    history, step = History(), 0
    try:
        total = epochs * len(train_loader)
    except TypeError:  # a generator or iterable without a length
        total = None
    if max_steps is not None and total is not None:
        total = min(total, max_steps)
    bar = tqdm(total=total, desc=desc, leave=False, disable=not progress, unit="step")
    for epoch in range(1, epochs + 1):
        model.train()
        start, seen, loss_sum, lr = time.perf_counter(), 0, 0.0, float("nan")
        correct, classifier = torch.zeros((), dtype=torch.long, device=dev), False
        for batch, (xb, yb) in enumerate(train_loader):
            xb, yb = _to(xb, dev, non_blocking), _to(yb, dev, non_blocking)
            with autocast(dev, policy):
                out = _call(model, xb)
            loss = loss_fn(out.float(), yb)
            value = loss.item()
            if not math.isfinite(value):
                raise NonFiniteLoss(f"loss became {value} at epoch {epoch}, step {batch}: the learning "
                                    "rate is probably too high (or the inputs are not normalised).")
            optimizer.zero_grad(set_to_none=True)
            lr = optimizer.param_groups[0]["lr"]
            if scaler is None:
                loss.backward()
                if clip_norm is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)  # true gradients for clipping and for callbacks
                if clip_norm is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
                scaler.step(optimizer)
                scaler.update()
            if scheduler is not None and scheduler_step == "step":
                scheduler.step()
            step += 1
            loss_sum += value * len(yb)
            if _is_classification(out, yb):
                classifier = True
                correct += (out.argmax(1) == yb).sum()
            seen += len(yb)
            for hook in step_hooks:
                hook(step, value, model)
            bar.update(1)
            if batch % 20 == 0:
                bar.set_postfix(epoch=f"{epoch}/{epochs}", loss=f"{loss_sum / seen:.4f}")
            if max_steps is not None and step >= max_steps:
                break
        row = {"loss": loss_sum / seen}
        if classifier:
            row["acc"] = int(correct) / seen
        if val_loader is not None:
            val = evaluate(model, val_loader, loss_fn, device=dev, precision=policy)
            row["val_loss"] = val["loss"]
            if "acc" in val:
                row["val_acc"] = val["acc"]
        if scheduler is not None and scheduler_step == "epoch":
            if plateau:
                scheduler.step(row.get("val_loss", row["loss"]))
            else:
                scheduler.step()
        row["lr"] = lr
        row["time"] = time.perf_counter() - start
        stop = any([hook(epoch, row, model) for hook in epoch_hooks])  # every hook runs (and may add to row)
        history.add(**row)
        if verbose:
            print(f"{desc} epoch {epoch:>3}/{epochs}: " + "  ".join(_fmt(k, v) for k, v in row.items()))
        if stop or (max_steps is not None and step >= max_steps):
            break
    bar.close()
    return history


def _fmt(key: str, value: float) -> str:
    if key == "time":
        return f"{value:.1f}s"
    return f"{key} {value:.2e}" if key == "lr" else f"{key} {value:.4f}"


def predict(model, x, *, batch_size: int = 1024, device: str | None = None,
            precision: Precision | str | None = None, bf16: bool | None = None):
    """Model outputs for a NumPy array ``x`` as a float32 NumPy array, in eval mode, batched, no grad.

    ``device`` defaults to where the model is; ``precision`` as in :func:`fit`.
    """
    import numpy as np
    import torch

    dev = str(device) if device is not None else _model_device(model)
    policy = _policy(dev, precision, bf16)
    model.to(dev).eval()
    outs = []
    with torch.no_grad(), autocast(dev, policy):
        for i in range(0, len(x), batch_size):
            xb = torch.as_tensor(x[i:i + batch_size]).to(dev, non_blocking=dev.startswith("cuda"))
            outs.append(model(xb).float().cpu().numpy())
    return np.concatenate(outs)


def _cache_file(folder: str, name: str, config: Any):
    """``data_dir()/folder/{name}-{quick|full}-{hash of config}.pt``: one file per mode and configuration."""
    import hashlib
    import json

    from .config import data_dir, is_quick

    digest = hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return data_dir() / folder / f"{name}-{'quick' if is_quick() else 'full'}-{digest}.pt"


def _save_atomically(obj: Any, path) -> None:
    """``torch.save`` to a temporary name, then rename: an interrupted save never leaves a half file behind."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save(obj, partial)
    partial.replace(path)


def train_or_load(name: str, model, train_fn: Callable[[Any], dict | None], *, config: Any = None):
    """Train ``model`` once and cache its weights; later runs load them (uvadlc's train-or-load).

    ``train_fn(model)`` trains in place and may return a JSON-able dict (history, seconds, accuracy …),
    which is cached too. The checkpoint is ``data_dir()/checkpoints/{name}-{mode}-{hash of config}.pt`` —
    outside git, separate for quick and full mode, and never reused after ``config`` changes.
    ``DLF_RETRAIN=1`` ignores the cache (the committed full runs use it). Returns ``(info, loaded)``.
    Introduced in ``06_advanced_cnns/04_project_cat_dog_transfer.ipynb``.
    """
    import json

    import torch

    from .config import wants_retrain

    path = _cache_file("checkpoints", name, config)
    if path.exists() and not wants_retrain():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(saved["state_dict"])
        print(f"loaded {name} from {path} (delete it, or set DLF_RETRAIN=1, to train again)")
        return json.loads(saved["info"]), True
    info = train_fn(model) or {}
    _save_atomically({"state_dict": model.state_dict(), "info": json.dumps(info)}, path)
    print(f"trained {name}; cached at {path}")
    return info, False


def compute_or_load(name: str, compute: Callable[[], dict], *, config: Any = None) -> tuple[dict, bool]:
    """Compute a dict of tensors (and plain numbers) once and cache it; later runs load it.

    For expensive derived data such as the features of a frozen network over a whole data set:
    ``compute()`` returns e.g. ``{"train": tensor, "test": tensor, "seconds": 41.0}``. The file is
    ``data_dir()/cache/{name}-{mode}-{hash of config}.pt`` — outside git, separate for quick and full
    mode, and never reused after ``config`` changes, so ``config`` must name everything that changes
    the result (input size, weights, precision, the images ...). ``DLF_RETRAIN=1`` recomputes, as it
    retrains in :func:`train_or_load` (the committed full runs time the real computation).
    Returns ``(values, loaded)``. Introduced in ``06_advanced_cnns/04_project_cat_dog_transfer.ipynb``.
    """
    import torch

    from .config import wants_retrain

    path = _cache_file("cache", name, config)
    if path.exists() and not wants_retrain():
        values = torch.load(path, map_location="cpu", weights_only=True)
        print(f"loaded {name} from {path} (delete it, or set DLF_RETRAIN=1, to compute it again)")
        return values, True
    values = compute()
    if not isinstance(values, dict):
        raise TypeError(f"compute_or_load({name!r}): compute() must return a dict, got {type(values).__name__}")
    _save_atomically(values, path)
    print(f"computed {name}; cached at {path}")
    return values, False
