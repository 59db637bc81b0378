"""Shared fixtures. Unit tests never touch the network or the real data directory."""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import pickle
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


def idx_bytes(arr: np.ndarray) -> bytes:
    """An IDX file (MNIST format) of unsigned bytes."""
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def write_idx_dataset(folder: Path, n_train: int = 50, n_test: int = 20, seed: int = 0) -> dict:
    """A tiny MNIST-layout data set: 10 balanced classes, images whose first pixel is the label."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for part, n in (("train", n_train), ("t10k", n_test)):
        y = np.arange(n) % 10
        rng.shuffle(y)
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        x[:, 0, 0] = y
        (folder / f"{part}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(x)))
        (folder / f"{part}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(y)))
        out[part] = (x, y)
    return out


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """An empty data directory, offline, full mode."""
    monkeypatch.setenv("DLF_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DLF_OFFLINE", "1")
    monkeypatch.delenv("DLF_QUICK", raising=False)
    return tmp_path


def write_cifar(folder: Path, per_batch: int = 20) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = list(np.arange(per_batch) % 10)
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        data[:, 0] = labels  # red channel of pixel (0, 0) is the label
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f, protocol=2)



@pytest.fixture
def register(monkeypatch):
    """Trust a tiny synthetic data set a test wrote: ``register("mnist", train=50, test=20)``.

    Registers the content digest of every file under ``$DLF_DATA_DIR/<name>/`` in
    ``utils.data.DIGESTS`` (and, when given, the split sizes in ``utils.data.COUNTS``) for this
    test only, as the real tables do for the official files.
    """
    from utils import data

    def _register(name: str, **counts: int) -> dict:
        folder = data.data_dir() / name
        table = {p.relative_to(folder).as_posix(): {data.content_digest(p): "synthetic test data"}
                 for p in sorted(folder.rglob("*")) if p.is_file() and p.name != data.MARKER}
        monkeypatch.setitem(data.DIGESTS, name, table)
        if counts:
            monkeypatch.setitem(data.COUNTS, name, counts)
        return table

    return _register


def tree_snapshot(folder: Path) -> dict[str, tuple]:
    """Every file and folder under ``folder``: name -> (size, SHA-256) for files, ("dir",) for folders."""
    return {p.relative_to(folder).as_posix(): ("dir",) if p.is_dir() else
            (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()) for p in sorted(folder.rglob("*"))}


@pytest.fixture
def unchanged(data_home):
    """``with unchanged(): ...`` asserts that nothing in the data directory changed inside the block."""
    @contextlib.contextmanager
    def check():
        before = tree_snapshot(data_home)
        yield
        after = tree_snapshot(data_home)
        assert after == before, f"data directory changed: {sorted(set(after.items()) ^ set(before.items()))}"

    return check

# Triton (shipped with PyTorch's CUDA builds) must load before TensorFlow: see
# utils.config.safe_tensorflow_import. Test modules import TensorFlow directly, so do it here.
from utils.config import safe_tensorflow_import  # noqa: E402

safe_tensorflow_import()
