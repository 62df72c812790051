"""Tests of the example data sets (examples/datasets, spec specs/datasets.md §1-3).

Yin-yang: golden values of all six published / PAL splits, the class rule, feature encoding.
IDX and MNIST loaders: small synthetic files written here (every element type, gzip and plain,
truncated, bad magic, checksum mismatch, missing files, download from a local mirror).
One integration test per data set reads the real files from $NEUROGEN_DATA_DIR and is skipped
when that is unset or lacks the files.
"""
import gzip
import hashlib
import math
import os
import pathlib
import struct

import numpy as np
import pytest

import datasets
from datasets import mnist as mnist_mod
from datasets.idx import IDX_TYPES

# --------------------------------------------------------------------------------------------
# Yin-yang
# --------------------------------------------------------------------------------------------

# (convention, split) -> (size, counts 0/1/2, [(x, y, label) of samples 0, 1 and last]) (spec §1.4).
YINYANG_GOLDEN = {
    ("paper", "train"): (5000, (1681, 1702, 1617),
                         [(0.68030754, 0.45049925, 2), (0.09767211, 0.68423303, 1), (0.76907972, 0.58833893, 2)]),
    ("paper", "validation"): (1000, (316, 336, 348),
                              [(0.68057273, 0.32097339, 0), (0.66851572, 0.91744785, 1),
                               (0.71070410, 0.80473335, 1)]),
    ("paper", "test"): (1000, (350, 316, 334),
                        [(0.23409665, 0.40172498, 2), (0.75132902, 0.46824252, 2), (0.32834061, 0.38998304, 1)]),
    ("pal", "train"): (6000, (1983, 2007, 2010),
                       [(0.19665304, 0.76456116, 1), (0.70795135, 0.45061662, 2), (0.81453123, 0.32797390, 0)]),
    ("pal", "validation"): (900, (311, 300, 289),
                            [(0.66856140, 0.47116063, 2), (0.60241587, 0.46037726, 0),
                             (0.17906848, 0.54104731, 2)]),
    ("pal", "test"): (900, (300, 307, 293),
                      [(0.13693679, 0.25369135, 0), (0.80212782, 0.56039088, 2), (0.96373276, 0.51919826, 0)]),
}


@pytest.fixture(scope="module")
def yinyang_all():
    """Both split conventions with their default arguments (generated once; ~0.5 s)."""
    return {conv: datasets.yinyang_splits(conv) for conv in ("paper", "pal")}


@pytest.mark.parametrize("convention,split", sorted(YINYANG_GOLDEN))
def test_yinyang_golden_values(yinyang_all, convention, split):
    size, counts, samples = YINYANG_GOLDEN[(convention, split)]
    features, labels = yinyang_all[convention][split]
    assert features.shape == (size, 4) and features.dtype == np.float64
    assert labels.shape == (size,) and labels.dtype == np.int64
    assert tuple(np.bincount(labels, minlength=3)) == counts
    for index, (x, y, label) in zip((0, 1, -1), samples):
        np.testing.assert_allclose(features[index, :2], (x, y), rtol=0, atol=1e-8)
        assert labels[index] == label


@pytest.mark.parametrize("convention", ["paper", "pal"])
def test_yinyang_features_and_labels_consistent(yinyang_all, convention):
    for features, labels in yinyang_all[convention].values():
        # [x, y, 1-x, 1-y] sums to 2 up to rounding (some rows give 1.9999999999999998).
        np.testing.assert_allclose(features.sum(axis=1), 2.0, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(features[:, 2:], 1.0 - features[:, :2])
        x, y = features[:, 0], features[:, 1]
        assert np.all(np.hypot(x - 0.5, y - 0.5) <= 0.5)  # inside the big disk
        assert all(datasets.yinyang_label(a, b) == c for a, b, c in zip(x, y, labels))


def test_yinyang_generator_is_deterministic_and_seed_dependent():
    a_x, a_y = datasets.generate_yinyang(50, seed=7)
    b_x, b_y = datasets.generate_yinyang(50, seed=7)
    c_x, _ = datasets.generate_yinyang(50, seed=8)
    np.testing.assert_array_equal(a_x, b_x)
    np.testing.assert_array_equal(a_y, b_y)
    assert not np.array_equal(a_x, c_x)
    empty_x, empty_y = datasets.generate_yinyang(0, seed=1)
    assert empty_x.shape == (0, 4) and empty_y.shape == (0,)


def test_yinyang_pal_convention_uses_sizes_and_consecutive_seeds():
    splits = datasets.yinyang_splits("pal", data_seed=123, n_train=4, n_valid=2, n_test=1)
    for name, (size, seed) in {"train": (12, 123), "validation": (6, 124), "test": (3, 125)}.items():
        expected_x, expected_y = datasets.generate_yinyang(size, seed)
        np.testing.assert_array_equal(splits[name][0], expected_x)
        np.testing.assert_array_equal(splits[name][1], expected_y)
    with pytest.raises(ValueError, match="convention"):
        datasets.yinyang_splits("nope")


@pytest.mark.parametrize("x,y,label", [
    (0.25, 0.5, 2), (0.75, 0.5, 2),      # dot centres
    (0.25, 0.55, 2),                     # inside the left dot: the dot rule wins over yang
    (0.25, 0.65, 1),                     # ring around the left dot (0.1 < d_L <= 0.25) is yang
    (0.25, 0.30, 1),
    (0.75, 0.65, 0),                     # ring around the right dot is yin, even in the upper half
    (0.75, 0.35, 0),
    (0.5, 0.9, 1),                       # upper half away from the right dot: yang
    (0.5, 0.1, 0),                       # lower half away from the left dot: yin
    (0.05, 0.5, 1), (0.95, 0.5, 0),      # the dot rings reach the disk edge on the horizontal axis
    (0.5, 0.5, 1),                       # centre: d_L == 0.25 exactly, yang by "d_L <= 0.5 r_big"
])
def test_yinyang_label_rule(x, y, label):
    assert datasets.yinyang_label(x, y) == label


def test_yinyang_label_exact_right_dot_boundary_is_yang():
    # d_R == r_small exactly (0.625 - 0.5 = 0.125 is exact in binary) escapes the strict dot test and
    # is yang by rule 2; with the default r_small the same point lies in the yin ring.
    assert datasets.yinyang_label(0.75, 0.625, r_small=0.125) == 1
    assert datasets.yinyang_label(0.75, 0.625) == 0


def test_yinyang_area_fractions():
    # Monte-Carlo estimate of the class areas within the big disk (spec: 0.459 / 0.461 / 0.080).
    rng = np.random.default_rng(0)
    pts = rng.random((40000, 2))
    pts = pts[np.hypot(pts[:, 0] - 0.5, pts[:, 1] - 0.5) <= 0.5]
    labels = np.array([datasets.yinyang_label(x, y) for x, y in pts])
    fractions = np.bincount(labels, minlength=3) / len(labels)
    # Standard error is ~0.003 with ~31000 points; 0.02 is a loose bound.
    np.testing.assert_allclose(fractions, [0.459, 0.461, 0.080], atol=0.02)


# --------------------------------------------------------------------------------------------
# IDX reader
# --------------------------------------------------------------------------------------------

_TYPE_CODES = {np.dtype(dt.str.replace(">", "").replace("|", "")).name: code for code, dt in IDX_TYPES.items()}


def idx_bytes(array, type_code=None):
    """IDX encoding of ``array`` (header + big-endian data), written independently of the reader."""
    array = np.asarray(array)
    code = _TYPE_CODES[array.dtype.name] if type_code is None else type_code
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, compress=None):
    """Write ``array`` as an IDX file; gzip'd when the name ends in .gz (unless told otherwise)."""
    path = pathlib.Path(path)
    data = idx_bytes(array)
    compress = path.suffix == ".gz" if compress is None else compress
    path.write_bytes(gzip.compress(data) if compress else data)
    return data


@pytest.mark.parametrize("dtype,shape", [
    ("uint8", (3, 4, 5)), ("int8", (7,)), ("int16", (2, 3)), ("int32", (4, 2)),
    ("float32", (2, 2, 2)), ("float64", (5,)),
])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_all_types(tmp_path, dtype, shape, suffix):
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is not None:
        array = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    else:
        array = (rng.standard_normal(shape) * 1e3).astype(dtype)
    path = tmp_path / f"data-{dtype}{suffix}"
    write_idx(path, array)
    result = datasets.read_idx(path)
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative
    assert result.shape == shape
    np.testing.assert_array_equal(result, array)
    result[...] = 0  # an ordinary writable array, not a view of the file buffer


def test_read_idx_big_endian_values(tmp_path):
    # Hand-written bytes: int32 -2 and 258, float32 1.5, to pin the byte order.
    (tmp_path / "i").write_bytes(b"\x00\x00\x0c\x01\x00\x00\x00\x02" + b"\xff\xff\xff\xfe\x00\x00\x01\x02")
    (tmp_path / "f").write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x01" + b"\x3f\xc0\x00\x00")
    assert datasets.read_idx(tmp_path / "i").tolist() == [-2, 258]
    assert datasets.read_idx(tmp_path / "f").tolist() == [1.5]


def test_read_idx_gzip_detected_from_content(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_idx(tmp_path / "plain-named.gz", array, compress=False)
    write_idx(tmp_path / "gzipped-named-plain", array, compress=True)
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "plain-named.gz"), array)
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "gzipped-named-plain"), array)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_truncated(tmp_path, suffix):
    data = idx_bytes(np.zeros((4, 28, 28), dtype=np.uint8))
    path = tmp_path / f"cut{suffix}"
    cut = data[:-10]
    path.write_bytes(gzip.compress(cut) if suffix else cut)
    with pytest.raises(datasets.DatasetError, match="truncated") as err:
        datasets.read_idx(path)
    assert str(path) in str(err.value)


def test_read_idx_truncated_gzip_stream(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))[:-20])
    with pytest.raises(datasets.DatasetError, match="truncated") as err:
        datasets.read_idx(path)
    assert str(path) in str(err.value)


def test_read_idx_truncated_header(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x02")  # 3 dimensions announced, one size present
    with pytest.raises(datasets.DatasetError, match="truncated") as err:
        datasets.read_idx(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("header,what", [
    (b"\x01\x00\x08\x01", "bad IDX magic"),     # non-zero leading byte
    (b"PK\x03\x04", "bad IDX magic"),           # e.g. a zip archive
    (b"\x00\x00\x07\x01", "element type"),      # unknown type code
])
def test_read_idx_bad_magic(tmp_path, header, what):
    path = tmp_path / "bad.idx"
    path.write_bytes(header + b"\x00\x00\x00\x01\x00")
    with pytest.raises(datasets.DatasetError, match=what) as err:
        datasets.read_idx(path)
    assert str(path) in str(err.value)


def test_read_idx_trailing_bytes_and_missing_file(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(np.arange(3, dtype=np.uint8)) + b"\x00")
    with pytest.raises(datasets.DatasetError, match="beyond") as err:
        datasets.read_idx(path)
    assert str(path) in str(err.value)
    with pytest.raises(datasets.DatasetError, match="cannot read") as err:
        datasets.read_idx(tmp_path / "absent")
    assert str(tmp_path / "absent") in str(err.value)


# --------------------------------------------------------------------------------------------
# MNIST loader on synthetic files
# --------------------------------------------------------------------------------------------

_NAMES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
          "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def synthetic_arrays(n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    return {"train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
            "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8)}


def write_mnist_like(folder, arrays, gz=True):
    """Write an MNIST-like folder; returns role -> decompressed IDX bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    return {role: write_idx(folder / (_NAMES[role] + (".gz" if gz else "")), array)
            for role, array in arrays.items()}


def test_checksum_mismatch_is_a_clear_error(tmp_path):
    write_mnist_like(tmp_path / "mnist", synthetic_arrays())
    with pytest.raises(datasets.DatasetError, match="SHA-256") as err:
        datasets.load_mnist("mnist", data_dir=tmp_path)
    message = str(err.value)
    assert str(tmp_path / "mnist") in message and "expected" in message
    assert "\n" not in message


@pytest.mark.parametrize("gz", [True, False])
def test_unverified_load_and_cache(tmp_path, gz):
    arrays = synthetic_arrays()
    write_mnist_like(tmp_path / "fashion-mnist", arrays, gz=gz)
    first = datasets.load_mnist("fashion_mnist", data_dir=tmp_path, verify=False)
    assert sorted(first) == sorted(arrays)
    for role, array in arrays.items():
        np.testing.assert_array_equal(first[role], array)
        assert not first[role].flags.writeable  # shared through the cache
    second = datasets.load_mnist("fashion_mnist", data_dir=tmp_path, verify=False)
    assert second is not first and second["train_images"] is first["train_images"]
    # A replaced file (different size) is read again rather than served from the cache.
    new = synthetic_arrays(n_train=3, seed=1)
    write_mnist_like(tmp_path / "fashion-mnist", new, gz=gz)
    third = datasets.load_mnist("fashion_mnist", data_dir=tmp_path, verify=False)
    np.testing.assert_array_equal(third["train_images"], new["train_images"])


def test_inconsistent_shapes_are_reported(tmp_path):
    arrays = synthetic_arrays()
    arrays["test_labels"] = arrays["test_labels"][:-1]
    write_mnist_like(tmp_path / "mnist", arrays)
    with pytest.raises(datasets.DatasetError, match="labels for") as err:
        datasets.load_mnist("mnist", data_dir=tmp_path, verify=False)
    assert "t10k-labels-idx1-ubyte" in str(err.value)


def test_missing_data_dir_names_env_var(tmp_path, monkeypatch):
    empty = tmp_path / "nothing-here"
    monkeypatch.setenv("NEUROGEN_DATA_DIR", str(empty))
    with pytest.raises(datasets.DatasetError) as err:
        datasets.load_mnist("mnist")
    message = str(err.value)
    assert "NEUROGEN_DATA_DIR" in message and "download=True" in message
    assert str(empty / "mnist" / "train-images-idx3-ubyte") in message
    assert "\n" not in message


def test_partially_missing_files_named(tmp_path):
    write_mnist_like(tmp_path / "mnist", synthetic_arrays())
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(datasets.DatasetError, match="t10k-labels-idx1-ubyte") as err:
        datasets.load_mnist("mnist", data_dir=tmp_path, verify=False)
    assert "train-images" not in str(err.value)


def test_find_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROGEN_DATA_DIR", str(tmp_path / "env"))
    assert datasets.find_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert datasets.find_data_dir() == tmp_path / "env"
    monkeypatch.delenv("NEUROGEN_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert datasets.find_data_dir() == tmp_path / "home" / ".cache" / "neurogen" / "data"


def test_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        datasets.load_mnist("cifar10")


def _local_mirror(tmp_path, monkeypatch, arrays, corrupt=False):
    """A file:// mirror holding the synthetic files, registered with checksums of the originals."""
    mirror = tmp_path / "mirror"
    data = write_mnist_like(mirror, arrays)
    for role, raw in data.items():
        monkeypatch.setitem(mnist_mod.SHA256, f"mnist/{_NAMES[role]}", hashlib.sha256(raw).hexdigest())
    if corrupt:
        write_idx(mirror / (_NAMES["train_labels"] + ".gz"), arrays["train_labels"] ^ 1)
    monkeypatch.setitem(mnist_mod.MIRRORS, "mnist", [mirror.as_uri() + "/"])


def test_download_from_mirror_verifies_and_keeps_file(tmp_path, monkeypatch):
    arrays = synthetic_arrays()
    _local_mirror(tmp_path, monkeypatch, arrays)
    target = tmp_path / "data"
    with pytest.raises(datasets.DatasetError, match="not found"):
        datasets.load_mnist("mnist", data_dir=target)  # never downloads unless asked
    assert not target.exists()
    # verify=False only skips the official-size check; downloads are always checksum-verified.
    loaded = datasets.load_mnist("mnist", data_dir=target, download=True, verify=False)
    np.testing.assert_array_equal(loaded["train_images"], arrays["train_images"])
    assert sorted(p.name for p in (target / "mnist").iterdir()) == sorted(n + ".gz" for n in _NAMES.values())


def test_download_checksum_mismatch_keeps_nothing(tmp_path, monkeypatch):
    _local_mirror(tmp_path, monkeypatch, synthetic_arrays(), corrupt=True)
    target = tmp_path / "data"
    with pytest.raises(datasets.DatasetError, match="could not download.*SHA-256 mismatch"):
        datasets.load_mnist("mnist", data_dir=target, download=True, verify=False)
    left = sorted(p.name for p in (target / "mnist").iterdir())
    assert "train-labels-idx1-ubyte.gz" not in left and not any(n.endswith(".part") for n in left)


def test_pal_splits_on_synthetic_data():
    # The 50000/10000 boundary itself is checked on the real data; here scaling and layout.
    arrays = synthetic_arrays(n_train=60, n_test=5)
    splits = datasets.mnist_pal_splits(arrays)
    x_test, y_test = splits["test"]
    assert x_test.dtype == np.float32 and x_test.shape == (5, 784)
    np.testing.assert_array_equal(x_test, arrays["test_images"].reshape(5, 784) / np.float32(256))
    assert y_test.dtype == np.int64
    x_all = np.concatenate([splits["train"][0], splits["validation"][0]])
    np.testing.assert_array_equal(x_all * 256, arrays["train_images"].reshape(60, 784))
    assert datasets.mnist_pal_splits(arrays, scale=255.0)["test"][0].max() <= 1.0


# --------------------------------------------------------------------------------------------
# Integration: the real files (spec §3.3, §3.4)
# --------------------------------------------------------------------------------------------

REAL = {
    "mnist": {
        "train": ((5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4], 0.1307),
        "test": ((980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9], 0.1325),
    },
    "fashion_mnist": {
        "train": ((6000,) * 10, [9, 0, 0, 3, 0, 2, 7, 2, 5, 5], 0.2860),
        "test": ((1000,) * 10, [9, 2, 1, 1, 6, 1, 4, 6, 5, 7], 0.2868),
    },
}
PAL_COUNTS = {
    "train": (4932, 5678, 4968, 5101, 4859, 4506, 4951, 5175, 4842, 4988),
    "validation": (991, 1064, 990, 1030, 983, 915, 967, 1090, 1009, 961),
    "test": REAL["mnist"]["test"][0],
}


def real_data(kind):
    """Load the real files from $NEUROGEN_DATA_DIR, or skip saying why."""
    if not os.environ.get("NEUROGEN_DATA_DIR"):
        pytest.skip("NEUROGEN_DATA_DIR is not set; point it at a folder with mnist/ and fashion-mnist/")
    root = datasets.find_data_dir()
    folder = root / mnist_mod._SUBDIRS[kind]
    if not all((folder / n).is_file() or (folder / (n + ".gz")).is_file() for n in _NAMES.values()):
        pytest.skip(f"{kind} IDX files not found in {folder}")
    return datasets.load_mnist(kind)


@pytest.mark.parametrize("kind", ["mnist", "fashion_mnist"])
def test_real_data_content(kind):
    data = real_data(kind)
    for split, n in (("train", 60000), ("test", 10000)):
        counts, first, mean = REAL[kind][split]
        images, labels = data[f"{split}_images"], data[f"{split}_labels"]
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.uint8
        assert tuple(np.bincount(labels, minlength=10)) == counts
        assert labels[:10].tolist() == first
        assert math.isclose(round(float(images.mean(dtype=np.float64)) / 255, 4), mean)


def test_real_mnist_pal_splits():
    splits = datasets.mnist_pal_splits(real_data("mnist"))
    for name, counts in PAL_COUNTS.items():
        x, y = splits[name]
        assert x.shape == (sum(counts), 784) and x.dtype == np.float32
        assert tuple(np.bincount(y, minlength=10)) == counts
    assert splits["train"][0].max() == np.float32(255 / 256)  # the /256 parity quirk
