import subprocess
import sys

import numpy as np
import pytest

from utils import config, images, measure, plots, train
from utils.data import EpochBatches, ShuffledBatches, torch_loader


def _toy(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((256, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x, y


def _mlp(seed=0):
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))


def test_fit_learns_and_evaluates(capsys, monkeypatch):
    import torch

    monkeypatch.delenv("DLF_DEVICE", raising=False)
    x, y = _toy()
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    loader = torch_loader(x, y, batch_size=32, shuffle=True)
    hist = train.fit(model, loader, torch.nn.functional.cross_entropy, opt, epochs=5, val_loader=loader)
    assert set(hist.history) == {"loss", "acc", "val_loss", "val_acc", "lr", "time"}
    assert hist["loss"][-1] < hist["loss"][0] and hist.last()["val_acc"] > 0.9
    assert hist["lr"] == [0.5] * 5 and all(t > 0 for t in hist["time"])
    assert train.predict(model, x).shape == (256, 2)
    assert train.evaluate(model, loader, torch.nn.functional.cross_entropy)["acc"] > 0.9
    out = capsys.readouterr().out
    assert "epoch   5/5" in out and len(out.strip().splitlines()) == 5          # one line per epoch
    train.fit(model, loader, torch.nn.functional.cross_entropy, opt, epochs=2, verbose=False)
    assert capsys.readouterr().out == ""


def test_regression_outputs_have_no_accuracy_key():
    import torch

    x, y = _toy()
    model = torch.nn.Linear(2, 1)
    loader = torch_loader(x, y.astype(np.float32)[:, None], batch_size=64)
    hist = train.fit(model, loader, torch.nn.functional.mse_loss, torch.optim.SGD(model.parameters(), lr=0.1),
                     epochs=2, device="cpu", verbose=False)
    assert set(hist.history) == {"loss", "lr", "time"}


def test_fit_stops_on_nan():
    import torch

    x, y = _toy()
    x[5] = np.nan
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(train.NonFiniteLoss, match="learning rate"):
        train.fit(model, torch_loader(x, y, batch_size=256), torch.nn.functional.cross_entropy, opt)


def _lrs(scheduler_step, epochs=2, batches=4):
    import torch

    x, y = _toy()
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5 ** k)
    seen = []

    class LrWatch(train.Callback):
        def on_step_end(self, step, loss, model):
            seen.append(opt.param_groups[0]["lr"])

    hist = train.fit(model, torch_loader(x, y, batch_size=256 // batches), torch.nn.functional.cross_entropy, opt,
                     epochs=epochs, scheduler=sched, scheduler_step=scheduler_step, callbacks=[LrWatch()],
                     verbose=False)
    return hist["lr"], seen


def test_scheduler_per_epoch_or_per_step():
    per_epoch, seen = _lrs("epoch")
    assert per_epoch == [1.0, 0.5] and seen == [1.0] * 4 + [0.5] * 4      # seen after each step
    per_step, seen = _lrs("step")
    assert per_step == [0.5 ** 3, 0.5 ** 7] and seen == [0.5 ** k for k in range(1, 9)]
    with pytest.raises(ValueError, match="'epoch' or 'step'"):
        _lrs("batch")


def test_reduce_on_plateau_gets_the_validation_loss():
    import torch

    class Recorded(torch.optim.lr_scheduler.ReduceLROnPlateau):
        def step(self, metrics):
            given.append(metrics)
            super().step(metrics)

    x, y = _toy()
    model, given = _mlp(), []
    opt = torch.optim.SGD(model.parameters(), lr=1e-6)  # too small to improve: the scheduler must cut
    loader = torch_loader(x, y, batch_size=64)
    hist = train.fit(model, loader, torch.nn.functional.cross_entropy, opt, epochs=3, val_loader=loader,
                     scheduler=Recorded(opt, patience=0, factor=0.1), verbose=False,
                     precision="float32")  # in bfloat16 (a CPU with native bf16) both losses round to one value
    assert given == hist["val_loss"] and given != hist["loss"]
    assert hist["lr"] == pytest.approx([1e-6, 1e-6, 1e-7])
    with pytest.raises(ValueError, match="per-epoch"):
        train.fit(model, loader, torch.nn.functional.cross_entropy, opt, scheduler=Recorded(opt), scheduler_step="step")


def test_callbacks_are_called_with_the_right_counts_and_can_stop():
    import torch

    x, y = _toy()
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    steps, epochs, norms = [], [], []

    class Watch(train.Callback):
        def on_step_end(self, step, loss, model):
            steps.append((step, loss))
            norms.append(float(torch.nn.utils.get_total_norm([p.grad for p in model.parameters()])))

        def on_epoch_end(self, epoch, row, model):
            epochs.append((epoch, sorted(row)))

    plain = []
    loader = torch_loader(x, y, batch_size=64)                                  # 4 batches
    train.fit(model, loader, torch.nn.functional.cross_entropy, opt, epochs=3, callbacks=[Watch(), lambda e, row, m: plain.append(e)],
              verbose=False)
    assert [s for s, _ in steps] == list(range(1, 13)) and all(np.isfinite(l) for _, l in steps)
    assert epochs == [(e, ["acc", "loss", "lr", "time"]) for e in (1, 2, 3)] and plain == [1, 2, 3]
    assert all(n > 0 for n in norms)                                            # gradients still there

    class StopAfterTwo(train.Callback):
        def on_epoch_end(self, epoch, row, model):
            return epoch == 2

    hist = train.fit(model, loader, torch.nn.functional.cross_entropy, opt, epochs=5, callbacks=[StopAfterTwo()],
                     verbose=False)
    assert len(hist["loss"]) == 2


def test_old_bf16_argument_and_precision_choose_the_autocast_dtype():
    import torch

    x, y = _toy()
    loader = torch_loader(x, y, batch_size=128)
    for kwargs, dtype in (({"bf16": True}, torch.bfloat16), ({"bf16": False}, torch.float32),
                          ({"precision": "bfloat16"}, torch.bfloat16), ({"precision": "float32"}, torch.float32)):
        model, dtypes = _mlp(), set()
        model[0].register_forward_hook(lambda m, i, out: dtypes.add(out.dtype))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train.fit(model, loader, torch.nn.functional.cross_entropy, opt, epochs=1, val_loader=loader,
                  scheduler=torch.optim.lr_scheduler.StepLR(opt, 1), device="cpu", clip_norm=1.0, desc="old",
                  verbose=False, **kwargs)
        assert dtypes == {dtype}, kwargs                                        # training and validation
        dtypes.clear()
        train.evaluate(model, loader, **kwargs)
        train.predict(model, x, **kwargs)
        assert dtypes == {dtype}, kwargs
    with pytest.raises(ValueError, match="not both"):
        train.fit(model, loader, torch.nn.functional.cross_entropy, opt, bf16=True, precision="float32")


def test_float16_policy_trains_through_an_unscaled_grad_scaler(monkeypatch):
    """The T4 path (float16 + GradScaler), run on the CPU: the policy is what config gives a CUDA 7.5 GPU."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    t4 = config.precision("cuda")
    monkeypatch.undo()
    assert t4.grad_scaler and t4.dtype == torch.float16
    monkeypatch.setattr(config, "precision", lambda device=None, name=None: t4)  # the CPU gets the T4's policy
    x, y = _toy()
    model, dtypes, norms = _mlp(), set(), []
    model[0].register_forward_hook(lambda m, i, out: dtypes.add(out.dtype))

    class GradNorm(train.Callback):
        def on_step_end(self, step, loss, model):
            norms.append(float(torch.nn.utils.get_total_norm([p.grad for p in model.parameters()])))

    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    hist = train.fit(model, torch_loader(x, y, batch_size=32, shuffle=True), torch.nn.functional.cross_entropy, opt,
                     epochs=3, device="cpu", callbacks=[GradNorm()], verbose=False)
    assert dtypes == {torch.float16} and hist["loss"][-1] < hist["loss"][0] and hist["acc"][-1] > 0.9
    assert max(norms) < 100                # unscaled: the scaler multiplies the loss by 65536 before backward


def test_fit_refuses_a_model_left_off_the_device():
    import torch

    class Stuck(torch.nn.Linear):
        def to(self, *args, **kwargs):       # a wrong .to() that moves nothing
            return self

    x, y = _toy()
    model = Stuck(2, 2)
    with pytest.raises(RuntimeError, match="elsewhere: weight, bias"):
        train.fit(model, torch_loader(x, y), torch.nn.functional.cross_entropy,
                  torch.optim.SGD(model.parameters(), lr=0.1), device="meta")
    moved = torch.nn.Linear(2, 2).to("meta")
    train._check_on_device(moved, "meta")                                        # a moved model passes


def test_plots_run_and_confusion_matrix_counts():
    import matplotlib

    dpi = matplotlib.rcParams["figure.dpi"]
    y_true = np.array([0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0])
    cm = plots.confusion_matrix(y_true, y_pred, 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    assert plots.plot_confusion_matrix(y_true, y_pred, ["a", "b", "c"]).sum() == 5
    fig = plots.plot_history({"loss": [1, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]})
    assert fig.dpi == 80 and matplotlib.rcParams["figure.dpi"] == dpi            # style inside, not global
    assert plots.image_grid(np.zeros((3, 784)), labels=[1, 2, 3], preds=[1, 0, 3]) is not None
    x, y = _toy()
    plots.plot_decision_boundary(lambda p: (p.sum(1) > 0).astype(int), x, y, resolution=20)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_plot_history_keeps_the_label_of_a_single_history():
    import matplotlib.pyplot as plt

    h = {"loss": [1, 0.5], "val_loss": [1.1, 0.7]}
    legend = lambda fig: [t.get_text() for t in fig.axes[0].get_legend().get_texts()]  # noqa: E731
    assert legend(plots.plot_history(h, labels=["PyTorch"], metrics=("loss",))) == ["PyTorch train", "PyTorch val"]
    assert legend(plots.plot_history(h, metrics=("loss",))) == ["train", "val"]
    assert legend(plots.plot_history(h, h, metrics=("loss",)))[::2] == ["run 1 train", "run 2 train"]
    with pytest.raises(ValueError, match="2 labels for 1 histories"):
        plots.plot_history(h, labels=["a", "b"])
    plt.close("all")


def test_import_utils_does_not_import_pyplot():
    code = ("import sys, utils; print('matplotlib.pyplot' in sys.modules); "
            "utils.plots.plot_history({'loss': [1, 0.5]}); print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"MPLBACKEND": "Agg", **__import__("os").environ})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "True"]                              # first use imports it


def test_each_call_style_shows_the_figure_exactly_once_in_jupyter(monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    cells = {
        "setup": "import numpy as np, matplotlib.pyplot as plt, utils\nh = {'loss': [1, 0.5], 'val_loss': [1.2, 0.8]}",
        "bare": "utils.plots.plot_history(h)",
        "assigned": "fig = utils.plots.plot_history(h)",
        "underscore": "_ = utils.plots.image_grid(np.zeros((2, 4, 4)))",
        "then_show": "utils.plots.plot_history(h)\nplt.show()",
        "assigned_then_show": "fig = utils.plots.plot_history(h)\nplt.show()",
        "matrix": "utils.plots.plot_confusion_matrix(np.array([0, 1]), np.array([0, 1]))",
        "boundary": "utils.plots.plot_decision_boundary(lambda p: p[:, 0] > 0, np.eye(2), np.arange(2), resolution=5)",
        "two_in_a_loop": "for _ in range(2):\n    fig = utils.plots.plot_history(h)",
        "shown_again_on_request": "fig",
        "plain_pyplot_control": "f, ax = plt.subplots()\nf",   # the counter sees a double display
    }
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in cells.values()])
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel gets Jupyter's inline backend, as learners do
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(root)}}).execute()
    images = {name: sum("image/png" in o.get("data", {}) for o in cell.outputs)
              for name, cell in zip(cells, nb.cells)}
    assert images == {"setup": 0, "bare": 1, "assigned": 1, "underscore": 1, "then_show": 1,
                      "assigned_then_show": 1, "matrix": 1, "boundary": 1, "two_in_a_loop": 2,
                      "shown_again_on_request": 1, "plain_pyplot_control": 2}


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

    images_ = torch.randn(64, 3, 8, 8)
    out = images.flip_and_shift(images_, torch.Generator().manual_seed(0), max_shift=2)
    assert out.shape == images_.shape and out.is_contiguous(memory_format=torch.channels_last)
    padded = F.pad(torch.cat([images_, images_.flip(3)]), (2,) * 4, mode="reflect")
    crops = {(k, i, j) for k in range(2) for i in range(5) for j in range(5)}
    for n in range(len(images_)):
        matches = [(k, i, j) for k, i, j in crops
                   if torch.equal(out[n], padded[k * len(images_) + n, :, i:i + 8, j:j + 8])]
        assert matches, f"image {n} is not a flip + shift of its original"
    again = images.flip_and_shift(images_, torch.Generator().manual_seed(0), max_shift=2)
    assert torch.equal(out, again)                                   # the generator alone decides
    flipped_only = images.flip_and_shift(images_, torch.Generator().manual_seed(0), max_shift=0)
    assert all(torch.equal(a, b) or torch.equal(a, b.flip(2)) for a, b in zip(flipped_only, images_))
    assert not torch.equal(out, images_)                             # it does change the batch


def test_count_multiply_adds_equals_half_the_flop_counter():
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, groups=4),
                        nn.Flatten(), nn.Linear(8 * 7 * 7, 10))
    with FlopCounterMode(display=False) as flops, torch.no_grad():
        net(torch.zeros(1, 3, 16, 16))
    assert measure.count_multiply_adds(net, (1, 3, 16, 16)) == flops.get_total_flops() // 2
    assert all(not m._forward_hooks for m in net.modules())              # the hooks are removed
    assert net.training                                                 # and the mode is the caller's


def test_best_time_is_the_fastest_repeat_per_call_in_seconds():
    ticks = iter([0.0, 2.0, 10.0, 11.0, 20.0, 23.0])                   # repeats of 2.0, 1.0 and 3.0 seconds
    calls = []
    best = measure.best_time(lambda: calls.append(1), repeat=3, number=4, clock=lambda: next(ticks))
    assert best == 0.25 and len(calls) == 12                            # 1.0 s for 4 calls
    assert 0.005 <= measure.best_time(lambda: __import__("time").sleep(0.005), repeat=2) < 1
    with pytest.raises(ValueError, match="at least 1"):
        measure.best_time(lambda: None, repeat=0)


def test_call_times_keeps_every_call_after_the_warm_up():
    ticks = iter([0.0, 2.0, 10.0, 11.0, 20.0, 23.0])                   # calls of 2.0, 1.0 and 3.0 seconds
    calls = []
    times = measure.call_times(lambda: calls.append(1), 3, warmup=2, clock=lambda: next(ticks))
    assert times == [2.0, 1.0, 3.0] and len(calls) == 5                 # 2 warm-up calls are not timed
    assert [t >= 0 for t in measure.call_times(lambda: None, 2, warmup=0)] == [True, True]  # the real clock
    with pytest.raises(ValueError, match="at least 1"):
        measure.call_times(lambda: None, 0)
    with pytest.raises(ValueError, match="warmup"):
        measure.call_times(lambda: None, 1, warmup=-1)


def test_fit_max_steps_and_callbacks_that_add_numbers():
    import torch

    x, y = _toy()
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = torch_loader(x, y, batch_size=32)  # 8 steps an epoch
    steps = []

    class Watch(train.Callback):
        def on_step_end(self, step, loss, model):
            steps.append(step)

        def on_epoch_end(self, epoch, row, model):
            row["weight_norm"] = float(model[0].weight.detach().norm())

    hist = train.fit(model, loader, torch.nn.functional.cross_entropy, opt, epochs=10, max_steps=12,
                     callbacks=[Watch()], device="cpu", verbose=False)
    assert steps == list(range(1, 13))  # stops after the 12th step, inside epoch 2
    assert len(hist["loss"]) == 2 and len(hist["weight_norm"]) == 2
    with pytest.raises(ValueError, match="max_steps"):
        train.fit(model, loader, torch.nn.functional.cross_entropy, opt, max_steps=0)


def test_fit_batches_do_not_depend_on_the_progress_bar(monkeypatch):
    """The loader is iterated once per epoch whichever tqdm is in use (a notebook's widget or the terminal's),
    so a seeded shuffling loader gives the same training in a notebook, in a script and with progress=False."""
    import torch
    import tqdm.auto
    import tqdm.notebook

    def run(**kwargs):
        x, y = _toy()
        model = torch.nn.Linear(2, 2)
        torch.manual_seed(0)
        model.reset_parameters()
        loader = torch_loader(x, y, batch_size=32, shuffle=True, seed=3)
        train.fit(model, loader, torch.nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
                  epochs=3, device="cpu", verbose=False, **kwargs)
        return model.weight.detach().numpy().copy()

    terminal, silent = run(), run(progress=False)
    monkeypatch.setattr(tqdm.auto, "tqdm", tqdm.notebook.tqdm)
    notebook = run()
    np.testing.assert_array_equal(terminal, silent)
    np.testing.assert_array_equal(terminal, notebook)


def test_multi_output_regression_has_no_accuracy():
    """(N, C) outputs against float targets are a regression: no acc, no val_acc, no crash."""
    import torch

    x, _ = _toy()
    y = np.stack([x[:, 0] + x[:, 1], x[:, 0] - x[:, 1]], axis=1).astype(np.float32)
    model = torch.nn.Linear(2, 2)
    loader = torch_loader(x, y, batch_size=64)
    hist = train.fit(model, loader, torch.nn.functional.mse_loss, torch.optim.SGD(model.parameters(), lr=0.1),
                     epochs=3, val_loader=loader, device="cpu", verbose=False)
    assert set(hist.history) == {"loss", "val_loss", "lr", "time"} and hist["loss"][-1] < hist["loss"][0]
    assert set(train.evaluate(model, loader, torch.nn.functional.mse_loss)) == {"loss"}


def test_shuffled_batches_cover_every_sample_once_per_epoch_in_a_new_seeded_order():
    import torch

    x, y = torch.arange(10.0)[:, None], torch.arange(10)
    batches = ShuffledBatches(x, y, batch_size=4, seed=1)
    assert len(batches) == 3
    epochs = [[yb.tolist() for _, yb in batches] for _ in range(2)]
    for epoch in epochs:
        assert [len(b) for b in epoch] == [4, 4, 2] and sorted(sum(epoch, [])) == list(range(10))
    assert epochs[0] != epochs[1]                                        # reshuffled every pass
    again = ShuffledBatches(x, y, batch_size=4, seed=1)
    assert [[yb.tolist() for _, yb in again] for _ in range(2)] == epochs  # the seed alone decides
    for xb, yb in batches:
        assert torch.equal(xb[:, 0].long(), yb)                         # samples stay paired with labels
    dropped = ShuffledBatches(x, y, batch_size=4, seed=1, drop_last=True)
    assert len(dropped) == 2 and [len(yb) for _, yb in dropped] == [4, 4]
    with pytest.raises(ValueError, match="samples"):
        ShuffledBatches(x, y[:9], batch_size=4)
    with pytest.raises(ValueError, match="batch_size"):
        ShuffledBatches(x, y, batch_size=0)


def test_shuffled_batches_transform_once_per_epoch_before_the_order_is_drawn():
    import torch

    calls = []

    def negate_some(x, generator):                                       # an augmentation that uses the generator
        calls.append(1)
        flip = torch.rand(len(x), generator=generator) < 0.5
        return torch.where(flip[:, None], -x, x)

    x, y = torch.arange(1.0, 9.0)[:, None], torch.arange(8)
    batches = ShuffledBatches(x, y, batch_size=3, seed=0, transform=negate_some)
    out = [(xb, yb) for xb, yb in batches]
    assert len(calls) == 1
    for xb, yb in out:
        assert torch.equal(xb[:, 0].abs().long() - 1, yb)
    generator = torch.Generator().manual_seed(0)                         # the same stream, written out
    expected_x = negate_some(x, generator)
    order = torch.randperm(8, generator=generator)
    assert torch.equal(torch.cat([xb for xb, _ in out]), expected_x[order])


def test_epoch_batches_draw_anew_every_epoch_and_fit_uses_them():
    import torch

    x, y = _toy()
    draws = []

    def draw():
        draws.append(1)
        for k in range(0, len(x), 64):
            yield torch.from_numpy(x[k:k + 64]), torch.from_numpy(y[k:k + 64])

    batches = EpochBatches(draw, n_batches=4)
    model = _mlp()
    log = train.StepLog()
    train.fit(model, batches, torch.nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
              epochs=3, callbacks=[log], device="cpu", verbose=False)
    assert len(draws) == 3 and len(batches) == 4
    assert len(log.losses) == 12 and len(log.stamps) == 12
    assert all(isinstance(v, float) for v in log.losses) and log.stamps == sorted(log.stamps)
    assert np.mean(log.losses[-4:]) < np.mean(log.losses[:4])          # the losses are the training's
