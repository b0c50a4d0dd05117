"""One-point scores, BALD, top_b, Selection and the shared input checks."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_lite.acquisition import (
    Selection,
    bald_scores,
    mean_std_scores,
    predictive_entropy_scores,
    top_b,
    variation_ratio_scores,
)
from tests.acquisition_helpers import brute_bald, brute_entropy, random_log_probs

pytestmark = pytest.mark.usefixtures("single_thread")

SCORES = [bald_scores, mean_std_scores, predictive_entropy_scores, variation_ratio_scores]


def test_bald_matches_plain_reference():
    lp = random_log_probs(7, 5, 4, seed=3)
    assert torch.allclose(bald_scores(lp), brute_bald(lp), atol=1e-12)


def test_predictive_entropy_matches_plain_reference():
    lp = random_log_probs(6, 4, 3, seed=4)
    p = lp.exp()
    ref = torch.tensor([brute_entropy(p[n].mean(0)) for n in range(6)], dtype=torch.float64)
    assert torch.allclose(predictive_entropy_scores(lp), ref, atol=1e-12)


def test_mean_std_matches_plain_reference():
    lp = random_log_probs(6, 4, 3, seed=5)
    p = lp.exp()
    ref = p.std(dim=1, unbiased=False).mean(-1)
    assert torch.allclose(mean_std_scores(lp), ref, atol=1e-12)


def test_variation_ratio_matches_plain_reference():
    lp = random_log_probs(6, 4, 3, seed=6)
    ref = 1 - lp.exp().mean(1).max(-1).values
    assert torch.allclose(variation_ratio_scores(lp), ref, atol=1e-12)


def test_known_values():
    agree = torch.tensor([[0.5, 0.5], [0.5, 0.5]]).log()
    disagree = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).log()  # -inf entries: probability 0
    lp = torch.stack([agree, disagree])
    assert torch.allclose(bald_scores(lp), torch.tensor([0.0, math.log(2)], dtype=torch.float64))
    assert torch.allclose(predictive_entropy_scores(lp), torch.tensor([math.log(2)] * 2, dtype=torch.float64))
    assert torch.allclose(mean_std_scores(lp), torch.tensor([0.0, 0.5], dtype=torch.float64))
    assert torch.allclose(variation_ratio_scores(lp), torch.tensor([0.5, 0.5], dtype=torch.float64))


@settings(deadline=None, max_examples=25)
@given(n=st.integers(1, 5), s=st.integers(1, 4), c=st.integers(2, 5), seed=st.integers(0, 2**16))
def test_score_ranges_and_pool_permutation(n, s, c, seed):
    lp = random_log_probs(n, s, c, seed)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    for fn in SCORES:
        out = fn(lp)
        assert out.shape == (n,) and out.dtype == torch.float64
        assert torch.allclose(fn(lp[perm]), out[perm], atol=1e-12)
        assert torch.allclose(fn(lp[:, :, torch.randperm(c)]), out, atol=1e-12)  # class relabelling
    assert (bald_scores(lp) >= 0).all() and (bald_scores(lp) <= math.log(c) + 1e-12).all()
    assert (bald_scores(lp) <= predictive_entropy_scores(lp) + 1e-12).all()
    assert (mean_std_scores(lp) <= 0.5 + 1e-12).all()
    assert (variation_ratio_scores(lp) <= 1 - 1 / c + 1e-12).all()


def test_float32_input_gives_float64_scores():
    lp = random_log_probs(5, 3, 4, seed=1, dtype=torch.float32)
    assert torch.allclose(bald_scores(lp), brute_bald(lp), atol=1e-6)


# ---------------------------------------------------------------- top_b and Selection


def test_top_b_orders_by_score():
    sel = top_b(torch.tensor([0.1, 0.9, 0.4, 0.7]), 3)
    assert isinstance(sel, Selection)
    assert sel.indices == [1, 3, 2]
    assert sel.scores == pytest.approx([0.9, 0.7, 0.4])
    assert sel.num_tied == [1, 1, 1] and not sel.random_fallback


def test_top_b_breaks_ties_at_random_not_by_index():
    scores = torch.zeros(20, dtype=torch.float64)
    firsts = {top_b(scores, 1, generator=torch.Generator().manual_seed(s)).indices[0] for s in range(30)}
    assert len(firsts) > 5  # a lowest-index rule would always give 0
    sel = top_b(scores, 3, generator=torch.Generator().manual_seed(0))
    assert sel.num_tied == [20, 19, 18]
    again = top_b(scores, 3, generator=torch.Generator().manual_seed(0))
    assert again.indices == sel.indices  # reproducible with a seeded generator


def test_top_b_tie_counts_mixed():
    sel = top_b(torch.tensor([1.0, 2.0, 2.0, 0.5, 1.0]), 4, generator=torch.Generator().manual_seed(1))
    assert sorted(sel.indices[:2]) == [1, 2] and sorted(sel.indices[2:]) == [0, 4]
    assert sel.num_tied == [2, 1, 2, 1]


@pytest.mark.parametrize(
    "scores, b, exc, match",
    [
        (torch.tensor([1.0, 2.0]), 3, ValueError, "batch_size must be between 1 and the pool size 2, got 3"),
        (torch.tensor([1.0, 2.0]), 0, ValueError, "batch_size"),
        (torch.tensor([1.0, 2.0]), 1.5, TypeError, "batch_size"),
        (torch.tensor([1.0, 2.0]), True, TypeError, "batch_size"),
        (torch.tensor([1.0, float("nan")]), 1, ValueError, "scores must not contain NaN"),
        (torch.ones(2, 2), 1, ValueError, r"scores must have shape \[N\]"),
        (torch.zeros(0), 1, ValueError, "scores"),
        (torch.tensor([1, 2]), 1, TypeError, "scores"),
        ([1.0, 2.0], 1, TypeError, "scores"),
    ],
)
def test_top_b_bad_input(scores, b, exc, match):
    with pytest.raises(exc, match=match):
        top_b(scores, b)


# ---------------------------------------------------------------- input checks


def _good():
    return random_log_probs(3, 2, 4, seed=0)


@pytest.mark.parametrize("fn", SCORES)
@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: _good()[0], ValueError, r"log_probs must have shape \[N, S, C\], got \(2, 4\)"),
        (lambda: _good()[:0], ValueError, r"at least one pool point \(N >= 1\)"),
        (lambda: _good()[:, :0], ValueError, r"at least one hypothesis \(S >= 1\)"),
        (lambda: torch.zeros(3, 2, 1), ValueError, r"at least two classes \(C >= 2\)"),
        (lambda: _good().exp(), ValueError, "sums to 1"),
        (lambda: torch.randn(3, 2, 4, dtype=torch.float64), ValueError, "not logits or probabilities"),
        (lambda: _good().index_put((torch.tensor([0]),), torch.tensor(float("nan"), dtype=torch.float64)),
         ValueError, "must not contain NaN"),
        (lambda: torch.full((3, 2, 4), float("inf")), ValueError, r"\+inf"),
        (lambda: torch.full((3, 2, 4), -float("inf")), ValueError, "sums to 1"),
        (lambda: torch.zeros(3, 2, 4, dtype=torch.long), TypeError, "floating-point"),
        (lambda: _good().numpy(), TypeError, "torch.Tensor"),
    ],
)
def test_bad_log_probs(fn, make, exc, match):
    with pytest.raises(exc, match=match):
        fn(make())
