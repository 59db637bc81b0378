"""The five course data sets as NumPy arrays, the same arrays for NumPy, PyTorch and TensorFlow.

Introduced in ``01_neural_network_foundations/02_scratch_mlp.ipynb``.

Each loader looks in :func:`utils.config.data_dir` first (``$DLF_DATA_DIR``, laid out
like the official downloads once unpacked, see ``../shared/data/README.md``). When the
files are not there it downloads them from the official source with ``pooch``
(checksum, HTTP status check, atomic write, a mirror where one exists). When neither
works it raises :class:`DataError` naming the data set, the directory and the
environment variable to set. ``DLF_OFFLINE=1`` forbids downloads altogether (CI).

In quick mode (``DLF_QUICK=1``) the loaders return small, stratified subsets and say so.
"""
from __future__ import annotations

import gzip
import os
import pickle
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .config import data_dir, is_offline, is_quick

ENV_HINT = "DLF_DATA_DIR"


class DataError(RuntimeError):
    """A data set could not be found, downloaded or read."""


# --------------------------------------------------------------------------- sources
# (file name, md5 of the official file). Files found in the data directory are
# parsed and validated (sizes, headers) rather than hashed, since offline copies may
# be re-compressed; files this module downloads are always hash-checked.
_MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
_FASHION_FILES = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
SOURCES: dict[str, dict] = {
    "mnist": {
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
                    "https://storage.googleapis.com/cvdf-datasets/mnist/"],
        "files": _MNIST_FILES,
    },
    "fashion-mnist": {
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"],
        "files": _FASHION_FILES,
    },
    "cifar-10": {
        "mirrors": ["https://www.cs.toronto.edu/~kriz/"],
        "files": {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"},
    },
    "tiny-shakespeare": {
        "mirrors": ["https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"],
        "files": {"input.txt": "6fb458f1232090904fb40fe944165e91"},
    },
    "multi30k": {
        "mirrors": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/"],
        "files": {},  # filled below: one per split and language
    },
}

MNIST_CLASSES = [str(d) for d in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
MULTI30K_LANGS = ("en", "de", "fr", "cs")
MULTI30K_SPLITS = {"train": "train", "val": "val", "test": "test_2016_flickr"}
_MULTI30K_LINES = {"train": 29000, "val": 1014, "test": 1000}
# md5 of the repository's raw files (task 1), as the offline copies here have them.
_MULTI30K_MD5 = {
    "train.en.gz": "0065d13af80720a55ca8153d126e6627", "train.de.gz": "81ff90b99829c0cd4b1b587d394afd39", "train.fr.gz": "6cb767741dcad3931f966fefbc05203f", "train.cs.gz": "d9a5fc268917725a2b0efce3a0cc8607",
    "val.en.gz": "2b69aa9253948ac9f67e94917272dd40", "val.de.gz": "6e0e229eb049e3fc99a1ef02fb2d5f91", "val.fr.gz": "93fc564584b7e5ba410c761ea5a1c682", "val.cs.gz": "83cdc082f646b769095615384cf5c0ca",
    "test_2016_flickr.en.gz": "ff2c0fcb4893a13bd73414306bc250ae", "test_2016_flickr.de.gz": "efd67d314d98489b716b145475101932",
    "test_2016_flickr.fr.gz": "08dc7cd4a662f31718412de95ca9bfe3", "test_2016_flickr.cs.gz": "3104872229daa1bef3b401d44dd2220b",
}
SOURCES["multi30k"]["files"] = _MULTI30K_MD5

#: Default quick-mode sizes (train, test).
QUICK_SIZES = {"mnist": (4000, 1000), "fashion-mnist": (4000, 1000), "cifar-10": (4000, 1000)}


@dataclass
class ImageData:
    """Images and labels of one data set: ``x_*`` float32 in [0, 1] (N, H, W) or (N, H, W, C)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"ImageData({self.name}: train {self.x_train.shape} {self.x_train.dtype}, "
                f"test {self.x_test.shape}, {len(self.classes)} classes)")


# --------------------------------------------------------------------------- fetching
def _dataset_dir(name: str) -> Path:
    return data_dir() / name


def _missing(name: str, folder: Path, files: Sequence[str], why: str) -> DataError:
    return DataError(
        f"{name}: cannot find {', '.join(files)} in {folder} and could not download them ({why}). "
        f"Put the files there, or set {ENV_HINT} to a directory that has a '{name}/' folder "
        f"(offline copies: python ../shared/data/materialize.py DIR; export {ENV_HINT}=DIR)."
    )


def fetch(name: str, filename: str) -> Path:
    """Path to ``filename`` of data set ``name``: found in the data directory, else downloaded.

    Downloads go through ``pooch.retrieve`` (md5 check, HTTP errors raised, written to a
    temporary file and moved into place, so an interrupted download never leaves a half file),
    trying each mirror in turn.
    """
    src = SOURCES[name]
    folder = _dataset_dir(name)
    path = folder / filename
    if path.exists():
        return path
    if is_offline():
        raise _missing(name, folder, [filename], "DLF_OFFLINE=1 forbids downloads")
    import pooch

    md5 = src["files"].get(filename)
    errors = []
    for mirror in src["mirrors"]:
        try:
            got = pooch.retrieve(mirror + filename, known_hash=f"md5:{md5}" if md5 else None,
                                 fname=filename, path=folder, progressbar=True)
            return Path(got)
        except Exception as err:  # network, HTTP status or checksum: try the next mirror
            errors.append(f"{mirror}: {type(err).__name__}: {err}")
    raise _missing(name, folder, [filename], "; ".join(errors))


def _read_gz(path: Path, name: str) -> bytes:
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError(f"{name}: {path} is corrupt or truncated ({err}); delete it and run again "
                        f"to download a fresh copy, or point {ENV_HINT} elsewhere.") from err


def _parse_idx(raw: bytes, path: Path, name: str) -> np.ndarray:
    """Parse an IDX file (the MNIST format): magic, dims, then uint8 data."""
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
        raise DataError(f"{name}: {path} is not an IDX file of unsigned bytes.")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    start = 4 + 4 * ndim
    if len(raw) - start != int(np.prod(shape)):
        raise DataError(f"{name}: {path} is truncated ({len(raw) - start} bytes of data for shape "
                        f"{shape}); delete it and run again.")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(shape)


# --------------------------------------------------------------------------- subsets
def stratified_indices(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` indices into ``y`` with (almost) the class proportions of ``y``, in random order."""
    y = np.asarray(y)
    if n >= len(y):
        return np.arange(len(y))
    gen = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    share = counts / counts.sum() * n
    take = np.floor(share).astype(int)
    take[np.argsort(share - take)[::-1][: n - take.sum()]] += 1  # largest remainders
    picked = [gen.choice(np.flatnonzero(y == c), k, replace=False) for c, k in zip(classes, take)]
    return gen.permutation(np.concatenate(picked))


def _maybe_quick(data: ImageData, n_train: int | None, n_test: int | None, seed: int) -> ImageData:
    q_train, q_test = QUICK_SIZES.get(data.name, (4000, 1000))
    if n_train is None and is_quick():
        n_train = q_train
    if n_test is None and is_quick():
        n_test = q_test
    if n_train is None and n_test is None:
        return data
    tr = stratified_indices(data.y_train, n_train or len(data.y_train), seed)
    te = stratified_indices(data.y_test, n_test or len(data.y_test), seed + 1)
    why = "quick mode" if is_quick() else "subset requested"
    print(f"{data.name}: {why}: using a stratified {len(tr):,} of {len(data.y_train):,} training "
          f"and {len(te):,} of {len(data.y_test):,} test images")
    return ImageData(data.name, data.x_train[tr], data.y_train[tr], data.x_test[te], data.y_test[te],
                     data.classes)


def _idx_dataset(name: str, classes: list[str], n_train, n_test, seed, flatten) -> ImageData:
    arrays = {}
    for fname in SOURCES[name]["files"]:
        path = fetch(name, fname)
        arrays[fname.split("-")[0] + ("_x" if "images" in fname else "_y")] = _parse_idx(
            _read_gz(path, name), path, name)
    for part in ("train", "t10k"):
        if len(arrays[f"{part}_x"]) != len(arrays[f"{part}_y"]):
            raise DataError(f"{name}: {part} images and labels differ in count.")
    data = ImageData(name, arrays["train_x"], arrays["train_y"].astype(np.int64),
                     arrays["t10k_x"], arrays["t10k_y"].astype(np.int64), classes)
    data = _maybe_quick(data, n_train, n_test, seed)
    return _finish(data, flatten)


def _finish(data: ImageData, flatten: bool) -> ImageData:
    def conv(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32) / 255.0
        return x.reshape(len(x), -1) if flatten else x

    data.x_train, data.x_test = conv(data.x_train), conv(data.x_test)
    return data


# --------------------------------------------------------------------------- loaders
def load_mnist(n_train: int | None = None, n_test: int | None = None, *, seed: int = 0,
               flatten: bool = False) -> ImageData:
    """MNIST digits: 60,000 + 10,000 images 28×28, float32 in [0, 1], labels int64 0–9.

    ``n_train``/``n_test`` take stratified subsets (quick mode picks small ones itself);
    ``flatten=True`` returns (N, 784) rows for an MLP.
    """
    return _idx_dataset("mnist", MNIST_CLASSES, n_train, n_test, seed, flatten)


def load_fashion_mnist(n_train: int | None = None, n_test: int | None = None, *, seed: int = 0,
                       flatten: bool = False) -> ImageData:
    """Fashion-MNIST: Zalando's 28×28 clothing images, same shapes as :func:`load_mnist`."""
    return _idx_dataset("fashion-mnist", FASHION_CLASSES, n_train, n_test, seed, flatten)


def _cifar_dir() -> Path:
    folder = _dataset_dir("cifar-10")
    batches = folder / "cifar-10-batches-py"
    if (batches / "test_batch").exists():
        return batches
    archive = fetch("cifar-10", "cifar-10-python.tar.gz")
    tmp = folder / ".extracting"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(f"cifar-10: {archive} is corrupt or truncated ({err}); delete it.") from err
    (tmp / "cifar-10-batches-py").replace(batches)
    shutil.rmtree(tmp, ignore_errors=True)
    return batches


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="latin1")
        x = np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return x, np.asarray(d["labels"], dtype=np.int64)
    except FileNotFoundError:
        raise
    except Exception as err:
        raise DataError(f"cifar-10: {path} is corrupt or truncated ({type(err).__name__}: {err}); "
                        f"delete the cifar-10-batches-py folder and run again.") from err


def load_cifar10(n_train: int | None = None, n_test: int | None = None, *, seed: int = 0) -> ImageData:
    """CIFAR-10: 50,000 + 10,000 colour images (N, 32, 32, 3) NHWC float32 in [0, 1].

    Reads the official Python pickles directly (never through torchvision's integrity check).
    Transpose to NCHW for PyTorch with ``x.transpose(0, 3, 1, 2)``.
    """
    folder = _cifar_dir()
    parts = [_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = _cifar_batch(folder / "test_batch")
    data = ImageData("cifar-10", np.concatenate([p[0] for p in parts]),
                     np.concatenate([p[1] for p in parts]), x_test, y_test, list(CIFAR10_CLASSES))
    return _finish(_maybe_quick(data, n_train, n_test, seed), flatten=False)


def load_tiny_shakespeare(n_chars: int | None = None) -> str:
    """Tiny Shakespeare (1,115,394 characters) as one string; quick mode keeps the first 100,000."""
    path = fetch("tiny-shakespeare", "input.txt")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"tiny-shakespeare: {path} cannot be read ({err}); delete it.") from err
    if n_chars is None and is_quick():
        n_chars = 100_000
    if n_chars is not None and n_chars < len(text):
        print(f"tiny-shakespeare: {'quick mode' if is_quick() else 'subset requested'}: "
              f"using the first {n_chars:,} of {len(text):,} characters")
        text = text[:n_chars]
    return text


def load_multi30k(src: str = "en", tgt: str = "fr", split: str = "train", *,
                  n: int | None = None, seed: int = 0) -> list[tuple[str, str]]:
    """Multi30k task 1 sentence pairs ``(source, target)`` for any two of en/de/fr/cs.

    ``split`` is ``"train"`` (29,000), ``"val"`` (1,014) or ``"test"`` (1,000, test_2016_flickr).
    Quick mode keeps a seeded random 2,000 training / 200 evaluation pairs.
    """
    for lang in (src, tgt):
        if lang not in MULTI30K_LANGS:
            raise ValueError(f"multi30k: unknown language {lang!r}; choose from {MULTI30K_LANGS}")
    if src == tgt:
        raise ValueError("multi30k: source and target languages must differ")
    if split not in MULTI30K_SPLITS:
        raise ValueError(f"multi30k: unknown split {split!r}; choose from {tuple(MULTI30K_SPLITS)}")
    sides = []
    for lang in (src, tgt):
        path = fetch("multi30k", f"{MULTI30K_SPLITS[split]}.{lang}.gz")
        lines = _read_gz(path, "multi30k").decode("utf-8").rstrip("\n").split("\n")
        if len(lines) != _MULTI30K_LINES[split]:
            raise DataError(f"multi30k: {path} has {len(lines)} lines, expected "
                            f"{_MULTI30K_LINES[split]}; delete it and run again.")
        sides.append(lines)
    pairs = list(zip(*sides))
    if n is None and is_quick():
        n = 2000 if split == "train" else 200
    if n is not None and n < len(pairs):
        keep = np.sort(np.random.default_rng(seed).choice(len(pairs), n, replace=False))
        print(f"multi30k: {'quick mode' if is_quick() else 'subset requested'}: using {n:,} of "
              f"{len(pairs):,} {split} pairs")
        pairs = [pairs[i] for i in keep]
    return pairs


# --------------------------------------------------------------------------- framework wrappers
def torch_loader(x: np.ndarray, y: np.ndarray | None = None, batch_size: int = 128,
                 shuffle: bool = False, seed: int = 0):
    """Wrap NumPy arrays as a PyTorch ``DataLoader`` (tensors share memory with the arrays)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    tensors = [torch.from_numpy(np.ascontiguousarray(x))]
    if y is not None:
        tensors.append(torch.from_numpy(np.ascontiguousarray(y)))
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle, generator=gen)


def tf_dataset(x: np.ndarray, y: np.ndarray | None = None, batch_size: int = 128,
               shuffle: bool = False, seed: int = 0):
    """Wrap NumPy arrays as a batched, prefetched ``tf.data.Dataset``."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
