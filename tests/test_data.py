import gzip
import hashlib
import http.server
import threading
from functools import partial

import numpy as np
import pytest

from conftest import write_cifar, write_idx_dataset
from utils import data


def test_mnist_present_files(data_home, register, capsys):
    made = write_idx_dataset(data_home / "mnist")
    register("mnist", train=50, test=20)
    d = data.load_mnist()
    assert d.x_train.shape == (50, 28, 28) and d.x_train.dtype == np.float32
    assert d.x_train.max() <= 1.0 and d.y_train.dtype == np.int64
    np.testing.assert_array_equal(d.y_train, made["train"][1])
    np.testing.assert_array_equal(d.x_test[:, 0, 0] * 255, made["t10k"][1])  # images stay paired with labels
    assert data.load_mnist(flatten=True).x_train.shape == (50, 784)


def test_fashion_mnist_has_class_names(data_home, register):
    write_idx_dataset(data_home / "fashion-mnist")
    register("fashion-mnist", train=50, test=20)
    assert data.load_fashion_mnist().classes[9] == "Ankle boot"


def test_missing_files_without_network_name_dataset_dir_and_env(data_home):
    with pytest.raises(data.DataError) as err:
        data.load_mnist()
    msg = str(err.value)
    assert "mnist" in msg and str(data_home / "mnist") in msg and "DLF_DATA_DIR" in msg


def test_missing_files_with_unreachable_mirrors(data_home, monkeypatch):
    monkeypatch.delenv("DLF_OFFLINE")
    monkeypatch.setitem(data.SOURCES["tiny-shakespeare"], "mirrors", ["http://127.0.0.1:9/a/", "http://127.0.0.1:9/b/"])
    with pytest.raises(data.DataError, match="tiny-shakespeare.*127.0.0.1:9/b/"):
        data.load_tiny_shakespeare()
    assert not list(data_home.rglob("input.txt*"))


def test_truncated_and_corrupt_files(data_home, register):
    write_idx_dataset(data_home / "mnist")
    register("mnist", train=50, test=20)
    path = data_home / "mnist" / "train-images-idx3-ubyte.gz"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(data.DataError, match="corrupt or truncated"):
        data.load_mnist()
    full = gzip.decompress(raw)
    path.write_bytes(gzip.compress(full[:-100]))  # valid gzip, short IDX payload: caught by its checksum
    with pytest.raises(data.DataError, match="does not match any known version"):
        data.load_mnist()
    register("mnist", train=50, test=20)  # ... and by the parser when its checksum is registered
    with pytest.raises(data.DataError, match="is truncated"):
        data.load_mnist()
    path.write_bytes(gzip.compress(b"not an idx file"))
    register("mnist", train=50, test=20)
    with pytest.raises(data.DataError, match="not an IDX"):
        data.load_mnist()


def test_stratified_subset_and_quick_mode(data_home, register, monkeypatch, capsys):
    y = np.repeat(np.arange(10), [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000])
    idx = data.stratified_indices(y, 550, seed=1)
    assert len(idx) == 550 and len(set(idx)) == 550
    counts = np.bincount(y[idx], minlength=10)
    np.testing.assert_allclose(counts, np.arange(1, 11) * 10, atol=1)
    np.testing.assert_array_equal(idx, data.stratified_indices(y, 550, seed=1))
    write_idx_dataset(data_home / "mnist", n_train=200, n_test=50)
    register("mnist", train=200, test=50)
    monkeypatch.setitem(data.QUICK_SIZES, "mnist", (40, 10))
    monkeypatch.setenv("DLF_QUICK", "1")
    d = data.load_mnist()
    assert len(d.y_train) == 40 and np.all(np.bincount(d.y_train) == 4)
    assert "quick mode" in capsys.readouterr().out


def test_cifar10_pickles_read_directly(data_home, register):
    write_cifar(data_home / "cifar-10" / "cifar-10-batches-py")
    register("cifar-10", train=100, test=20)
    d = data.load_cifar10()
    assert d.x_train.shape == (100, 32, 32, 3) and d.x_test.shape == (20, 32, 32, 3)
    np.testing.assert_array_equal(np.round(d.x_train[:, 0, 0, 0] * 255), d.y_train)  # NHWC, not scrambled
    assert d.classes[0] == "airplane"
    (data_home / "cifar-10" / "cifar-10-batches-py" / "test_batch").write_bytes(b"\x80\x02garbage")
    with pytest.raises(data.DataError, match="corrupt"):  # its checksum no longer matches
        data.load_cifar10()
    register("cifar-10", train=100, test=20)  # registered, it reaches (and fails) the unpickler
    with pytest.raises(data.DataError, match="not a CIFAR-10 batch"):
        data.load_cifar10()


def test_tiny_shakespeare_and_quick_cut(data_home, register, monkeypatch):
    (data_home / "tiny-shakespeare").mkdir()
    (data_home / "tiny-shakespeare" / "input.txt").write_text("First Citizen:\n" * 10000)
    register("tiny-shakespeare", chars=150000)
    assert len(data.load_tiny_shakespeare()) == 150000
    monkeypatch.setenv("DLF_QUICK", "1")
    assert len(data.load_tiny_shakespeare()) == 100000


def _write_multi30k(folder, split="val", n=1014):
    folder.mkdir(parents=True, exist_ok=True)
    for lang in ("en", "de", "fr", "cs"):
        lines = "".join(f"{lang} sentence {i}\n" for i in range(n))
        (folder / f"{split}.{lang}.gz").write_bytes(gzip.compress(lines.encode()))


def test_multi30k_pairs_and_bad_names(data_home, register):
    _write_multi30k(data_home / "multi30k")
    register("multi30k", val=1014)
    pairs = data.load_multi30k("de", "fr", "val")
    assert len(pairs) == 1014 and pairs[3] == ("de sentence 3", "fr sentence 3")
    assert len(data.load_multi30k("en", "de", "val", n=10)) == 10
    with pytest.raises(ValueError, match="unknown split"):
        data.load_multi30k("en", "fr", "dev")
    with pytest.raises(ValueError, match="unknown language"):
        data.load_multi30k("en", "xx")
    with pytest.raises(ValueError, match="must differ"):
        data.load_multi30k("en", "en")
    _write_multi30k(data_home / "multi30k", n=1000)  # wrong line count
    register("multi30k", val=1014)
    with pytest.raises(data.DataError, match="lines"):
        data.load_multi30k("en", "fr", "val")


@pytest.fixture
def local_server(tmp_path):
    """A throwaway HTTP server on the loopback address serving tmp_path/srv."""
    root = tmp_path / "srv"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_download_checks_hash_and_uses_next_mirror(data_home, monkeypatch, local_server):
    root, url = local_server
    monkeypatch.delenv("DLF_OFFLINE")
    body = b"To be, or not to be\n" * 100
    (root / "good").mkdir()
    (root / "good" / "input.txt").write_bytes(body)
    (root / "bad").mkdir()
    (root / "bad" / "input.txt").write_bytes(body + b"tampered")
    src = data.SOURCES["tiny-shakespeare"]
    monkeypatch.setitem(src, "files", {"input.txt": hashlib.md5(body).hexdigest()})
    monkeypatch.setitem(data.DIGESTS, "tiny-shakespeare", {"input.txt": {"md5:" + hashlib.md5(body).hexdigest(): "test"}})
    monkeypatch.setitem(data.COUNTS, "tiny-shakespeare", {"chars": len(body)})
    # first mirror: 404; second: wrong checksum; third: good
    monkeypatch.setitem(src, "mirrors", [url + "missing/", url + "bad/", url + "good/"])
    assert data.load_tiny_shakespeare() == body.decode()
    assert (data_home / "tiny-shakespeare" / "input.txt").read_bytes() == body
    assert {p.name for p in (data_home / "tiny-shakespeare").iterdir()} == {"input.txt", data.MARKER}  # no half files


def test_download_all_mirrors_bad_leaves_no_file(data_home, monkeypatch, local_server):
    root, url = local_server
    monkeypatch.delenv("DLF_OFFLINE")
    (root / "input.txt").write_bytes(b"wrong content")
    monkeypatch.setitem(data.SOURCES["tiny-shakespeare"], "mirrors", [url])
    with pytest.raises(data.DataError, match="tiny-shakespeare"):
        data.load_tiny_shakespeare()
    assert not (data_home / "tiny-shakespeare" / "input.txt").exists()


def test_framework_wrappers():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    xb, yb = next(iter(data.torch_loader(x, y, batch_size=4)))
    assert tuple(xb.shape) == (4, 2) and yb.tolist() == [0, 1, 2, 3]
    shuffled = [b[1].tolist() for b in data.torch_loader(x, y, batch_size=10, shuffle=True, seed=3)]
    again = [b[1].tolist() for b in data.torch_loader(x, y, batch_size=10, shuffle=True, seed=3)]
    assert shuffled == again and sorted(shuffled[0]) == list(range(10))
    tx, ty = next(iter(data.tf_dataset(x, y, batch_size=4)))
    assert tuple(tx.shape) == (4, 2) and ty.numpy().tolist() == [0, 1, 2, 3]
