"""Data files you can trust (issue 18): digests, shapes, label ranges and class counts are verified.

The corruption cases run on small files in the official formats written here (IDX for MNIST,
ARFF for Dry Bean), registered as "official" for the test by patching the expected digests and
counts; the real files, where present, must pass the same checks.
"""

import hashlib
import shutil
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from balance_lite import data
from balance_lite.data import DataFileError, verify
from balance_lite.acquisition import batch_balance_value, joint_mutual_information
from balance_lite.acquisition._checks import check_log_probs

ROOT = data.data_root()
HAS_MNIST = (ROOT / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
HAS_BEAN = (ROOT / "uci" / "dry_bean" / "DryBeanDataset" / "Dry_Bean_Dataset.arff").is_file()

RAW = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def write_idx(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def small_set(folder: Path, per_class: tuple[int, int], seed: int) -> dict:
    """Four IDX files of a 10-class set with ``per_class`` examples per class in train and test."""
    rng = np.random.default_rng(seed)
    counts = {}
    for (prefix, n), part in zip((("train", per_class[0]), ("t10k", per_class[1])), ("train", "test")):
        labels = np.repeat(np.arange(10), n)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, size=(len(labels), 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
        counts[part] = (len(labels), [n] * 10)
    return counts


@pytest.fixture
def official(tmp_path, monkeypatch):
    """A data root with small "official" MNIST and Fashion-MNIST sets (their digests and counts registered)."""
    root = tmp_path / "root"
    mnist = small_set(root / "MNIST" / "raw", (30, 10), seed=0)
    fashion = small_set(root / "FashionMNIST" / "raw", (30, 10), seed=1)
    monkeypatch.setitem(verify.IDX_EXPECTED, "MNIST", (10, mnist))
    monkeypatch.setitem(verify.IDX_EXPECTED, "FashionMNIST", (10, fashion))
    for folder in ("MNIST", "FashionMNIST"):
        for name in RAW:
            path = root / folder / "raw" / name
            monkeypatch.setitem(verify.SHA256, f"{folder}/raw/{name}", hashlib.sha256(path.read_bytes()).hexdigest())
    return root


def load_mnist(root, **kw):
    return data.load("mnist", root=root, download=False, **kw)


def test_the_official_small_set_loads(official):
    s = load_mnist(official)
    assert len(s.test) == 100 and s.num_classes == 10


def idx_case(root: Path, case: str) -> str:
    """Damage the MNIST copy under ``root`` as in ``case``; return the file the error must name."""
    raw = root / "MNIST" / "raw"
    labels = np.fromfile(raw / "train-labels-idx1-ubyte", dtype=np.uint8, offset=8)
    if case == "fewer labels than images":
        write_idx(raw / "train-labels-idx1-ubyte", labels[:-10])
        return "train-labels-idx1-ubyte"
    if case == "a label of 255":
        labels = labels.copy()
        labels[7] = 255
        write_idx(raw / "train-labels-idx1-ubyte", labels)
        return "train-labels-idx1-ubyte"
    if case == "train and test swapped":
        for kind in ("images-idx3", "labels-idx1"):
            a, b = raw / f"train-{kind}-ubyte", raw / f"t10k-{kind}-ubyte"
            tmp = raw / "swap"
            a.rename(tmp)
            b.rename(a)
            tmp.rename(b)
        return "train-images-idx3-ubyte"
    if case == "fashion files under MNIST's folder":
        for name in RAW:
            shutil.copy(root / "FashionMNIST" / "raw" / name, raw / name)
        return "MNIST/raw/train-images-idx3-ubyte"
    if case == "a bad magic number":
        path = raw / "t10k-images-idx3-ubyte"
        path.write_bytes(b"\x1f\x8b\x08\x00" + path.read_bytes()[4:])  # a gzip file's first bytes
        return "t10k-images-idx3-ubyte"
    if case == "truncated images":
        path = raw / "train-images-idx3-ubyte"
        path.write_bytes(path.read_bytes()[:-300])
        return "train-images-idx3-ubyte"
    if case == "one pixel changed":
        path = raw / "t10k-images-idx3-ubyte"
        body = bytearray(path.read_bytes())
        body[-1] ^= 1
        path.write_bytes(bytes(body))
        return "t10k-images-idx3-ubyte"
    raise AssertionError(case)


IDX_CASES = {
    "fewer labels than images": "labels for the",
    "a label of 255": "label 255 at position 7",
    "train and test swapped": "swapped",
    "fashion files under MNIST's folder": "SHA-256",
    "a bad magic number": "magic number 1f8b0800",
    "truncated images": "truncated",
    "one pixel changed": "SHA-256",
}


@pytest.mark.parametrize("case", sorted(IDX_CASES))
def test_a_damaged_idx_file_is_one_error_naming_it(official, case):
    name = idx_case(official, case)
    with pytest.raises(DataFileError) as info:
        load_mnist(official)
    message = str(info.value)
    assert name in message and IDX_CASES[case] in message and "\n" not in message
    assert "missing" not in message
    assert isinstance(info.value, ValueError) and not isinstance(info.value, FileNotFoundError)


@pytest.mark.parametrize("case", ["train and test swapped", "fashion files under MNIST's folder", "one pixel changed"])
def test_opting_out_accepts_your_own_copy(official, case, monkeypatch):
    idx_case(official, case)
    assert len(load_mnist(official, verify=False).test) > 0
    monkeypatch.setenv("BALANCE_LITE_VERIFY", "0")
    assert len(load_mnist(official).test) > 0
    assert pytest.raises(DataFileError, load_mnist, official, verify=True)  # the argument wins over the variable


@pytest.mark.parametrize("case", ["a label of 255", "a bad magic number", "truncated images", "fewer labels than images"])
def test_format_checks_hold_even_when_verification_is_off(official, case):
    idx_case(official, case)
    with pytest.raises(DataFileError):
        load_mnist(official, verify=False)


def test_digests_are_cached_by_path_size_and_mtime(official, monkeypatch, tmp_path):
    monkeypatch.setattr(verify, "_cache_file", lambda: tmp_path / "cache" / "verified.json")
    verify._MEMORY.clear()
    path = official / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    digest = verify.file_sha256(path)
    assert (tmp_path / "cache" / "verified.json").exists()
    verify._MEMORY.clear()
    calls, sha256 = [], hashlib.sha256
    monkeypatch.setattr(verify.hashlib, "sha256", lambda *a: calls.append(a) or sha256(*a))
    assert verify.file_sha256(path) == digest and calls == []  # from the cache file
    path.write_bytes(path.read_bytes())  # same bytes, new mtime: hashed again
    assert verify.file_sha256(path) == digest and len(calls) == 1


# --- Dry Bean --------------------------------------------------------------------------------------

CLASSES = ["SEKER", "BARBUNYA", "BOMBAY", "CALI", "HOROZ", "SIRA", "DERMASON"]
HEADER = ("@RELATION DryBean\n\n@ATTRIBUTE Area NUMERIC\n@ATTRIBUTE Perimeter NUMERIC\n"
          "@ATTRIBUTE Class {" + ",".join(CLASSES) + "}\n\n@DATA\n")
BEAN = Path("uci") / "dry_bean" / "DryBeanDataset" / "Dry_Bean_Dataset.arff"


@pytest.fixture
def bean(tmp_path, monkeypatch):
    """A small "official" Dry Bean ARFF (140 rows, 20 per class)."""
    rng = np.random.default_rng(2)
    rows = [f"{rng.uniform(2e4, 2e5):.0f},{rng.uniform(500, 2000):.3f},{CLASSES[i % 7]}" for i in range(140)]
    root = tmp_path / "root"
    (root / BEAN).parent.mkdir(parents=True)
    (root / BEAN).write_text(HEADER + "\n".join(rows) + "\n")
    monkeypatch.setitem(verify.SHA256, BEAN.as_posix(), hashlib.sha256((root / BEAN).read_bytes()).hexdigest())
    monkeypatch.setitem(verify.TABLE_EXPECTED, "dry-bean",
                        {"rows": 140, "features": 2, "classes": 7, "counts": {c: 20 for c in CLASSES}})
    return root, rows


def load_bean(root, **kw):
    return data.load("dry-bean", root=root, download=False, **kw)


BEAN_CASES = {
    "truncated to 5 classes": (lambda rows: [r for r in rows if not r.endswith(("SIRA", "DERMASON"))],
                               "expected the official 140 rows"),
    "one value changed": (lambda rows: [rows[0].replace(",", "1,", 1)] + rows[1:], "SHA-256"),
    "a ? value": (lambda rows: ["?," + rows[0].split(",", 1)[1]] + rows[1:], "missing or non-finite value"),
    "truncated mid-line": (lambda rows: rows[:-1] + [rows[-1][:7]], "truncated"),
    "an unknown class": (lambda rows: rows[:-1] + [rows[-1].rsplit(",", 1)[0] + ",PINTO"], "readable ARFF"),
}


@pytest.mark.parametrize("case", sorted(BEAN_CASES))
def test_a_damaged_dry_bean_file_is_one_error_naming_it(bean, case):
    root, rows = bean
    change, expected = BEAN_CASES[case]
    text = HEADER + "\n".join(change(rows)) + ("" if case == "truncated mid-line" else "\n")
    (root / BEAN).write_text(text)
    with pytest.raises(DataFileError) as info:
        load_bean(root)
    assert "Dry_Bean_Dataset.arff" in str(info.value) and expected in str(info.value), str(info.value)
    assert "\n" not in str(info.value)


def test_dry_bean_counts_are_checked_without_a_digest_too(bean, monkeypatch):
    root, rows = bean
    monkeypatch.delitem(verify.SHA256, BEAN.as_posix())
    (root / BEAN).write_text(HEADER + "\n".join(r for r in rows if not r.endswith(("SIRA", "DERMASON"))) + "\n")
    with pytest.raises(DataFileError, match="rows of 2 features, expected the official 140"):
        load_bean(root)
    assert load_bean(root, verify=False).num_classes == 5
    (root / BEAN).write_text(HEADER + "\n".join(["?," + rows[0].split(",", 1)[1]] + rows[1:]) + "\n")
    with pytest.raises(DataFileError, match="data row 1, feature 1"):
        load_bean(root, verify=False)  # NaN features are refused even for your own copy


# --- the real files --------------------------------------------------------------------------------

@pytest.mark.skipif(not HAS_MNIST, reason=f"MNIST not found under {ROOT}")
def test_real_mnist_and_fashion_pass_verification_and_it_is_cheap():
    for folder in ("MNIST", "FashionMNIST"):
        for name in RAW:
            path = ROOT / folder / "raw" / name
            assert verify.file_sha256(path) == verify.SHA256[f"{folder}/raw/{name}"]
    from balance_lite.data.images import _check_files

    start = time.perf_counter()
    _check_files("MNIST", ROOT, None)  # digests cached: header, labels and counts only
    assert time.perf_counter() - start < 0.5


@pytest.mark.skipif(not HAS_BEAN, reason=f"Dry Bean not found under {ROOT}")
def test_real_dry_bean_passes_verification():
    s = data.load("dry-bean", download=False, verify=True)
    assert s.num_classes == 7 and len(s.pool) + len(s.val) + len(s.test) == 13_611


# --- arguments -------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [None, True, -1, 1.5, "0"])
def test_load_needs_an_integer_seed(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        data.load("digits", seed=seed)
    assert data.load("digits", seed=np.int64(3)).initial == data.load("digits", seed=3).initial


def test_a_missing_root_is_an_error_and_creates_nothing(tmp_path):
    with pytest.raises(ValueError, match="root .* is not a folder"):
        data.load("mnist", root=tmp_path / "typo", download=True)
    assert not (tmp_path / "typo").exists()


def test_verify_must_be_a_bool():
    with pytest.raises(TypeError, match="verify must be"):
        data.load("digits", verify="no")


@pytest.mark.parametrize("indices", [[0.9, 1.7], [True, False], "01", torch.tensor([0.0, 1.0]), [[0, 1]]])
def test_index_arguments_are_not_coerced(indices):
    lp = torch.log_softmax(torch.randn(3, 4, 2, dtype=torch.float64), -1)
    with pytest.raises(TypeError, match="indices must"):
        joint_mutual_information(lp, indices)
    with pytest.raises(TypeError, match="indices must"):
        batch_balance_value(lp, lp.flip(1), torch.ones(4, dtype=torch.bool), indices)
    good = [np.int64(0), torch.tensor(1)]
    assert joint_mutual_information(lp, good) == joint_mutual_information(lp, [0, 1])
    assert joint_mutual_information(lp, torch.tensor([0, 1])) == joint_mutual_information(lp, [0, 1])


@pytest.mark.parametrize("dtype,C", [(torch.bfloat16, 2), (torch.bfloat16, 10), (torch.bfloat16, 47),
                                     (torch.bfloat16, 100), (torch.float16, 47), (torch.float16, 62),
                                     (torch.float16, 1000)])
def test_half_precision_log_softmax_is_accepted_and_logits_are_not(dtype, C):
    torch.manual_seed(C)
    for scale in (0.3, 3.0, 30.0):
        x = torch.randn(64, 8, C) * scale
        assert check_log_probs(torch.log_softmax(x.to(dtype), -1)) == (64, 8, C)
        assert check_log_probs(torch.log_softmax(x, -1).to(dtype)) == (64, 8, C)
    logits = (torch.randn(64, 8, C) + 1.0).to(dtype)
    with pytest.raises(ValueError, match="not logits"):
        check_log_probs(logits)


def test_meta_tensors_are_one_clear_error():
    with pytest.raises(ValueError, match="meta device"):
        check_log_probs(torch.empty(3, 4, 2, device="meta"))
