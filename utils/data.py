"""The five course data sets as NumPy arrays, the same arrays for NumPy, PyTorch and TensorFlow.

Introduced in ``01_neural_network_foundations/02_scratch_mlp.ipynb``.

Each loader looks in :func:`utils.config.data_dir` first (``$DLF_DATA_DIR``, laid out like the
official downloads once unpacked: README, "Data and offline use"). When a file is not there it
is downloaded from the official source with ``pooch`` (published checksum, HTTP status check,
atomic write, a mirror where one exists); ``DLF_OFFLINE=1`` forbids downloads (CI).

Every file is verified before it is used, wherever it came from: the content a loader reads
(for a ``.gz`` file its decompressed bytes, so a re-compressed copy of the same data passes)
must match a digest in :data:`DIGESTS` (SHA-256 where we have one, else the published MD5).
Only then is it parsed (CIFAR-10's pickles are never unpickled unverified), and the arrays are
checked too: shapes, dtypes, labels 0-9 and the counts in :data:`COUNTS`. A small marker,
``.verified.json`` in the data set's folder, remembers size, modification time and digest of
the files that passed, so later loads skip the hashing until a file changes. Whatever goes
wrong raises :class:`DataError` naming the data set, the file and what to do; the loaders never
delete or overwrite a file they did not write.

In quick mode (``DLF_QUICK=1``) the loaders return small, stratified subsets and say so.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import pickle
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .config import data_dir, is_offline, is_quick

ENV_HINT = "DLF_DATA_DIR"
#: Where every DataError sends a learner.
HELP = ('See "Data and offline use" in the course README: DLF_DATA_DIR chooses the data directory, '
        'DLF_OFFLINE=1 forbids downloads.')
#: The verified-marker file written into each data set's folder.
MARKER = ".verified.json"


class DataError(RuntimeError):
    """A data set could not be found, downloaded, verified or read."""


def _error(name: str, message: str) -> DataError:
    return DataError(f"{name}: {message}\n{HELP}")


def _permission(name: str, path: Path | str, err: OSError) -> DataError:
    return _error(name, f"permission denied: {path} ({err.strerror or err}). Give your user access to it "
                        f"(ls -l shows the owner and mode), or set {ENV_HINT} to a directory you can read and write.")


# --------------------------------------------------------------------------- sources
# Downloads: (file name, md5 of the official download), checked by pooch while downloading.
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
# md5 of the multi30k/dataset repository's raw files (task 1).
_MULTI30K_MD5 = {
    "train.en.gz": "0065d13af80720a55ca8153d126e6627", "train.de.gz": "81ff90b99829c0cd4b1b587d394afd39",
    "train.fr.gz": "6cb767741dcad3931f966fefbc05203f", "train.cs.gz": "d9a5fc268917725a2b0efce3a0cc8607",
    "val.en.gz": "2b69aa9253948ac9f67e94917272dd40", "val.de.gz": "6e0e229eb049e3fc99a1ef02fb2d5f91",
    "val.fr.gz": "93fc564584b7e5ba410c761ea5a1c682", "val.cs.gz": "83cdc082f646b769095615384cf5c0ca",
    "test_2016_flickr.en.gz": "ff2c0fcb4893a13bd73414306bc250ae", "test_2016_flickr.de.gz": "efd67d314d98489b716b145475101932",
    "test_2016_flickr.fr.gz": "08dc7cd4a662f31718412de95ca9bfe3", "test_2016_flickr.cs.gz": "3104872229daa1bef3b401d44dd2220b",
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
        "files": _MULTI30K_MD5,
    },
}

# Verification: for every file a loader reads (path inside the data set's folder), the accepted
# digests of its *content* (decompressed bytes of a .gz file, else the bytes) and what each one is.
# SHA-256 where we computed one from the official data; for CIFAR-10 the MD5s that torchvision
# publishes for the official batches (the archive: its published MD5, of the .tar.gz file itself).
OFFICIAL = "official"
_JPEG75 = "official images re-encoded as JPEG (quality 75)"
DIGESTS: dict[str, dict[str, dict[str, str]]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": {"sha256:ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db": OFFICIAL},
        "train-labels-idx1-ubyte.gz": {"sha256:65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5": OFFICIAL},
        "t10k-images-idx3-ubyte.gz": {"sha256:0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7": OFFICIAL},
        "t10k-labels-idx1-ubyte.gz": {"sha256:ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2": OFFICIAL},
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": {"sha256:c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888": OFFICIAL},
        "train-labels-idx1-ubyte.gz": {"sha256:bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9": OFFICIAL},
        "t10k-images-idx3-ubyte.gz": {"sha256:5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b": OFFICIAL},
        "t10k-labels-idx1-ubyte.gz": {"sha256:0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34": OFFICIAL},
    },
    "cifar-10": {
        "cifar-10-python.tar.gz": {"md5:c58f30108f718f92721af3b95e74349a": OFFICIAL},
        "cifar-10-batches-py/data_batch_1": {"md5:c99cafc152244af753f735de768cd75f": OFFICIAL,
            "sha256:0ad3361244f7319a060d69dfd705e84087726efc7344110c08eadfe647777764": _JPEG75},
        "cifar-10-batches-py/data_batch_2": {"md5:d4bba439e000b95fd0a9bffe97cbabec": OFFICIAL,
            "sha256:03573558806aa78d43a7e94acba6a84262c4d855cb4004cd0bb04a75e83501ee": _JPEG75},
        "cifar-10-batches-py/data_batch_3": {"md5:54ebc095f3ab1f0389bbae665268c751": OFFICIAL,
            "sha256:18ba338a12240ff28aba9748927814391feba7621765e8f8a37c6a9f20adca70": _JPEG75},
        "cifar-10-batches-py/data_batch_4": {"md5:634d18415352ddfa80567beed471001a": OFFICIAL,
            "sha256:2f3b2941b899e1b71db65244811e29061661219e537f23b4beb8626303a3706f": _JPEG75},
        "cifar-10-batches-py/data_batch_5": {"md5:482c414d41f54cd18b22e5b47cb7c3cb": OFFICIAL,
            "sha256:c01cc46e80f4ca89d9fdcffe8c44501a192e3afbb83665e18bcf1c47b59ea41b": _JPEG75},
        "cifar-10-batches-py/test_batch": {"md5:40351d587109b95175f43aff81a1287e": OFFICIAL,
            "sha256:6c7b750c634fad86a9a811ac0794a291c27dc23fb202fc74eadaa16813ae2b20": _JPEG75},
    },
    "tiny-shakespeare": {
        "input.txt": {"sha256:86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed": OFFICIAL},
    },
    "multi30k": {
        "train.en.gz": {"sha256:460a15fbd157e34a7a9957ee388c1ca247fe47af3ef25fb50442af6c274e0fc6": OFFICIAL},
        "train.de.gz": {"sha256:2c2b73fd2b548fbcde3a875e0a78d6ee94d498bfdee6bd3eae3945779e9ddf72": OFFICIAL},
        "train.fr.gz": {"sha256:5925a3c18f1587b6b54b87743106e6e8ab93618edb6f65d19eac0621f853a10d": OFFICIAL},
        "train.cs.gz": {"sha256:2be68b38c8d586ff4f54eb13cc6e1baaaa053695b3f070d3038303a47f2268da": OFFICIAL},
        "val.en.gz": {"sha256:1f2a23d992769b5b3d209b0a10dd0b77c08cceb1f20dfb97ed0aafa49d107227": OFFICIAL},
        "val.de.gz": {"sha256:660e09eb7e1da2f856ea13ee5ad3cf6d36b3d5b0b733c857e94c5747a3dfc660": OFFICIAL},
        "val.fr.gz": {"sha256:5304e444d842e962b2dda4d816b70b22a1765b15401642b7ca37a67477e708dc": OFFICIAL},
        "val.cs.gz": {"sha256:d53827e469b0a1ca8d57e9e26b2b64c4bc4b33f5479c7b03ae87ae5c882c3e33": OFFICIAL},
        "test_2016_flickr.en.gz": {"sha256:399a4382932c1aadd3ceb9bef1008d388a64c76d4ae4e9d4728c6f4301cac182": OFFICIAL},
        "test_2016_flickr.de.gz": {"sha256:4be6b5b3236b79c25475c6bb829800a7ce559e9ba7a1f6c2394fe4d40be46d16": OFFICIAL},
        "test_2016_flickr.fr.gz": {"sha256:cb3160d69b002bb638e66cc7612fcd56cb0af82eadc9c142dedc438afb885ef6": OFFICIAL},
        "test_2016_flickr.cs.gz": {"sha256:45adb85f688de8407fddcbe1b36dca15d12aab868149b337e2576f2d6d2ff8d8": OFFICIAL},
    },
}
#: Examples per split after parsing (CIFAR-10's training set comes in five batches of equal size;
#: Tiny Shakespeare counts characters, Multi30k lines).
COUNTS: dict[str, dict[str, int]] = {
    "mnist": {"train": 60_000, "test": 10_000},
    "fashion-mnist": {"train": 60_000, "test": 10_000},
    "cifar-10": {"train": 50_000, "test": 10_000},
    "tiny-shakespeare": {"chars": 1_115_394},
    "multi30k": {"train": 29_000, "val": 1_014, "test": 1_000},
}

MNIST_CLASSES = [str(d) for d in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
CIFAR10_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
MULTI30K_LANGS = ("en", "de", "fr", "cs")
MULTI30K_SPLITS = {"train": "train", "val": "val", "test": "test_2016_flickr"}

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


def check_size(value: object, argument: str) -> int | None:
    """``value`` as an ``int`` when it is a positive whole number; ``None`` stays ``None``.

    The one rule for every size argument (``n_train``, ``n_test``, ``n_chars``, ``n``): 0 or a
    negative number raises ``ValueError``, anything but an integer (a float, a string, a bool)
    raises ``TypeError``; both name the argument. NumPy integers are fine.
    """
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{argument} must be a positive whole number or None, not {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{argument} must be a positive whole number or None, not {value}")
    return int(value)


# --------------------------------------------------------------------------- fetching
def _dataset_dir(name: str) -> Path:
    return data_dir() / name


def _exists(name: str, path: Path) -> bool:
    """Like ``Path.exists``, but a permission error is reported as one, not taken for a missing file."""
    try:
        path.stat()
        return True
    except (FileNotFoundError, NotADirectoryError):
        return False
    except PermissionError as err:
        raise _permission(name, path, err) from err


def _missing(name: str, folder: Path, files: Sequence[str], why: str) -> DataError:
    return _error(name, f"cannot find {', '.join(files)} in {folder} and could not download them ({why}). "
                        f"Put the official files there, or set {ENV_HINT} to a directory that has a '{name}/' folder.")


def fetch(name: str, filename: str) -> Path:
    """Path to ``filename`` of data set ``name``: found in the data directory, else downloaded.

    Downloads go through ``pooch.retrieve`` (md5 of the official file, HTTP errors raised, written
    to a temporary file and moved into place, so an interrupted download never leaves a half file),
    trying each mirror in turn. The loaders verify the content before they use it (see :data:`DIGESTS`).
    """
    src = SOURCES[name]
    folder = _dataset_dir(name)
    path = folder / filename
    if _exists(name, path):
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


# --------------------------------------------------------------------------- verification
def _is_gzipped(filename: str) -> bool:
    """A single gzipped file (not a .tar.gz archive): its digest is that of the decompressed bytes."""
    return filename.endswith(".gz") and not filename.endswith(".tar.gz")


def _hash(chunks: Callable[[], bytes], algorithms: Sequence[str]) -> dict[str, str]:
    hashes = {a: hashlib.new(a) for a in algorithms}
    for chunk in iter(chunks, b""):
        for h in hashes.values():
            h.update(chunk)
    return {a: f"{a}:{h.hexdigest()}" for a, h in hashes.items()}


def content_digest(path: Path | str, algorithm: str = "sha256") -> str:
    """``"sha256:<hex>"`` of the content the loaders read from ``path`` (decompressed for ``.gz``).

    The form :data:`DIGESTS` uses: a copy of your own registers there as ``{digest: "what it is"}``.
    """
    path = Path(path)
    with open(path, "rb") as f:
        stream = gzip.GzipFile(fileobj=f) if _is_gzipped(path.name) else f
        return _hash(lambda: stream.read(1 << 20), [algorithm])[algorithm]


def _read_marker(name: str) -> dict:
    try:
        with open(_dataset_dir(name) / MARKER, encoding="utf-8") as f:
            marker = json.load(f)
        return marker if isinstance(marker, dict) else {}
    except (OSError, ValueError):
        return {}


def _remember(name: str, verified: dict[str, dict]) -> None:
    """Add the files a load verified to the data set's marker, atomically; silently skipped where read-only.

    Called only when the whole load succeeded, so a failed load leaves the data directory as it was.
    """
    if not verified:
        return
    folder = _dataset_dir(name)
    marker = {**_read_marker(name), **verified}
    try:
        fd, tmp = tempfile.mkstemp(prefix=MARKER + ".", suffix=".tmp", dir=folder)
    except OSError:  # read-only folder: hash again next time
        return
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; the data files beside it are readable by all
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(marker, f, indent=1, sort_keys=True)
        os.replace(tmp, folder / MARKER)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _verify(name: str, rel: str, path: Path, stat: os.stat_result,
            digests_of: Callable[[Sequence[str]], dict[str, str]], verified: dict[str, dict]) -> None:
    """Check ``rel`` against :data:`DIGESTS` unless the marker vouches for this size and mtime.

    On success the file's marker entry goes into ``verified`` (written by :func:`_remember`).
    """
    accepted = DIGESTS.get(name, {}).get(rel)
    if not accepted:
        raise _error(name, f"{path} has no known checksum, so it cannot be verified; the course reads only the "
                           f"files listed in utils.data.DIGESTS.")
    seen = _read_marker(name).get(rel)
    if (isinstance(seen, dict) and seen.get("size") == stat.st_size and seen.get("mtime_ns") == stat.st_mtime_ns
            and seen.get("digest") in accepted):
        return
    got: dict[str, str] = {}
    match = None
    for algorithm in sorted({d.split(":", 1)[0] for d in accepted}, key=lambda a: a != "sha256"):  # SHA-256 first
        got.update(digests_of([algorithm]))
        match = next((d for d in accepted if got.get(d.split(":", 1)[0]) == d), None)
        if match:
            break
    if match is None:
        if "sha256" not in got:  # always report the SHA-256 too
            got.update(digests_of(["sha256"]))
        expected = " or ".join(f"{d} ({what})" for d, what in accepted.items())
        raise _error(name, f"{path} does not match any known version of {rel}: it is corrupt, truncated or not "
                           f"the course's data.\n  expected: {expected}\n  actual:   {', '.join(got.values())}\n"
                           f"Nothing was changed or deleted. Move the file aside (or delete it yourself) and run "
                           f"again with a network connection to download a fresh copy, or set {ENV_HINT} to a "
                           f"directory with the official files.")
    verified[rel] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "digest": match}


def _read_verified(name: str, rel: str, path: Path, verified: dict[str, dict]) -> bytes:
    """The verified content of ``path`` (decompressed for ``.gz``), read once and checked before use."""
    try:
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            if _is_gzipped(path.name):
                with gzip.GzipFile(fileobj=f) as gz:
                    raw = gz.read()
            else:
                raw = f.read()
    except PermissionError as err:
        raise _permission(name, path, err) from err
    except FileNotFoundError as err:
        raise _missing(name, path.parent, [path.name], "it is not there") from err
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise _error(name, f"{path} cannot be read ({type(err).__name__}: {err}): it is corrupt or truncated. "
                           f"Nothing was changed or deleted. Move it aside and run again with a network "
                           f"connection to download a fresh copy.") from err
    _verify(name, rel, path, stat, lambda algs: {a: f"{a}:{hashlib.new(a, raw).hexdigest()}" for a in algs},
            verified)
    return raw


def _verify_archive(name: str, path: Path, verified: dict[str, dict]) -> None:
    """Verify a (large) archive by streaming it: no need to hold it in memory."""
    try:
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            def digests_of(algorithms: Sequence[str]) -> dict[str, str]:
                f.seek(0)
                return _hash(lambda: f.read(1 << 20), algorithms)

            _verify(name, path.name, path, stat, digests_of, verified)
    except PermissionError as err:
        raise _permission(name, path, err) from err


# --------------------------------------------------------------------------- parsing and validation
def _parse_idx(raw: bytes, path: Path, name: str) -> np.ndarray:
    """Parse an IDX file (the MNIST format): magic, dims, then uint8 data."""
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
        raise _error(name, f"{path} is not an IDX file of unsigned bytes.")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    start = 4 + 4 * ndim
    if len(raw) - start != int(np.prod(shape)):
        raise _error(name, f"{path} is truncated ({len(raw) - start} bytes of data for shape {shape}).")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(shape)


def _check_split(name: str, split: str, x: np.ndarray, y: np.ndarray, count: int,
                 image_shape: tuple[int, ...]) -> None:
    """After parsing: uint8 images of ``image_shape``, ``count`` of them, integer labels 0-9."""
    problems = []
    if x.dtype != np.uint8 or x.shape != (count, *image_shape):
        problems.append(f"images are {x.dtype} {x.shape}, expected uint8 {(count, *image_shape)}")
    if y.dtype.kind not in "iu" or y.shape != (count,):
        problems.append(f"labels are {y.dtype} {y.shape}, expected integers ({count},)")
    elif y.size and (y.min() < 0 or y.max() > 9):
        problems.append(f"labels outside 0-9 (found {sorted(set(y[(y < 0) | (y > 9)].tolist()))[:5]})")
    if problems:
        raise _error(name, f"the {split} split is not valid: {'; '.join(problems)}. Move the data set's folder "
                           f"aside and run again with a network connection to download fresh copies.")


# --------------------------------------------------------------------------- subsets
def stratified_indices(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` indices into ``y`` with (almost) the class proportions of ``y``, in random order."""
    n = check_size(n, "n")
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
    n_train, n_test = check_size(n_train, "n_train"), check_size(n_test, "n_test")
    verified: dict[str, dict] = {}
    arrays = {}
    for part, split in (("train", "train"), ("t10k", "test")):
        for kind in ("images-idx3", "labels-idx1"):
            fname = f"{part}-{kind}-ubyte.gz"
            path = fetch(name, fname)
            arrays[split, kind[0]] = _parse_idx(_read_verified(name, fname, path, verified), path, name)
        _check_split(name, split, arrays[split, "i"], arrays[split, "l"], COUNTS[name][split], (28, 28))
    data = ImageData(name, arrays["train", "i"], arrays["train", "l"].astype(np.int64),
                     arrays["test", "i"], arrays["test", "l"].astype(np.int64), classes)
    _remember(name, verified)
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
    """The ``cifar-10-batches-py`` folder, extracted from the verified archive when it is not there yet.

    Extraction goes into a temporary folder beside it, renamed into place in one step, and removed
    on any failure; a folder that is already there but incomplete is reported, never replaced.
    """
    name = "cifar-10"
    folder = _dataset_dir(name)
    batches = folder / "cifar-10-batches-py"
    if _exists(name, batches):
        missing = [b for b in CIFAR10_BATCHES if not _exists(name, batches / b)]
        if not missing:
            return batches
        archive = folder / "cifar-10-python.tar.gz"
        cure = (f"the archive {archive} is there too: move the incomplete folder aside (or delete it yourself) "
                f"and run again to extract it" if _exists(name, archive) else
                f"copy the missing files there, or move the incomplete folder aside and run again with a network "
                f"connection to download the archive")
        raise _error(name, f"{batches} is incomplete: {', '.join(missing)} missing. Nothing was changed or "
                           f"deleted; {cure}.")
    archive = fetch(name, "cifar-10-python.tar.gz")
    verified: dict[str, dict] = {}
    _verify_archive(name, archive, verified)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".extracting-", dir=folder))
    except PermissionError as err:
        raise _permission(name, folder, err) from err
    try:
        with open(archive, "rb") as f, tarfile.open(fileobj=f, mode="r:gz") as tar:
            tar.extractall(tmp, filter="data")
        missing = [b for b in CIFAR10_BATCHES if not (tmp / batches.name / b).is_file()]
        if missing:
            raise _error(name, f"{archive} does not contain {batches.name}/{', '.join(missing)}.")
        (tmp / batches.name).rename(batches)  # atomic; fails if another process got there first
    except PermissionError as err:
        raise _permission(name, err.filename or archive, err) from err
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise _error(name, f"{archive} is corrupt or truncated ({type(err).__name__}: {err}). Nothing was "
                           f"changed or deleted; move it aside and run again with a network connection.") from err
    except OSError as err:
        if not all((batches / b).exists() for b in CIFAR10_BATCHES):  # else: extracted meanwhile by another process
            raise _error(name, f"could not extract {archive} into {folder} ({err}).") from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _remember(name, verified)
    return batches


def _cifar_batch(raw: bytes, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        d = pickle.loads(raw, encoding="latin1")  # safe to unpickle: its digest was verified first
        x, y = np.asarray(d["data"]), np.asarray(d["labels"])
    except Exception as err:
        raise _error("cifar-10", f"{path} is not a CIFAR-10 batch ({type(err).__name__}: {err}).") from err
    if x.ndim != 2 or x.shape[1] != 3072:
        raise _error("cifar-10", f"{path} holds images of shape {x.shape}, expected (N, 3072).")
    return x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), y


def load_cifar10(n_train: int | None = None, n_test: int | None = None, *, seed: int = 0) -> ImageData:
    """CIFAR-10: 50,000 + 10,000 colour images (N, 32, 32, 3) NHWC float32 in [0, 1].

    Reads the official Python pickles directly (never through torchvision's integrity check).
    Transpose to NCHW for PyTorch with ``x.transpose(0, 3, 1, 2)``.
    """
    n_train, n_test = check_size(n_train, "n_train"), check_size(n_test, "n_test")
    name = "cifar-10"
    folder = _cifar_dir()
    verified: dict[str, dict] = {}
    parts = {}
    for batch in CIFAR10_BATCHES:
        rel = f"{folder.name}/{batch}"
        x, y = _cifar_batch(_read_verified(name, rel, folder / batch, verified), folder / batch)
        per_batch = COUNTS[name]["test"] if batch == "test_batch" else COUNTS[name]["train"] // 5
        _check_split(name, rel, x, y, per_batch, (32, 32, 3))
        parts[batch] = (x, y.astype(np.int64))
    train = [parts[b] for b in CIFAR10_BATCHES[:5]]
    data = ImageData(name, np.concatenate([p[0] for p in train]), np.concatenate([p[1] for p in train]),
                     *parts["test_batch"], list(CIFAR10_CLASSES))
    _remember(name, verified)
    return _finish(_maybe_quick(data, n_train, n_test, seed), flatten=False)


def load_tiny_shakespeare(n_chars: int | None = None) -> str:
    """Tiny Shakespeare (1,115,394 characters) as one string; quick mode keeps the first 100,000."""
    n_chars = check_size(n_chars, "n_chars")
    name, verified = "tiny-shakespeare", {}
    path = fetch(name, "input.txt")
    try:
        text = _read_verified(name, "input.txt", path, verified).decode("utf-8")
    except UnicodeDecodeError as err:
        raise _error(name, f"{path} is not UTF-8 text ({err}).") from err
    if len(text) != COUNTS[name]["chars"]:
        raise _error(name, f"{path} has {len(text):,} characters, expected {COUNTS[name]['chars']:,}.")
    _remember(name, verified)
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
    n = check_size(n, "n")
    for lang in (src, tgt):
        if lang not in MULTI30K_LANGS:
            raise ValueError(f"multi30k: unknown language {lang!r}; choose from {MULTI30K_LANGS}")
    if src == tgt:
        raise ValueError("multi30k: source and target languages must differ")
    if split not in MULTI30K_SPLITS:
        raise ValueError(f"multi30k: unknown split {split!r}; choose from {tuple(MULTI30K_SPLITS)}")
    name, verified, sides = "multi30k", {}, []
    for lang in (src, tgt):
        fname = f"{MULTI30K_SPLITS[split]}.{lang}.gz"
        path = fetch(name, fname)
        try:
            lines = _read_verified(name, fname, path, verified).decode("utf-8").rstrip("\n").split("\n")
        except UnicodeDecodeError as err:
            raise _error(name, f"{path} is not UTF-8 text ({err}).") from err
        if len(lines) != COUNTS[name][split]:
            raise _error(name, f"{path} has {len(lines):,} lines, expected {COUNTS[name][split]:,}.")
        sides.append(lines)
    _remember(name, verified)
    pairs = list(zip(*sides))
    if n is None and is_quick():
        n = 2000 if split == "train" else 200
    if n is not None and n < len(pairs):
        keep = np.sort(np.random.default_rng(seed).choice(len(pairs), n, replace=False))
        print(f"multi30k: {'quick mode' if is_quick() else 'subset requested'}: using {n:,} of "
              f"{len(pairs):,} {split} pairs")
        pairs = [pairs[i] for i in keep]
    return pairs


# --------------------------------------------------------------------------- batches for fit
class ShuffledBatches:
    """Mini-batches ``(x[idx], y[idx])`` of in-memory tensors, in a new seeded order at every pass.

    For data that is already one tensor (on the device, say), where a ``DataLoader`` would only
    add per-sample collation. Every pass (epoch) first applies ``transform(x, generator)`` when
    one is given (a whole-tensor augmentation such as :func:`utils.images.flip_and_shift`), then
    draws a permutation from the same seeded ``torch.Generator``; so a run is reproducible and
    each epoch differs. ``drop_last`` leaves out a final partial batch. ``len()`` is the number of
    batches per pass, which :func:`utils.train.fit` uses for its progress bar.
    Introduced in ``03_optimization/03_framework_optimizer_toolbox.ipynb``.
    """

    def __init__(self, x, y, batch_size: int, seed: int = 0, *, transform: Callable | None = None,
                 drop_last: bool = False):
        import torch

        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
        self.x, self.y, self.batch_size = x, y, check_size(batch_size, "batch_size")
        self.transform, self.drop_last = transform, drop_last
        self.generator = torch.Generator().manual_seed(seed)  # advances by one pass per epoch

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        import torch

        x = self.x if self.transform is None else self.transform(self.x, self.generator)
        order = torch.randperm(len(x), generator=self.generator).to(x.device)
        for k in range(len(self)):
            idx = order[k * self.batch_size:(k + 1) * self.batch_size]
            yield x[idx], self.y[idx]


class EpochBatches:
    """Batches that ``fit`` loops over once per epoch: every pass calls ``draw()`` anew.

    For an epoch's batches that :class:`ShuffledBatches` cannot describe: ``draw`` returns an
    iterable (a generator function's result, typically) of that epoch's ``(x, y)`` batches, and
    ``n_batches`` is how many it yields. Introduced in ``05_cnns/04_project_cifar10.ipynb``.
    """

    def __init__(self, draw: Callable, n_batches: int):
        self.draw, self.n_batches = draw, n_batches

    def __iter__(self):
        return iter(self.draw())

    def __len__(self) -> int:
        return self.n_batches


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
