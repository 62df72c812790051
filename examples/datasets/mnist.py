"""MNIST and Fashion-MNIST loaders (spec §2, §3).

Files are read from a local data folder, never fetched unless ``download=True`` is passed:

    <data dir>/mnist/train-images-idx3-ubyte.gz        (or without .gz)
    <data dir>/fashion-mnist/t10k-labels-idx1-ubyte.gz ...

The data folder is the ``data_dir`` argument, else the environment variable ``NEUROGEN_DATA_DIR``,
else ``~/.cache/neurogen/data``. The loader verifies the SHA-256 of the *decompressed* IDX bytes
(copies of the same data are gzip'd differently, so compressed checksums are not portable), then the
shapes. Decoded arrays are cached in memory and returned read-only, so repeated loads in one process
are cheap and one caller cannot alter another caller's data.
"""
import functools
import gzip
import hashlib
import os
import pathlib
import tempfile
import urllib.request
import zlib

import numpy as np

from .idx import DatasetError, parse_idx, read_idx_bytes

__all__ = ["ENV_VAR", "DEFAULT_DATA_DIR", "SHA256", "MIRRORS", "find_data_dir", "load_mnist",
           "mnist_pal_splits", "clear_cache"]

ENV_VAR = "NEUROGEN_DATA_DIR"
DEFAULT_DATA_DIR = pathlib.Path("~/.cache/neurogen/data")

# Data-set kind -> sub-folder of the data dir.
_SUBDIRS = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}
# Accepted spellings of the kinds (the folder name is a natural thing to pass too).
_KIND_ALIASES = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "fashion-mnist": "fashion_mnist",
                 "fashionmnist": "fashion_mnist", "fashion": "fashion_mnist"}
# Role in the returned dict -> IDX file name (without .gz).
_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
          "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
_SPLIT_SIZES = {"train": 60000, "test": 10000}
_IMAGE_SHAPE = (28, 28)

# SHA-256 of the decompressed IDX bytes (spec §3.1), keyed by "<subdir>/<file>".
SHA256 = {
    "mnist/train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "mnist/train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "mnist/t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "mnist/t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "fashion-mnist/train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "fashion-mnist/train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "fashion-mnist/t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "fashion-mnist/t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

# Download mirrors, tried in order (only with download=True); each serves "<file>.gz".
MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/",
              "http://yann.lecun.com/exdb/mnist/"],
    "fashion_mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                      "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"],
}
_DOWNLOAD_TIMEOUT_S = 60

# Train/validation boundary of the PAL microcircuit MNIST split (spec §3.4).
_PAL_N_TRAIN = 50000


# ----------------------------------------------------------------------------------------------
# Locating files
# ----------------------------------------------------------------------------------------------

def _resolve_data_dir(data_dir):
    """The data folder and a few words on where it came from (for error messages)."""
    if data_dir is not None:
        return pathlib.Path(data_dir).expanduser(), "data_dir argument"
    env = os.environ.get(ENV_VAR)
    if env:
        return pathlib.Path(env).expanduser(), f"${ENV_VAR}"
    return DEFAULT_DATA_DIR.expanduser(), f"default; ${ENV_VAR} is not set"


def find_data_dir(data_dir=None):
    """The data folder: ``data_dir`` if given, else ``$NEUROGEN_DATA_DIR``, else ``~/.cache/neurogen/data``.

    The folder need not exist; loaders report missing files themselves.
    """
    return _resolve_data_dir(data_dir)[0]


def _normalise_kind(kind):
    """Canonical kind name ("mnist" or "fashion_mnist")."""
    key = str(kind).lower()
    if key not in _KIND_ALIASES:
        raise ValueError(f"unknown data set kind {kind!r}; expected 'mnist' or 'fashion_mnist'")
    return _KIND_ALIASES[key]


def _locate(folder, name):
    """Path of ``name.gz`` or ``name`` in ``folder`` (gzip preferred), or None if neither exists."""
    for candidate in (folder / (name + ".gz"), folder / name):
        if candidate.is_file():
            return candidate
    return None


def _locate_files(root, kind):
    """Role -> located path (or None) for the four files of ``kind`` under ``root``."""
    folder = root / _SUBDIRS[kind]
    return {role: _locate(folder, name) for role, name in _FILES.items()}


def _missing_error(root, source, kind, missing):
    """One-line error naming the missing files and the ways to provide them."""
    folder = root / _SUBDIRS[kind]
    names = ", ".join(str(folder / (_FILES[role] + "[.gz]")) for role in missing)
    return DatasetError(
        f"{kind} data not found: missing {names} (data dir {root}, {source}). "
        f"Set {ENV_VAR} (or pass data_dir=) to a folder holding {_SUBDIRS[kind]}/<file>.gz, "
        f"or call load_mnist({kind!r}, download=True) to fetch the files into {root}.")


# ----------------------------------------------------------------------------------------------
# Verification
# ----------------------------------------------------------------------------------------------

def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _check_checksum(kind, role, data, path):
    """Compare the SHA-256 of the decompressed bytes with the table of spec §3.1."""
    expected = SHA256[f"{_SUBDIRS[kind]}/{_FILES[role]}"]
    actual = _sha256(data)
    if actual != expected:
        raise DatasetError(
            f"{path}: SHA-256 of the decompressed data is {actual}, expected {expected}; the file is "
            f"corrupt or not the original {kind} {_FILES[role]} (replace it, or pass verify=False "
            "to load it anyway)")


def _shape_error(path, what):
    return DatasetError(f"{path}: {what}")


def _check_split(split, images, labels, paths, exact):
    """Structural checks of one split (image/label shapes agree; optionally the official sizes)."""
    img_path, lab_path = paths[f"{split}_images"], paths[f"{split}_labels"]
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != _IMAGE_SHAPE:
        raise _shape_error(img_path, f"expected uint8 images of shape (n, 28, 28), found "
                                     f"{images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise _shape_error(lab_path, f"expected uint8 labels of shape (n,), found {labels.dtype} "
                                     f"{labels.shape}")
    if len(labels) != len(images):
        raise _shape_error(lab_path, f"{len(labels)} labels for {len(images)} images in {img_path}")
    if exact and len(images) != _SPLIT_SIZES[split]:
        raise _shape_error(img_path, f"expected {_SPLIT_SIZES[split]} images, found {len(images)}")
    if labels.size and labels.max() > 9:
        raise _shape_error(lab_path, f"label {int(labels.max())} out of range 0..9")


# ----------------------------------------------------------------------------------------------
# Loading (cached)
# ----------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _load_cached(kind, file_keys, verify):
    """Decode (and verify) the four files; ``file_keys`` = ((role, path, mtime_ns, size), ...).

    File modification times and sizes are part of the cache key, so a replaced file is read again.
    """
    paths = {role: path for role, path, _, _ in file_keys}
    arrays = {}
    for role, path in paths.items():
        data = read_idx_bytes(path)
        if verify:
            _check_checksum(kind, role, data, path)
        array = parse_idx(data, path)
        array.setflags(write=False)  # shared between callers through the cache
        arrays[role] = array
    for split in _SPLIT_SIZES:
        _check_split(split, arrays[f"{split}_images"], arrays[f"{split}_labels"], paths, exact=verify)
    return arrays


def clear_cache():
    """Forget the decoded arrays held in memory (e.g. to free memory)."""
    _load_cached.cache_clear()


def _file_keys(paths):
    """Cache key entries for the located files."""
    keys = []
    for role, path in paths.items():
        stat = path.stat()
        keys.append((role, str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(keys)


def load_mnist(kind="mnist", data_dir=None, verify=True, download=False):
    """Load MNIST (``kind="mnist"``) or Fashion-MNIST (``kind="fashion_mnist"``).

    Returns a dict with "train_images" (60000, 28, 28) uint8, "train_labels" (60000,) uint8,
    "test_images" (10000, 28, 28) uint8 and "test_labels" (10000,) uint8. The arrays are read-only
    (they are shared through an in-memory cache); copy them before modifying.

    ``verify`` checks the SHA-256 of the decompressed bytes against the known values and the official
    sizes. ``download=True`` fetches missing files from the mirrors in ``MIRRORS`` into the data folder
    (verified before they are kept); without it nothing is ever downloaded. Problems with the files
    raise ``DatasetError`` with a message naming the file.
    """
    kind = _normalise_kind(kind)
    root, source = _resolve_data_dir(data_dir)
    paths = _locate_files(root, kind)
    missing = [role for role, path in paths.items() if path is None]
    if missing and download:
        _download(root, kind, missing)
        paths = _locate_files(root, kind)
        missing = [role for role, path in paths.items() if path is None]
    if missing:
        raise _missing_error(root, source, kind, missing)
    # A new dict per call: callers may add or drop keys without touching the cached one.
    return dict(_load_cached(kind, _file_keys(paths), bool(verify)))


# ----------------------------------------------------------------------------------------------
# Download (only on request)
# ----------------------------------------------------------------------------------------------

def _fetch(url):
    """Bytes at ``url``."""
    with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
        return response.read()


def _is_gzip(payload):
    return payload.startswith(b"\x1f\x8b")


def _decompressed(payload):
    """IDX bytes of a downloaded payload (gzip'd, as the mirrors serve it, or already plain)."""
    return gzip.decompress(payload) if _is_gzip(payload) else payload


def _write_atomically(folder, name, payload):
    """Write ``payload`` to ``folder/name`` via a temporary file, so no partial file is ever visible."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, folder / name)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _download_file(kind, role, folder):
    """Fetch one file from the first mirror that serves it with the right checksum."""
    name = _FILES[role]
    expected = SHA256[f"{_SUBDIRS[kind]}/{name}"]
    failures = []
    for base in MIRRORS[kind]:
        url = base + name + ".gz"
        try:
            payload = _fetch(url)
            data = _decompressed(payload)
        except (OSError, ValueError, EOFError, zlib.error) as exc:
            failures.append(f"{url}: {exc}")
            continue
        if _sha256(data) != expected:
            failures.append(f"{url}: SHA-256 mismatch")
            continue
        # Keep the payload as served; the file name says whether it is gzip'd.
        target = name + ".gz" if _is_gzip(payload) else name
        _write_atomically(folder, target, payload)
        return
    raise DatasetError(f"could not download {kind} {name}: " + "; ".join(failures)
                       + f". Place the file in {folder} yourself (see {ENV_VAR}).")


def _download(root, kind, roles):
    """Download the given files of ``kind`` into ``root/<subdir>``."""
    folder = root / _SUBDIRS[kind]
    folder.mkdir(parents=True, exist_ok=True)
    for role in roles:
        _download_file(kind, role, folder)


# ----------------------------------------------------------------------------------------------
# Splits used by the systems
# ----------------------------------------------------------------------------------------------

def _flatten(images, scale):
    """(n, 28, 28) uint8 -> (n, 784) float32 divided by ``scale``."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(scale)


def mnist_pal_splits(data, scale=256.0):
    """The PAL microcircuit MNIST split (spec §3.4).

    train = official train[0:50000], validation = official train[50000:60000], test = official test.
    Images are flattened to (n, 784) float32 and divided by ``scale``. The default 256 (not 255, so the
    maximum input is 0.99609375, never 1) is a deliberate parity quirk: the reference code divides by
    256, and matching it keeps input rates identical to the reference. Pass ``scale=255.0`` for the
    usual [0, 1] scaling.

    ``data`` is the dict returned by ``load_mnist``. Returns ``{"train": (X, y), "validation": (X, y),
    "test": (X, y)}`` with int64 labels.
    """
    train_x = _flatten(data["train_images"], scale)
    train_y = np.asarray(data["train_labels"], dtype=np.int64)
    return {
        "train": (train_x[:_PAL_N_TRAIN], train_y[:_PAL_N_TRAIN]),
        "validation": (train_x[_PAL_N_TRAIN:], train_y[_PAL_N_TRAIN:]),
        "test": (_flatten(data["test_images"], scale), np.asarray(data["test_labels"], dtype=np.int64)),
    }
