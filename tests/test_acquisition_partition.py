"""BALanCe-Partition (App. B.3): farthest-first classes and the all-pairs edge discount."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_lite.acquisition import balance_scores, partition_classes, partition_scores
from balance_lite.clustering import farthest_first_classes, pairwise_hamming
from tests.acquisition_helpers import random_log_probs

pytestmark = pytest.mark.usefixtures("single_thread")


def brute_partition(lp_a, lp_b, classes):
    """The double sum over all ordered pairs of the 2K hypotheses, written out."""
    lp = torch.cat([lp_a, lp_b], 1).double()
    p = lp.exp()
    N, H, C = p.shape
    lam = p / p.amax(-1, keepdim=True)
    out = []
    for n in range(N):
        total = 0.0
        for y in range(C):
            p_y = float(p[n, :, y].mean())
            cut = 0.0
            for h in range(H):
                for g in range(H):
                    if classes[h] != classes[g]:
                        cut += 1.0 - float(lam[n, h, y]) * float(lam[n, g, y])
            total += p_y * cut / H**2
        out.append(total)
    return torch.tensor(out, dtype=torch.float64)


def random_classes(k, seed, n_classes=3):
    return torch.randint(0, n_classes, (2 * k,), generator=torch.Generator().manual_seed(seed))


@settings(deadline=None, max_examples=20)
@given(n=st.integers(1, 4), k=st.integers(1, 4), c=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_partition_matches_double_sum(n, k, c, seed):
    lp_a, lp_b = random_log_probs(n, k, c, seed), random_log_probs(n, k, c, seed + 1)
    classes = random_classes(k, seed)
    out = partition_scores(lp_a, lp_b, classes)
    assert torch.allclose(out, brute_partition(lp_a, lp_b, classes), atol=1e-12)
    sizes = torch.bincount(classes).double()
    assert (out >= 0).all() and (out <= 1 - sizes.square().sum() / (2 * k) ** 2 + 1e-12).all()


@settings(deadline=None, max_examples=20)
@given(n=st.integers(1, 5), k=st.integers(1, 4), c=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_partition_invariants(n, k, c, seed):
    lp_a, lp_b = random_log_probs(n, k, c, seed), random_log_probs(n, k, c, seed + 1)
    classes = random_classes(k, seed)
    out = partition_scores(lp_a, lp_b, classes)
    g = torch.Generator().manual_seed(seed)
    pc, pn = torch.randperm(c, generator=g), torch.randperm(n, generator=g)
    relabel = torch.tensor([5, 2, 7])[classes]  # other class ids, same partition
    swapped = torch.cat([classes[k:], classes[:k]])
    assert torch.allclose(partition_scores(lp_a, lp_b, relabel), out, atol=1e-12)
    assert torch.allclose(partition_scores(lp_a[..., pc], lp_b[..., pc], classes), out, atol=1e-12)
    assert torch.allclose(partition_scores(lp_b, lp_a, swapped), out, atol=1e-12)
    assert torch.allclose(partition_scores(lp_a[pn], lp_b[pn], classes), out[pn], atol=1e-12)
    assert (partition_scores(lp_a, lp_b, torch.zeros(2 * k, dtype=torch.long)) == 0).all()


def test_one_pair_in_two_classes_is_half_of_balance():
    # K = 1: the ordered pairs (w, w') and (w', w) are the only cross pairs, out of (2K)^2 = 4
    lp_a, lp_b = random_log_probs(5, 1, 3, seed=1), random_log_probs(5, 1, 3, seed=2)
    got = partition_scores(lp_a, lp_b, torch.tensor([0, 1]))
    assert torch.allclose(got, balance_scores(lp_a, lp_b, torch.tensor([True])) / 2, atol=1e-12)


def test_partition_classes_uses_farthest_first_on_all_hypotheses():
    g = torch.Generator().manual_seed(0)
    preds_a = torch.randint(0, 3, (4, 20), generator=g)
    preds_b = preds_a.clone()
    preds_b[:, :3] = (preds_b[:, :3] + 1) % 3  # each w'_k differs from w_k on 3 of 20 points
    labels = partition_classes(preds_a, preds_b, tau=0.2)
    expected, _ = farthest_first_classes(pairwise_hamming(torch.cat([preds_a, preds_b])), radius=0.2)
    assert torch.equal(labels, expected) and labels.shape == (8,)
    assert torch.equal(partition_classes(preds_a, preds_a, 0.0)[:4], partition_classes(preds_a, preds_a, 0.0)[4:])
    assert (partition_classes(preds_a, preds_b, 1.0) == 0).all()  # radius 1: one class


@pytest.mark.parametrize(
    "classes, exc, match",
    [
        (torch.zeros(3, dtype=torch.long), ValueError, r"classes must have shape \[2K\] = \[4\]"),
        (torch.zeros(4), TypeError, "classes must be an integer tensor"),
        (torch.tensor([0, -1, 0, 1]), ValueError, "non-negative"),
        ([0, 1, 0, 1], TypeError, "classes"),
    ],
)
def test_partition_bad_classes(classes, exc, match):
    lp = random_log_probs(3, 2, 3, seed=0)
    with pytest.raises(exc, match=match):
        partition_scores(lp, lp, classes)


def test_partition_classes_bad_input():
    a = torch.zeros(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match="tau"):
        partition_classes(a, a, 2.0)
    with pytest.raises(ValueError, match="preds_b must have shape"):
        partition_classes(a, a[:, :3], 0.1)
