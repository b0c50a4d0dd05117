"""balance_scores (Eq. 3 of the paper) and likelihood_ratios; Hamming edges and tau are in test_hamming.py."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_lite.acquisition import balance_scores, likelihood_ratios
from tests.acquisition_helpers import brute_eq4, random_case

pytestmark = pytest.mark.usefixtures("single_thread")

# ---------------------------------------------------------------- balance_scores (Eq. 3)


def test_likelihood_ratios():
    lam = likelihood_ratios(torch.tensor([[0.2, 0.6, 0.2]], dtype=torch.float64).log())
    assert torch.allclose(lam, torch.tensor([[1 / 3, 1.0, 1 / 3]], dtype=torch.float64))


def test_balance_known_value():
    # one pair, hard and opposite predictions: p(y) = (1/2, 1/2), and any label cuts the edge
    lp_a = torch.tensor([[[1.0, 0.0]]], dtype=torch.float64).log()
    lp_b = torch.tensor([[[0.0, 1.0]]], dtype=torch.float64).log()
    out = balance_scores(lp_a, lp_b, torch.tensor([True]))
    assert out.tolist() == [1.0]
    assert balance_scores(lp_a, lp_b, torch.tensor([False])).tolist() == [0.0]
    assert balance_scores(lp_a, lp_a, torch.tensor([True])).tolist() == [0.0]  # agreeing pair: nothing cut


@settings(deadline=None, max_examples=20)
@given(n=st.integers(1, 4), k=st.integers(1, 4), c=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_balance_matches_enumeration(n, k, c, seed):
    lp_a, lp_b, edges = random_case(n, k, c, seed)
    ref = torch.tensor([brute_eq4(lp_a, lp_b, edges, [x]) for x in range(n)], dtype=torch.float64)
    assert torch.allclose(balance_scores(lp_a, lp_b, edges), ref, atol=1e-12)


@settings(deadline=None, max_examples=30)
@given(n=st.integers(1, 6), k=st.integers(1, 5), c=st.integers(2, 5), seed=st.integers(0, 2**16))
def test_balance_invariants(n, k, c, seed):
    lp_a, lp_b, edges = random_case(n, k, c, seed)
    out = balance_scores(lp_a, lp_b, edges)
    g = torch.Generator().manual_seed(seed)
    pk, pc, pn = torch.randperm(k, generator=g), torch.randperm(c, generator=g), torch.randperm(n, generator=g)
    assert torch.allclose(balance_scores(lp_a[:, pk], lp_b[:, pk], edges[pk]), out, atol=1e-12)
    assert torch.allclose(balance_scores(lp_a[..., pc], lp_b[..., pc], edges), out, atol=1e-12)
    assert torch.allclose(balance_scores(lp_b, lp_a, edges), out, atol=1e-12)
    assert torch.allclose(balance_scores(lp_a[pn], lp_b[pn], edges), out[pn], atol=1e-12)
    assert (out >= 0).all() and (out <= edges.double().mean() + 1e-12).all()
    assert (balance_scores(lp_a, lp_b, torch.zeros(k, dtype=torch.bool)) == 0).all()


def test_balance_float32_input():
    lp_a, lp_b, edges = random_case(5, 3, 4, seed=2)
    out32 = balance_scores(lp_a.float(), lp_b.float(), edges)
    assert out32.dtype == torch.float64
    assert torch.allclose(out32, balance_scores(lp_a, lp_b, edges), atol=1e-6)


def _case():
    return random_case(3, 2, 4, seed=0)


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda a, b, e: (a, b[:, :1], e), ValueError,
         r"log_probs_b must have shape \[N, K, C\] matching log_probs_a \(3, 2, 4\), got \(3, 1, 4\)"),
        (lambda a, b, e: (a, b[:2], e), ValueError, "log_probs_b must have shape"),
        (lambda a, b, e: (a[:, :0], b[:, :0], e[:0]), ValueError, r"K >= 1"),
        (lambda a, b, e: (a[:0], b[:0], e), ValueError, r"N >= 1"),
        (lambda a, b, e: (a, b, e[:1]), ValueError, r"edges must have shape \[K\] = \[2\]"),
        (lambda a, b, e: (a, b, e.long()), TypeError, "edges must be a bool tensor"),
        (lambda a, b, e: (a, b.exp(), e), ValueError, "log_probs_b must hold log-probabilities"),
        (lambda a, b, e: (a * float("nan"), b, e), ValueError, "log_probs_a must not contain NaN"),
        (lambda a, b, e: (a[0], b[0], e), ValueError, r"log_probs_a must have shape \[N, K, C\]"),
    ],
)
def test_balance_bad_input(make, exc, match):
    with pytest.raises(exc, match=match):
        balance_scores(*make(*_case()))
