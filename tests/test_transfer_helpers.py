"""The transfer helpers of 06/04: ``utils.efficientnet.split_at`` and ``feature_maps`` (a frozen trunk run once
over a data set, mirrored or not) and ``utils.train.compute_or_load`` (its cache).

Random-weight models throughout: the helpers' arithmetic does not depend on the ImageNet weights.
"""
from __future__ import annotations

import numpy as np
import pytest

import torch  # noqa: E402  (PyTorch before TensorFlow: see CONTRIBUTING)

from utils import efficientnet as en  # noqa: E402
from utils import train  # noqa: E402


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = en.efficientnet_lite0(pretrained=False)  # random weights, eval mode
    for m in model.modules():  # He initialisation: activations of order 1 through all the layers, not ~1e-7
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    return model


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)


def test_split_at_composes_to_the_pooled_features(model, images):
    x = en.preprocess(images, 64)
    with torch.no_grad():
        whole = model.pool(model.feature_map(x))
        for block in (0, 15, 16):
            trunk, top = en.split_at(model, block)
            assert [name for name, _ in top.named_children()] == ["blocks", "head", "pool"]
            assert len(trunk.blocks) == block and len(top.blocks) == 16 - block
            # the same modules in the same order: the same float32 operations, so exactly equal
            assert torch.equal(top(trunk(x)), whole)
    trunk, top = en.split_at(model, 15)
    # the new containers start in the model's (eval) mode, so trunk.train(was_training) after a count stays eval
    assert not any(m.training for m in (*trunk.modules(), *top.modules()))
    model.train()
    assert all(m.training for part in en.split_at(model, 15) for m in part.modules())
    model.eval()
    assert trunk.stem is model.stem and top.head is model.head and top.blocks[0] is model.blocks[15]  # shared
    assert trunk(x).shape == (5, 192, 2, 2) and top(trunk(x)).shape == (5, 1280)
    with pytest.raises(ValueError, match="block=17"):
        en.split_at(model, 17)


def test_feature_maps_batches_and_mirrors(model, images):
    trunk, _ = en.split_at(model, 15)
    trunk.train()
    x = en.preprocess(images, 64)
    with torch.no_grad():
        expected = trunk.eval()(x)
        expected_mirror = trunk(x.flip(3))
    trunk.train()
    for channels_last in (True, False):
        got = en.feature_maps(trunk, images, 64, batch_size=2, channels_last=channels_last, progress=False)
        mirrored = en.feature_maps(trunk, images, 64, mirror=True, batch_size=3, channels_last=channels_last,
                                   progress=False)
        # channels-last kernels may sum in another order: float32 rounding of sums of a few hundred terms
        scale = float(expected.abs().max())
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * scale)
        torch.testing.assert_close(mirrored, expected_mirror, rtol=1e-4, atol=1e-5 * scale)
    assert trunk.training, "the module's mode must be restored"
    assert not torch.allclose(mirrored, got, atol=1e-2 * scale), "the mirror must change the maps (the check can fail)"
    # mirror=True mirrors the image, not the maps (a trunk is not flip-equivariant); resizing then mirroring
    # equals mirroring then resizing up to float32 rounding
    trunk.eval()
    torch.testing.assert_close(en.feature_maps(trunk, images[:, :, ::-1], 64, progress=False),
                               en.feature_maps(trunk, images, 64, mirror=True, progress=False),
                               rtol=1e-4, atol=1e-5 * scale)


def test_feature_maps_keep_the_autocast_dtype(model, images):
    trunk, _ = en.split_at(model, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        maps = en.feature_maps(trunk, images, 32, progress=False)
    assert maps.dtype == torch.bfloat16 and maps.device.type == "cpu"


def test_compute_or_load_caches_per_config_and_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("DLF_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DLF_RETRAIN", raising=False)
    monkeypatch.delenv("DLF_QUICK", raising=False)
    calls = []

    def compute():
        calls.append(1)
        return {"maps": torch.arange(6.0).reshape(2, 3).to(torch.bfloat16), "seconds": 1.5, "note": "x"}

    values, loaded = train.compute_or_load("maps", compute, config={"size": 128})
    assert not loaded and len(calls) == 1
    again, loaded = train.compute_or_load("maps", compute, config={"size": 128})
    assert loaded and len(calls) == 1
    assert again["maps"].dtype == torch.bfloat16 and torch.equal(again["maps"], values["maps"])
    assert again["seconds"] == 1.5 and again["note"] == "x"
    train.compute_or_load("maps", compute, config={"size": 96})  # another config: computed
    monkeypatch.setenv("DLF_QUICK", "1")
    train.compute_or_load("maps", compute, config={"size": 128})  # quick mode has its own file
    monkeypatch.delenv("DLF_QUICK")
    monkeypatch.setenv("DLF_RETRAIN", "1")
    train.compute_or_load("maps", compute, config={"size": 128})  # forced: computed again
    assert len(calls) == 4
    files = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(files) == 3 and all(f.endswith(".pt") for f in files), files
    assert sum("-quick-" in f for f in files) == 1
    with pytest.raises(TypeError, match="must return a dict"):
        train.compute_or_load("bad", lambda: torch.zeros(2), config=None)
