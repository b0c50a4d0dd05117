"""The data layer: split sizes, class counts, determinism, disjointness, and the offline errors."""

import io
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from balance_lite import data
from balance_lite.data import DatasetNotAvailableError
from balance_lite.data.uci import parse_arff, parse_drift_batch, parse_whitespace_table

ROOT = data.data_root()
HAS_MNIST = (ROOT / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
HAS_FASHION = (ROOT / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()
needs_mnist = pytest.mark.skipif(not HAS_MNIST, reason=f"MNIST files not found under {ROOT}/MNIST/raw")
needs_fashion = pytest.mark.skipif(not HAS_FASHION, reason=f"Fashion-MNIST not found under {ROOT}/FashionMNIST/raw")


def rows(ds):
    """Every example of a dataset as a set of byte strings, to test disjointness."""
    return {bytes(x.numpy().tobytes()) for x in ds.x}


def test_available_lists_every_paper_dataset():
    assert data.available() == ["digits", "repeated-digits", "mnist", "repeated-mnist", "repeated-mnist-0",
                                "repeated-mnist-1", "repeated-mnist-2", "repeated-mnist-3", "fashion-mnist",
                                "emnist-balanced", "emnist-bymerge", "emnist-byclass", "imbalanced-mnist", "har", "drift",
                                "dry-bean"]


def test_unknown_name_is_a_value_error():
    with pytest.raises(ValueError, match="name must be one of"):
        data.load("cifar10")


def test_digits_splits():
    s = data.load("digits", seed=3)
    assert [len(s.pool), len(s.holdout), len(s.val), len(s.test)] == [997, 200, 200, 400]
    assert s.input_shape == (64,) and s.num_classes == 10
    assert s.pool.x.dtype == torch.float32 and s.pool.y.dtype == torch.int64
    assert 0.0 <= float(s.pool.x.min()) and float(s.pool.x.max()) <= 1.0
    assert np.bincount(s.pool.y[s.initial].numpy(), minlength=10).tolist() == [2] * 10
    x, y = s.pool[5]
    assert x.shape == (64,) and y.shape == ()


def test_digits_split_is_a_pure_function_of_the_seed():
    a, b, c = data.load("digits", seed=1), data.load("digits", seed=1), data.load("digits", seed=2)
    assert torch.equal(a.pool.x, b.pool.x) and a.initial == b.initial
    assert not torch.equal(a.pool.x, c.pool.x)


def test_digits_parts_are_disjoint_and_cover_the_data():
    s = data.load("digits")
    parts = [s.pool, s.holdout, s.val, s.test]
    assert sum(len(p) for p in parts) == 1797
    # digits has a few exact duplicate images, so compare positions through a recount instead:
    all_x = torch.cat([p.x for p in parts])
    from sklearn.datasets import load_digits

    ref = torch.from_numpy(load_digits().data / 16.0).float()
    assert torch.equal(all_x.sum(0), ref.sum(0))


def test_repeated_digits_repeats_the_pool_with_noise():
    base, rep = data.load("digits", seed=2), data.load("repeated-digits", seed=2)
    n = len(base.pool)
    assert rep.name == "repeated-digits" and len(rep.pool) == 3 * n and rep.input_shape == (64,)
    assert rep.initial == base.initial and rep.num_classes == 10
    for part in ("holdout", "val", "test"):
        assert torch.equal(getattr(rep, part).x, getattr(base, part).x)
    assert torch.equal(rep.pool.y, base.pool.y.repeat(3))
    copies = rep.pool.x.view(3, n, 64)
    noise = copies - base.pool.x
    assert abs(float(noise.std()) - 0.1) < 0.005 and abs(float(noise.mean())) < 0.005
    assert not torch.equal(copies[0], copies[1])  # each copy has its own noise
    # each copy is far closer to its own original than to any other pool image
    d = torch.cdist(copies[1][:50], base.pool.x)
    assert (d.argmin(1) == torch.arange(50)).float().mean() > 0.95
    assert torch.equal(rep.pool.x, data.load("repeated-digits", seed=2).pool.x)
    assert "repeated 3 times" in rep.description
    assert rep.origin.tolist() == list(range(n)) * 3 and base.origin is None
    assert torch.equal(rep.pool.y, base.pool.y[rep.pool_origin()]) and base.pool_origin().tolist() == list(range(n))


def test_splits_check_the_origin_array():
    base = data.load("digits", seed=0)
    import dataclasses

    with pytest.raises(ValueError, match="origin must be a 1-d integer array with one entry per pool point"):
        dataclasses.replace(base, origin=np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="origin must be"):
        dataclasses.replace(base, origin=np.zeros(len(base.pool)))  # floats


@pytest.fixture(scope="module")
def mnist():
    return data.load("mnist", seed=0)


@needs_mnist
def test_mnist_split_sizes_and_counts(mnist):
    assert [len(mnist.pool), len(mnist.holdout), len(mnist.val), len(mnist.test)] == [40_000, 10_000, 10_000, 10_000]
    assert mnist.input_shape == (1, 28, 28)
    # the official training labels per class (shared/data/README.md) add up over pool, D̄pool and val
    counts = sum(np.bincount(p.y.numpy(), minlength=10) for p in (mnist.pool, mnist.holdout, mnist.val))
    assert counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(mnist.test.y.numpy(), minlength=10).tolist() == [980, 1135, 1032, 1010, 982, 892, 958,
                                                                        1028, 974, 1009]
    train_x = torch.cat([mnist.pool.x, mnist.holdout.x, mnist.val.x])
    assert abs(float(train_x.mean())) < 1e-3 and abs(float(train_x.std()) - 1) < 1e-3
    assert np.bincount(mnist.pool.y[mnist.initial].numpy(), minlength=10).tolist() == [2] * 10


@needs_mnist
def test_mnist_holdout_is_disjoint_from_pool_val_and_test(mnist):
    held = rows(mnist.holdout)
    for other in (mnist.pool, mnist.val, mnist.test):
        assert not held & rows(other)


@needs_mnist
def test_mnist_split_is_deterministic(mnist):
    again = data.load("mnist", seed=0)
    assert torch.equal(again.pool.y, mnist.pool.y) and again.initial == mnist.initial
    other = data.load("mnist", seed=1)
    assert not torch.equal(other.pool.y, mnist.pool.y)


@needs_mnist
def test_repeated_mnist_repeats_the_pool_with_noise(mnist):
    rep = data.load("repeated-mnist", seed=0)
    n = len(mnist.pool)
    assert len(rep.pool) == 3 * n and torch.equal(rep.pool.y, mnist.pool.y.repeat(3))
    for copy in range(3):
        noise = rep.pool.x[copy * n:(copy + 1) * n] - mnist.pool.x
        assert abs(float(noise.mean())) < 1e-3 and abs(float(noise.std()) - 0.1) < 1e-3
    assert not torch.equal(rep.pool.x[:n], rep.pool.x[n:2 * n])
    assert torch.equal(rep.val.x, mnist.val.x) and torch.equal(rep.test.x, mnist.test.x)
    assert max(rep.initial) < n


@needs_mnist
def test_table2_repetition_counts_hold_r_plus_one_copies_of_one_split(mnist):
    from balance_lite.data.images import TABLE2_REPEATS, repeated_mnist_copies

    n = len(mnist.pool)
    assert [repeated_mnist_copies(f"repeated-mnist-{r}") for r in TABLE2_REPEATS] == [1, 2, 3, 4]
    assert repeated_mnist_copies("repeated-mnist") == 3 and repeated_mnist_copies("mnist") is None
    assert repeated_mnist_copies("repeated-mnist-4") is None
    largest = data.load("repeated-mnist-3", seed=0)
    for r in TABLE2_REPEATS:
        rep = largest if r == 3 else data.load(f"repeated-mnist-{r}", seed=0)
        assert len(rep.pool) == (r + 1) * n and rep.name == f"repeated-mnist-{r}"
        assert torch.equal(rep.pool.y, mnist.pool.y.repeat(r + 1))
        assert rep.origin.tolist() == list(range(n)) * (r + 1)
        # the copies are the first ones of the largest count: one split, one noise draw per copy
        assert torch.equal(rep.pool.x, largest.pool.x[: (r + 1) * n])
        assert rep.initial == mnist.initial and torch.equal(rep.holdout.x, mnist.holdout.x)
        assert torch.equal(rep.val.x, mnist.val.x) and torch.equal(rep.test.x, mnist.test.x)
        assert f"pool in {r + 1} copies" in rep.description
    # repeat 0 is one noisy copy of the MNIST pool, not the MNIST pool itself
    noise = largest.pool.x[:n] - mnist.pool.x
    assert abs(float(noise.mean())) < 1e-3 and abs(float(noise.std()) - 0.1) < 1e-3


@needs_mnist
def test_repeat_2_is_repeated_mnist():
    a, b = data.load("repeated-mnist", seed=1), data.load("repeated-mnist-2", seed=1)
    for part in ("pool", "holdout", "val", "test"):
        assert torch.equal(getattr(a, part).x, getattr(b, part).x) and torch.equal(getattr(a, part).y, getattr(b, part).y)
    assert np.array_equal(a.origin, b.origin) and a.initial == b.initial


@needs_mnist
def test_imbalanced_mnist_removes_a_random_portion_of_each_class(mnist):
    from balance_lite.data.images import imbalanced_keep_fractions

    imb = data.load("imbalanced-mnist", seed=0)
    fractions = imbalanced_keep_fractions(0)
    assert ((0.01 <= fractions) & (fractions <= 1)).all() and fractions.max() / fractions.min() > 5
    assert not np.array_equal(fractions, imbalanced_keep_fractions(1))
    full = np.bincount(mnist.pool.y.numpy(), minlength=10)
    kept = np.bincount(imb.pool.y.numpy(), minlength=10)
    assert np.array_equal(kept, np.maximum(2, np.round(full * fractions)).astype(int))
    assert torch.equal(imb.val.x, mnist.val.x) and torch.equal(imb.holdout.x, mnist.holdout.x)
    assert np.bincount(imb.pool.y[imb.initial].numpy(), minlength=10).tolist() == [2] * 10


@needs_fashion
def test_fashion_mnist_splits():
    s = data.load("fashion-mnist", seed=0)
    assert [len(s.pool), len(s.holdout), len(s.val), len(s.test)] == [40_000, 10_000, 10_000, 10_000]
    counts = sum(np.bincount(p.y.numpy(), minlength=10) for p in (s.pool, s.holdout, s.val))
    assert counts.tolist() == [6000] * 10
    assert np.bincount(s.test.y.numpy(), minlength=10).tolist() == [1000] * 10


# --- Files in the official formats, written here ------------------------------------------------

def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file as LeCun's format defines it: magic (0, 0, type 0x08 = ubyte, ndim), sizes, data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("split,num_classes", [("balanced", 47), ("byclass", 62)])
def test_emnist_loader_reads_official_idx_files(tmp_path, split, num_classes):
    rng = np.random.default_rng(0)
    per_class = 20
    for part, n in (("train", per_class * num_classes), ("test", 5 * num_classes)):
        labels = np.repeat(np.arange(num_classes), n // num_classes)
        images = rng.integers(0, 256, size=(len(labels), 28, 28))
        images[:, 0, 1] = 255  # a mark above the diagonal: after the upright flip it sits at [1, 0]
        images[:, 1, 0] = 0
        write_idx(tmp_path / "EMNIST" / "raw" / f"emnist-{split}-{part}-images-idx3-ubyte", images)
        write_idx(tmp_path / "EMNIST" / "raw" / f"emnist-{split}-{part}-labels-idx1-ubyte", labels)
    s = data.load(f"emnist-{split}", root=tmp_path, seed=0, download=False, verify=False)
    n_train = per_class * num_classes
    assert s.num_classes == num_classes and s.initial == []
    assert len(s.val) == len(s.holdout) == n_train // 5
    assert len(s.pool) == n_train - 2 * (n_train // 5) and len(s.test) == 5 * num_classes
    assert (s.pool.x[:, 0, 1, 0] > s.pool.x[:, 0, 0, 1]).all()  # transposed upright
    # a random split (Sec. 4.1), not a class-balanced one: the same split as the seed's permutation
    order = np.random.default_rng(0).permutation(n_train)
    labels = np.repeat(np.arange(num_classes), per_class)
    assert s.val.y.tolist() == labels[order[: n_train // 5]].tolist()


def test_missing_image_files_raise_one_clear_error(tmp_path):
    with pytest.raises(DatasetNotAvailableError) as info:
        data.load("emnist-bymerge", root=tmp_path, download=False)
    message = str(info.value)
    assert "emnist-bymerge" in message and str(tmp_path / "EMNIST" / "raw") in message
    assert "emnist-bymerge-train-images-idx3-ubyte" in message and "how to get them" in message
    assert isinstance(info.value, FileNotFoundError)


def test_failed_download_becomes_the_clear_error(tmp_path, monkeypatch):
    import urllib.request

    def no_network(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(DatasetNotAvailableError, match="the download failed: OSError: network unreachable"):
        data.load("dry-bean", root=tmp_path)


def test_offline_switch_never_downloads(tmp_path, monkeypatch):
    import urllib.request

    monkeypatch.setenv("BALANCE_LITE_OFFLINE", "1")
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("downloaded while offline"))
    with pytest.raises(DatasetNotAvailableError, match="drift"):
        data.load("drift", root=tmp_path)


def test_data_root_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("BALANCE_LITE_DATA", str(tmp_path / "env"))
    assert data.data_root() == tmp_path / "env"
    assert data.data_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("BALANCE_LITE_DATA")
    assert "balance_lite" in str(data.data_root())


# --- UCI formats --------------------------------------------------------------------------------

def har_archive(path: Path, n_train: int, n_test: int, rng) -> None:
    """The UCI download: an outer zip holding ``UCI HAR Dataset.zip`` with the text files inside."""
    def table(n):
        x = rng.normal(size=(n, 561))
        y = np.tile(np.arange(1, 7), n // 6 + 1)[:n]
        x_text = "\n".join(" " + " ".join(f"{v: .8e}" for v in row) for row in x) + "\n"
        return x_text, "\n".join(str(v) for v in y) + "\n"

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        for part, n in (("train", n_train), ("test", n_test)):
            x_text, y_text = table(n)
            z.writestr(f"UCI HAR Dataset/{part}/X_{part}.txt", x_text)
            z.writestr(f"UCI HAR Dataset/{part}/y_{part}.txt", y_text)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("UCI HAR Dataset.names", "Human Activity Recognition Using Smartphones\n")
        z.writestr("UCI HAR Dataset.zip", inner.getvalue())


def test_har_loader_reads_the_nested_uci_archive(tmp_path):
    rng = np.random.default_rng(0)
    har_archive(tmp_path / "uci" / "har" / "human+activity+recognition+using+smartphones.zip", 120, 30, rng)
    s = data.load("har", root=tmp_path, download=False, verify=False)
    assert s.num_classes == 6 and s.input_shape == (561,)
    assert len(s.test) == 30 and len(s.pool) + len(s.val) == 120
    assert len(s.val) == 150 // 5 and s.holdout is s.pool  # App. B.1: the AL pool is also D̄pool
    train_x = torch.cat([s.pool.x, s.val.x])
    assert torch.allclose(train_x.mean(0), torch.zeros(561), atol=1e-5)
    assert set(s.pool.y.tolist()) <= set(range(6)) and len(s.initial) == 12


def test_whitespace_table_parser():
    got = parse_whitespace_table(b"  2.5e-01 -1.0000000e+00\n 3.0  4\n")
    assert got.tolist() == [[0.25, -1.0], [3.0, 4.0]]


def test_drift_batch_parser_reads_label_concentration_and_sparse_pairs():
    text = b"1;10.000000 1:15596.162100 2:1.868245 128:-3.5\n6;50.000000 3:7.0\n"
    x, y = parse_drift_batch(text)
    assert y.tolist() == [0, 5] and x.shape == (2, 128)
    assert x[0, 0] == 15596.1621 and x[0, 1] == 1.868245 and x[0, 127] == -3.5 and x[1, 2] == 7.0


def test_drift_loader_pools_ten_batches(tmp_path):
    rng = np.random.default_rng(1)
    archive = tmp_path / "uci" / "gas_drift" / "gas+sensor+array+drift+dataset.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as z:
        for b in range(1, 11):
            lines = [f"{(i % 6) + 1};{rng.uniform(5, 500):.6f} " +
                     " ".join(f"{j}:{v:.6f}" for j, v in enumerate(rng.normal(size=128), 1)) for i in range(30)]
            z.writestr(f"Dataset/batch{b}.dat", "\n".join(lines) + "\n")
    s = data.load("drift", root=tmp_path, download=False, verify=False)
    assert s.num_classes == 6 and s.input_shape == (128,)
    assert len(s.pool) + len(s.val) + len(s.test) == 300
    assert len(s.test) == len(s.val) == 60 and s.holdout is s.pool


BEAN_ARFF = """@RELATION DryBean

@ATTRIBUTE Area NUMERIC
@ATTRIBUTE Perimeter NUMERIC
@ATTRIBUTE Class {SEKER,BARBUNYA,BOMBAY,CALI,HOROZ,SIRA,DERMASON}

@DATA
"""


def test_arff_parser_reads_numeric_features_and_nominal_class():
    text = (BEAN_ARFF + "28395,610.291,SEKER\n28734,638.018,DERMASON\n").encode()
    names, x, classes, y = parse_arff(text)
    assert names == ["Area", "Perimeter"] and classes[0] == "SEKER" and len(classes) == 7
    assert x.tolist() == [[28395, 610.291], [28734, 638.018]] and y.tolist() == [0, 6]


def test_dry_bean_loader_reads_unpacked_arff(tmp_path):
    rng = np.random.default_rng(2)
    classes = ["SEKER", "BARBUNYA", "BOMBAY", "CALI", "HOROZ", "SIRA", "DERMASON"]
    body = "".join(f"{rng.uniform(2e4, 2e5):.0f},{rng.uniform(500, 2000):.3f},{classes[i % 7]}\n" for i in range(140))
    target = tmp_path / "uci" / "dry_bean" / "DryBeanDataset" / "Dry_Bean_Dataset.arff"
    target.parent.mkdir(parents=True)
    target.write_text(BEAN_ARFF + body)
    s = data.load("dry-bean", root=tmp_path, download=False, verify=False)
    assert s.num_classes == 7 and s.input_shape == (2,)
    assert len(s.test) == 28 and len(s.pool) == 140 - 2 * 28 and s.holdout is s.pool


@pytest.mark.parametrize("name", ["emnist-balanced", "emnist-bymerge", "emnist-byclass", "har", "drift", "dry-bean"])
def test_real_files_when_present(name):
    """The real data sets, where a machine has them (never on CI, which has no internet)."""
    try:
        s = data.load(name, download=False)
    except DatasetNotAvailableError as missing:
        pytest.skip(f"{name}: real files not present ({str(missing).splitlines()[0]})")
    assert len(s.pool) > 1000 and s.num_classes >= 6
