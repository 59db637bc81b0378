import numpy as np
import pytest

from utils import plots, train
from utils.data import torch_loader


def _toy(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((256, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x, y


def test_fit_learns_and_evaluates(capsys):
    import torch

    torch.manual_seed(0)
    x, y = _toy()
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    loader = torch_loader(x, y, batch_size=32, shuffle=True)
    hist = train.fit(model, loader, torch.nn.functional.cross_entropy, opt, epochs=5, val_loader=loader)
    assert set(hist.history) == {"loss", "acc", "val_loss", "val_acc", "time"}
    assert hist["loss"][-1] < hist["loss"][0] and hist.last()["val_acc"] > 0.9
    assert train.predict(model, x).shape == (256, 2)
    assert "epoch   5/5" in capsys.readouterr().out


def test_fit_stops_on_nan():
    import torch

    x, y = _toy()
    x[5] = np.nan
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(train.NonFiniteLoss, match="learning rate"):
        train.fit(model, torch_loader(x, y, batch_size=256), torch.nn.functional.cross_entropy, opt)


def test_plots_run_and_confusion_matrix_counts():
    y_true = np.array([0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0])
    cm = plots.confusion_matrix(y_true, y_pred, 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    assert plots.plot_confusion_matrix(y_true, y_pred, ["a", "b", "c"]).sum() == 5
    plots.plot_history({"loss": [1, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]})
    plots.image_grid(np.zeros((3, 784)), labels=[1, 2, 3], preds=[1, 0, 3])
    x, y = _toy()
    plots.plot_decision_boundary(lambda p: (p.sum(1) > 0).astype(int), x, y, resolution=20)


def test_train_or_load_caches_per_config(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("DLF_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DLF_RETRAIN", raising=False)
    calls = []

    def train_fn(model):
        calls.append(1)
        with torch.no_grad():
            model.weight.fill_(3.0)
        return {"seconds": 1.5}

    info, loaded = train.train_or_load("toy", torch.nn.Linear(2, 2), train_fn, config={"lr": 0.1})
    assert (info, loaded, len(calls)) == ({"seconds": 1.5}, False, 1)
    fresh = torch.nn.Linear(2, 2)
    info, loaded = train.train_or_load("toy", fresh, train_fn, config={"lr": 0.1})
    assert loaded and info == {"seconds": 1.5} and len(calls) == 1
    assert torch.equal(fresh.weight, torch.full((2, 2), 3.0))
    train.train_or_load("toy", torch.nn.Linear(2, 2), train_fn, config={"lr": 0.2})  # new config: trains
    monkeypatch.setenv("DLF_RETRAIN", "1")
    train.train_or_load("toy", torch.nn.Linear(2, 2), train_fn, config={"lr": 0.1})  # forced: trains
    assert len(calls) == 3
    assert not list((tmp_path / "checkpoints").glob("*.partial"))


def test_flip_and_shift_is_an_exact_flip_plus_shift():
    import torch
    import torch.nn.functional as F

    images = torch.randn(64, 3, 8, 8)
    out = train.flip_and_shift(images, torch.Generator().manual_seed(0), max_shift=2)
    assert out.shape == images.shape and out.is_contiguous(memory_format=torch.channels_last)
    padded = F.pad(torch.cat([images, images.flip(3)]), (2,) * 4, mode="reflect")
    crops = {(k, i, j) for k in range(2) for i in range(5) for j in range(5)}
    for n in range(len(images)):
        matches = [(k, i, j) for k, i, j in crops
                   if torch.equal(out[n], padded[k * len(images) + n, :, i:i + 8, j:j + 8])]
        assert matches, f"image {n} is not a flip + shift of its original"
    again = train.flip_and_shift(images, torch.Generator().manual_seed(0), max_shift=2)
    assert torch.equal(out, again)                                   # the generator alone decides
    flipped_only = train.flip_and_shift(images, torch.Generator().manual_seed(0), max_shift=0)
    assert all(torch.equal(a, b) or torch.equal(a, b.flip(2)) for a, b in zip(flipped_only, images))
    assert not torch.equal(out, images)                              # it does change the batch


def test_count_multiply_adds_equals_half_the_flop_counter():
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, groups=4),
                        nn.Flatten(), nn.Linear(8 * 7 * 7, 10))
    with FlopCounterMode(display=False) as flops, torch.no_grad():
        net(torch.zeros(1, 3, 16, 16))
    assert train.count_multiply_adds(net, (1, 3, 16, 16)) == flops.get_total_flops() // 2
    assert all(not m._forward_hooks for m in net.modules())              # the hooks are removed
