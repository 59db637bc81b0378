"""Bad inputs to ``utils.data``: every one is refused with the right error and leaves the data directory as it was.

Each case writes a tiny synthetic data set (registered in ``DIGESTS``/``COUNTS`` by the ``register``
fixture, as the real tables register the official files), damages it, and asserts the kind of error
(class and a message fragment) *and* that no file in the data directory changed (``unchanged``).
Offline, no real data. Permission errors are simulated (tests may run as root, where chmod does not
deny reads) by making the module's ``open`` / ``tempfile`` / ``TarFile.extractall`` raise PermissionError.
"""
from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pytest

from conftest import idx_bytes, write_cifar, write_idx_dataset
from utils import data

BATCHES = "cifar-10-batches-py"


def assert_fails(unchanged, call, kind: type[Exception], *fragments: str) -> str:
    """``call()`` raises ``kind`` with every fragment in its message, and the data directory is untouched."""
    with unchanged(), pytest.raises(kind) as info:
        call()
    msg = str(info.value)
    assert type(info.value) is kind, msg
    for fragment in fragments:
        assert fragment in msg, f"{fragment!r} not in {msg!r}"
    if kind is data.DataError:  # written for learners: where to read more, nothing about this machine
        assert '"Data and offline use"' in msg and "DLF_DATA_DIR" in msg and "DLF_OFFLINE" in msg, msg
        assert "shared" not in msg and "materialize" not in msg, msg
    return msg


# --------------------------------------------------------------------------- synthetic data sets
@pytest.fixture
def mnist(data_home, register):
    write_idx_dataset(data_home / "mnist", n_train=50, n_test=20)
    register("mnist", train=50, test=20)
    return data_home / "mnist"


@pytest.fixture
def cifar(data_home, register):
    write_cifar(data_home / "cifar-10" / BATCHES, per_batch=20)
    register("cifar-10", train=100, test=20)
    return data_home / "cifar-10" / BATCHES


@pytest.fixture
def shakespeare(data_home, register):
    (data_home / "tiny-shakespeare").mkdir()
    (data_home / "tiny-shakespeare" / "input.txt").write_text("First Citizen:\nSpeak, speak.\n" * 500)
    register("tiny-shakespeare", chars=14500)
    return data_home / "tiny-shakespeare" / "input.txt"


@pytest.fixture
def multi30k(data_home, register):
    folder = data_home / "multi30k"
    folder.mkdir()
    for lang in data.MULTI30K_LANGS:
        lines = "".join(f"{lang} sentence {i}\n" for i in range(1014))
        (folder / f"val.{lang}.gz").write_bytes(gzip.compress(lines.encode()))
    register("multi30k", val=1014)
    return folder


def rewrite_idx(path: Path, change) -> None:
    """Decompress an IDX .gz file, let ``change`` edit its bytes in place, re-compress it."""
    raw = bytearray(gzip.decompress(path.read_bytes()))
    change(raw)
    path.write_bytes(gzip.compress(bytes(raw)))


def rewrite_batch(path: Path, change) -> None:
    """Load a CIFAR-10 pickle, let ``change`` edit its dict, write it back."""
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="latin1")
    change(d)
    with open(path, "wb") as f:
        pickle.dump(d, f, protocol=2)


def flip_byte(offset: int):
    def change(raw: bytearray) -> None:
        raw[offset] ^= 0xFF
    return change


def set_label(value: int):
    def change(raw: bytearray) -> None:
        raw[8] = value  # first label after the IDX1 header (magic + one dimension)
    return change


def cifar_pixel(d: dict) -> None:
    d["data"][7, 100] ^= 0xFF


def cifar_label_250(d: dict) -> None:
    d["labels"][0] = 250


# --------------------------------------------------------------------------- files that do not match their checksum
def test_flipped_pixel_byte_mnist(mnist, unchanged):
    rewrite_idx(mnist / "train-images-idx3-ubyte.gz", flip_byte(16 + 300))
    assert_fails(unchanged, data.load_mnist, data.DataError, "mnist:", "train-images-idx3-ubyte.gz",
                 "does not match any known version", "expected: sha256:", "actual:   sha256:", "Move the file aside")


def test_flipped_label_byte_250_mnist(mnist, unchanged):
    rewrite_idx(mnist / "t10k-labels-idx1-ubyte.gz", set_label(250))
    assert_fails(unchanged, data.load_mnist, data.DataError, "t10k-labels-idx1-ubyte.gz", "does not match")


def test_replaced_labels_file_mnist(mnist, unchanged, tmp_path_factory):
    other = write_idx_dataset(tmp_path_factory.mktemp("other"), n_train=50, n_test=20, seed=1)
    assert not np.array_equal(other["train"][1], write_idx_dataset(tmp_path_factory.mktemp("same"), 50, 20)["train"][1])
    (mnist / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(other["train"][1])))
    assert_fails(unchanged, data.load_mnist, data.DataError, "train-labels-idx1-ubyte.gz", "does not match")


def test_flipped_label_byte_fashion_mnist(data_home, register, unchanged):
    write_idx_dataset(data_home / "fashion-mnist")
    register("fashion-mnist", train=50, test=20)
    rewrite_idx(data_home / "fashion-mnist" / "train-labels-idx1-ubyte.gz", set_label(250))
    assert_fails(unchanged, data.load_fashion_mnist, data.DataError, "fashion-mnist:", "does not match")


@pytest.mark.parametrize("batch, change", [("data_batch_3", cifar_pixel), ("test_batch", cifar_label_250)],
                         ids=["flipped-pixel", "label-250"])
def test_changed_cifar_batch(cifar, unchanged, batch, change):
    rewrite_batch(cifar / batch, change)
    assert_fails(unchanged, data.load_cifar10, data.DataError, f"{BATCHES}/{batch}", "does not match")


def test_changed_character_in_input_txt(shakespeare, unchanged):
    text = shakespeare.read_text()
    shakespeare.write_text(text[:1000] + "X" + text[1001:])
    assert_fails(unchanged, data.load_tiny_shakespeare, data.DataError, "input.txt", "does not match")


def test_wrong_line_count_multi30k(multi30k, unchanged):
    path = multi30k / "val.fr.gz"
    path.write_bytes(gzip.compress(b"".join(gzip.decompress(path.read_bytes()).splitlines(True)[:-1])))
    assert_fails(unchanged, lambda: data.load_multi30k("en", "fr", "val"), data.DataError, "val.fr.gz", "does not match")


def test_real_table_rejects_other_text_and_names_the_official_digest(data_home, unchanged):
    (data_home / "tiny-shakespeare").mkdir()
    (data_home / "tiny-shakespeare" / "input.txt").write_text("not Shakespeare\n")
    official = next(iter(data.DIGESTS["tiny-shakespeare"]["input.txt"]))
    assert_fails(unchanged, data.load_tiny_shakespeare, data.DataError, official, "(official)")


def test_cifar_real_table_names_both_accepted_variants(data_home, unchanged):
    write_cifar(data_home / "cifar-10" / BATCHES)  # not registered: checked against the real table
    assert_fails(unchanged, data.load_cifar10, data.DataError, "md5:c99cafc152244af753f735de768cd75f (official)",
                 "(official images re-encoded as JPEG (quality 75))")


def test_unlisted_file_is_refused(mnist, unchanged, monkeypatch):
    monkeypatch.delitem(data.DIGESTS["mnist"], "t10k-images-idx3-ubyte.gz")
    assert_fails(unchanged, data.load_mnist, data.DataError, "no known checksum")


def test_truncated_gzip(mnist, unchanged):
    path = mnist / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:500])
    assert_fails(unchanged, data.load_mnist, data.DataError, "corrupt or truncated")


# --------------------------------------------------------------------------- files that match, arrays that do not
def test_label_250_caught_after_parsing_mnist(mnist, register, unchanged):
    rewrite_idx(mnist / "train-labels-idx1-ubyte.gz", set_label(250))
    register("mnist", train=50, test=20)  # even a registered file is checked after parsing
    assert_fails(unchanged, data.load_mnist, data.DataError, "train split", "labels outside 0-9 (found [250])")


def test_wrong_count_mnist(mnist, register, unchanged):
    register("mnist", train=60, test=20)
    assert_fails(unchanged, data.load_mnist, data.DataError, "train split", "expected uint8 (60, 28, 28)")


def test_wrong_image_shape_mnist(mnist, register, unchanged):
    x = np.zeros((20, 27, 28), np.uint8)
    (mnist / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(x)))
    register("mnist", train=50, test=20)
    assert_fails(unchanged, data.load_mnist, data.DataError, "test split", "images are uint8 (20, 27, 28)")


def test_label_250_caught_after_parsing_cifar(cifar, register, unchanged):
    rewrite_batch(cifar / "data_batch_2", cifar_label_250)
    register("cifar-10", train=100, test=20)
    assert_fails(unchanged, data.load_cifar10, data.DataError, "data_batch_2", "labels outside 0-9 (found [250])")


def test_short_batch_cifar(cifar, register, unchanged):
    rewrite_batch(cifar / "data_batch_4", lambda d: d.update(data=d["data"][:19], labels=d["labels"][:19]))
    register("cifar-10", train=100, test=20)
    assert_fails(unchanged, data.load_cifar10, data.DataError, "data_batch_4", "expected uint8 (20, 32, 32, 3)")


def test_wrong_character_count(shakespeare, register, unchanged):
    register("tiny-shakespeare", chars=1_115_394)
    assert_fails(unchanged, data.load_tiny_shakespeare, data.DataError, "14,500 characters, expected 1,115,394")


def test_wrong_line_count_registered_multi30k(multi30k, register, unchanged):
    path = multi30k / "val.de.gz"
    path.write_bytes(gzip.compress(b"".join(gzip.decompress(path.read_bytes()).splitlines(True)[:-1])))
    register("multi30k", val=1014)
    assert_fails(unchanged, lambda: data.load_multi30k("de", "en", "val"), data.DataError,
                 "val.de.gz has 1,013 lines, expected 1,014")


# --------------------------------------------------------------------------- CIFAR-10 folder and archive
@pytest.mark.parametrize("batch", ["data_batch_3", "test_batch"])
def test_missing_batch_is_named(cifar, unchanged, batch):
    (cifar / batch).unlink()
    assert_fails(unchanged, data.load_cifar10, data.DataError, f"{batch} missing", "copy the missing files")


def make_archive(home: Path, build: Path, monkeypatch, drop: tuple[str, ...] = (), cut: float = 1.0) -> Path:
    """A cifar-10-python.tar.gz of the synthetic batches in ``home/cifar-10``, registered in DIGESTS."""
    write_cifar(build / BATCHES, per_batch=20)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in data.CIFAR10_BATCHES:
            if name not in drop:
                tar.add(build / BATCHES / name, arcname=f"{BATCHES}/{name}")
    archive = home / "cifar-10" / "cifar-10-python.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(buf.getvalue()[: int(len(buf.getvalue()) * cut)])
    table = {f"{BATCHES}/{n}": {data.content_digest(build / BATCHES / n): "synthetic"} for n in data.CIFAR10_BATCHES}
    table[archive.name] = {data.content_digest(archive): "synthetic"}
    monkeypatch.setitem(data.DIGESTS, "cifar-10", table)
    monkeypatch.setitem(data.COUNTS, "cifar-10", {"train": 100, "test": 20})
    return archive


def test_archive_extracts_atomically(data_home, tmp_path_factory, monkeypatch):
    make_archive(data_home, tmp_path_factory.mktemp("build"), monkeypatch)
    assert data.load_cifar10().x_train.shape == (100, 32, 32, 3)
    assert sorted(p.name for p in (data_home / "cifar-10").iterdir()) == [
        data.MARKER, BATCHES, "cifar-10-python.tar.gz"]  # no temporary folder left


def test_partial_folder_beside_archive(data_home, tmp_path_factory, monkeypatch, unchanged):
    make_archive(data_home, tmp_path_factory.mktemp("build"), monkeypatch)
    write_cifar(data_home / "cifar-10" / BATCHES)
    for name in ("data_batch_4", "data_batch_5", "test_batch"):
        (data_home / "cifar-10" / BATCHES / name).unlink()
    assert_fails(unchanged, data.load_cifar10, data.DataError, "is incomplete: data_batch_4, data_batch_5, test_batch",
                 "the archive", "is there too", "Nothing was changed or deleted")


def test_corrupt_archive_fails_its_checksum(data_home, unchanged):
    (data_home / "cifar-10").mkdir()
    (data_home / "cifar-10" / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b" + os.urandom(5000))
    assert_fails(unchanged, data.load_cifar10, data.DataError, "cifar-10-python.tar.gz", "does not match",
                 "md5:c58f30108f718f92721af3b95e74349a (official)")


def test_truncated_archive_is_cleaned_up(data_home, tmp_path_factory, monkeypatch, unchanged):
    make_archive(data_home, tmp_path_factory.mktemp("build"), monkeypatch, cut=0.6)  # registered: reaches tarfile
    assert_fails(unchanged, data.load_cifar10, data.DataError, "cifar-10-python.tar.gz is corrupt or truncated")


def test_archive_without_test_batch(data_home, tmp_path_factory, monkeypatch, unchanged):
    make_archive(data_home, tmp_path_factory.mktemp("build"), monkeypatch, drop=("test_batch",))
    assert_fails(unchanged, data.load_cifar10, data.DataError, "does not contain cifar-10-batches-py/test_batch")


def test_no_cifar_at_all_offline(data_home, unchanged):
    assert_fails(unchanged, data.load_cifar10, data.DataError, "cannot find cifar-10-python.tar.gz",
                 str(data_home / "cifar-10"), "DLF_OFFLINE=1 forbids downloads")


# --------------------------------------------------------------------------- permission errors
def deny_open(monkeypatch, filename: str) -> None:
    """utils.data's ``open`` raises PermissionError for ``filename``, as for a file mode 000 (non-root)."""
    def fake_open(file, *args, **kwargs):
        if Path(file).name == filename:
            raise PermissionError(13, "Permission denied", str(file))
        return open(file, *args, **kwargs)
    monkeypatch.setattr(data, "open", fake_open, raising=False)


def assert_permission(unchanged, call, path) -> None:
    msg = assert_fails(unchanged, call, data.DataError, "permission denied", str(path))
    assert "delete" not in msg.lower() and "corrupt" not in msg, msg


def test_permission_denied_idx_file(mnist, monkeypatch, unchanged):
    deny_open(monkeypatch, "train-labels-idx1-ubyte.gz")
    assert_permission(unchanged, data.load_mnist, mnist / "train-labels-idx1-ubyte.gz")


def test_permission_denied_cifar_batch(cifar, monkeypatch, unchanged):
    deny_open(monkeypatch, "data_batch_1")
    assert_permission(unchanged, data.load_cifar10, cifar / "data_batch_1")


def test_permission_denied_archive(data_home, tmp_path_factory, monkeypatch, unchanged):
    archive = make_archive(data_home, tmp_path_factory.mktemp("build"), monkeypatch)
    deny_open(monkeypatch, archive.name)
    assert_permission(unchanged, data.load_cifar10, archive)


def test_permission_denied_searching_the_folder(data_home, monkeypatch, unchanged):
    target = data_home / "mnist" / "train-images-idx3-ubyte.gz"
    stat = Path.stat

    def fake_stat(self, *args, **kwargs):  # as for a folder without search (x) permission
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return stat(self, *args, **kwargs)
    monkeypatch.setattr(Path, "stat", fake_stat)
    assert_permission(unchanged, data.load_mnist, target)


def test_permission_denied_read_only_folder(data_home, tmp_path_factory, monkeypatch, unchanged):
    make_archive(data_home, tmp_path_factory.mktemp("build"), monkeypatch)

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied", kwargs.get("dir"))
    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    assert_permission(unchanged, data.load_cifar10, data_home / "cifar-10")


def test_permission_denied_while_extracting(data_home, tmp_path_factory, monkeypatch, unchanged):
    make_archive(data_home, tmp_path_factory.mktemp("build"), monkeypatch)
    extractall = tarfile.TarFile.extractall

    def half_then_denied(self, path, *args, **kwargs):  # writes some files, then is refused one
        extractall(self, path, members=self.getmembers()[:2], **kwargs)
        raise PermissionError(13, "Permission denied", str(Path(path) / BATCHES / "data_batch_3"))
    monkeypatch.setattr(tarfile.TarFile, "extractall", half_then_denied)
    assert_permission(unchanged, data.load_cifar10, "data_batch_3")


# --------------------------------------------------------------------------- size arguments
LOADERS = {
    "load_mnist(n_train)": lambda v: data.load_mnist(n_train=v),
    "load_mnist(n_test)": lambda v: data.load_mnist(n_test=v),
    "load_fashion_mnist(n_train)": lambda v: data.load_fashion_mnist(n_train=v),
    "load_fashion_mnist(n_test)": lambda v: data.load_fashion_mnist(n_test=v),
    "load_cifar10(n_train)": lambda v: data.load_cifar10(n_train=v),
    "load_cifar10(n_test)": lambda v: data.load_cifar10(n_test=v),
    "load_tiny_shakespeare(n_chars)": lambda v: data.load_tiny_shakespeare(n_chars=v),
    "load_multi30k(n)": lambda v: data.load_multi30k("en", "fr", "val", n=v),
    "stratified_indices(n)": lambda v: data.stratified_indices(np.arange(10) % 2, v),
}
BAD_SIZES = [(0, ValueError), (-5, ValueError), (np.int64(-1), ValueError), (2.0, TypeError), (1e3, TypeError),
             ("5", TypeError), (True, TypeError), (np.float32(4), TypeError)]


@pytest.mark.parametrize("value, kind", BAD_SIZES, ids=lambda v: repr(v) if not isinstance(v, type) else v.__name__)
@pytest.mark.parametrize("loader", LOADERS)
def test_bad_size_argument(data_home, unchanged, loader, value, kind):
    argument = loader.split("(")[1].rstrip(")")
    assert_fails(unchanged, lambda: LOADERS[loader](value), kind, f"{argument} must be a positive whole number or None")


def test_numpy_sizes_are_fine(mnist, shakespeare, multi30k):
    assert len(data.load_mnist(n_train=np.int64(20), n_test=np.int32(10)).y_train) == 20
    assert len(data.load_tiny_shakespeare(n_chars=np.uint16(100))) == 100
    assert len(data.load_multi30k("en", "fr", "val", n=np.int64(7))) == 7
    assert len(data.stratified_indices(np.arange(10) % 2, np.int8(4))) == 4


# --------------------------------------------------------------------------- the verified marker
def test_marker_reused_without_hashing(mnist, monkeypatch):
    data.load_mnist()
    assert set(data._read_marker("mnist")) == set(data.DIGESTS["mnist"])
    assert (mnist / data.MARKER).stat().st_mode & 0o777 == 0o644

    def no_hashing(*args, **kwargs):
        raise AssertionError("hashed although the marker vouches for the file")
    monkeypatch.setattr(data.hashlib, "new", no_hashing)
    assert len(data.load_mnist().y_train) == 50


def test_marker_invalidated_when_the_file_changes(shakespeare, unchanged):
    data.load_tiny_shakespeare()
    stat = shakespeare.stat()
    text = shakespeare.read_text()
    shakespeare.write_text(text[:10] + "x" + text[11:])  # same size, new mtime
    os.utime(shakespeare, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert_fails(unchanged, data.load_tiny_shakespeare, data.DataError, "input.txt", "does not match")


def test_forged_marker_is_not_trusted(shakespeare, unchanged):
    data.load_tiny_shakespeare()
    stat = shakespeare.stat()
    shakespeare.write_text("Y" + shakespeare.read_text()[1:])
    os.utime(shakespeare, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # size and mtime as the marker says...
    marker = data._dataset_dir("tiny-shakespeare") / data.MARKER
    marker.write_text(marker.read_text().replace("sha256:", "sha256:0"))  # ...but a digest that is not accepted
    assert_fails(unchanged, data.load_tiny_shakespeare, data.DataError, "does not match")


def test_unreadable_marker_means_hash_again(mnist):
    (mnist / data.MARKER).write_text("{not json")
    data.load_mnist()
    assert set(data._read_marker("mnist")) == set(data.DIGESTS["mnist"])


def test_marker_skipped_silently_when_read_only(mnist, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied", kwargs.get("dir"))
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    assert len(data.load_mnist().y_train) == 50
    assert not (mnist / data.MARKER).exists()


def test_failed_load_writes_no_marker(mnist, unchanged):
    rewrite_idx(mnist / "t10k-images-idx3-ubyte.gz", flip_byte(20))  # read after both train files passed
    assert_fails(unchanged, data.load_mnist, data.DataError, "t10k-images-idx3-ubyte.gz")
    assert not (mnist / data.MARKER).exists()
