"""Hamming distances, edges and the annealed threshold tau (balance_lite.acquisition.hamming).

Every function is checked against a plainly written reference: a loop over the held-out points.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_lite.acquisition import annealed_tau, hamming_distances, hamming_edges, resolve_tau
from balance_lite.clustering import pairwise_hamming

pytestmark = pytest.mark.usefixtures("single_thread")


def brute_distances(a, b):
    """d_H of each pair by counting disagreements point by point."""
    K, U = a.shape
    return [sum(int(a[k, u] != b[k, u]) for u in range(U)) / U for k in range(K)]


@settings(deadline=None, max_examples=40)
@given(K=st.integers(1, 6), U=st.integers(1, 25), C=st.integers(2, 5), seed=st.integers(0, 2**16),
       tau=st.floats(0.0, 1.0))
def test_distances_and_edges_match_a_plain_count(K, U, C, seed, tau):
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(C, (K, U), generator=g)
    b = torch.randint(C, (K, U), generator=g)
    ref = brute_distances(a, b)
    d = hamming_distances(a, b)
    assert d.dtype == torch.float64 and d.tolist() == pytest.approx(ref, abs=1e-12)
    assert hamming_edges(a, b, tau).tolist() == [r > tau for r in ref]
    assert hamming_distances(b, a).tolist() == d.tolist()  # symmetric
    assert hamming_distances(a, a).tolist() == [0.0] * K


def test_hamming_distances_agree_with_pairwise_hamming():
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 4, (5, 30), generator=g)
    b = torch.randint(0, 4, (5, 30), generator=g)
    full = pairwise_hamming(torch.cat([a, b]))
    expected = torch.stack([full[k, 5 + k] for k in range(5)]).double()
    assert torch.allclose(hamming_distances(a, b), expected, atol=1e-6)


def test_hamming_edges_is_strict():
    a = torch.tensor([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    b = torch.tensor([[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0]])  # distances 0, 0.25, 0.5
    assert hamming_edges(a, b, 0.25).tolist() == [False, False, True]
    assert hamming_edges(a, b, 0.0).tolist() == [False, True, True]  # ">=" would cut the identical pair
    assert hamming_edges(a, b, 1.0).tolist() == [False, False, False]


def test_annealed_tau():
    assert annealed_tau(0.2, 4) == pytest.approx(0.05)
    assert annealed_tau(0.0, 2) == 0.0
    assert annealed_tau(torch.tensor(0.16), 8) == pytest.approx(0.02)


@pytest.mark.parametrize(
    "args, exc, match",
    [
        ((1.5, 2), ValueError, r"val_error must be in \[0, 1\], got 1.5"),
        ((-0.1, 2), ValueError, "val_error"),
        ((float("nan"), 2), ValueError, "val_error"),
        ((0.1, 0), ValueError, "divisor must be a positive finite number"),
        ((0.1, -2), ValueError, "divisor"),
        ((0.1, float("inf")), ValueError, "divisor"),
        (("0.1", 2), TypeError, None),
        ((0.1, None), TypeError, "divisor"),
    ],
)
def test_annealed_tau_bad_input(args, exc, match):
    with pytest.raises(exc, match=match):
        annealed_tau(*args)


@pytest.mark.parametrize(
    "a, b, tau, exc, match",
    [
        (torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long), 0.1, ValueError,
         r"preds_b must have shape \[K, U\] matching preds_a \(2, 3\), got \(2, 4\)"),
        (torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, 3, dtype=torch.long), 0.1, ValueError, r"K >= 1"),
        (torch.zeros(2, 0, dtype=torch.long), torch.zeros(2, 0, dtype=torch.long), 0.1, ValueError, r"U >= 1"),
        (torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long), 0.1, ValueError, r"\[K, U\]"),
        (torch.zeros(2, 3), torch.zeros(2, 3), 0.1, TypeError, "integer class labels"),
        (torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long), 1.2, ValueError, "tau"),
        (torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long), -0.1, ValueError, "tau"),
    ],
)
def test_hamming_edges_bad_input(a, b, tau, exc, match):
    with pytest.raises(exc, match=match):
        hamming_edges(a, b, tau)




@settings(deadline=None, max_examples=40)
@given(val_error=st.floats(0.0, 1.0), divisor=st.sampled_from([1, 2, 4, 8, 2.5]))
def test_resolve_tau_anneals_or_keeps_a_fixed_value(val_error, divisor):
    assert resolve_tau("anneal", divisor, val_error) == annealed_tau(val_error, divisor) == val_error / divisor
    assert resolve_tau(0.25, divisor, val_error) == 0.25


@pytest.mark.parametrize(
    "tau, divisor, exc, match",
    [("fixed", 4, ValueError, "tau must be 'anneal'"), (1.5, 4, ValueError, "tau must be in"),
     (True, 4, TypeError, "tau must be a real number"), (0.1, 0, ValueError, "divisor must be a positive")],
)
def test_resolve_tau_bad_input(tau, divisor, exc, match):
    with pytest.raises(exc, match=match):
        resolve_tau(tau, divisor, 0.2)
