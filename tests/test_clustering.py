"""Hamming distances and farthest-first traversal (Gonzalez 1985)."""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_lite.clustering import farthest_first_classes, pairwise_hamming


def test_pairwise_hamming_by_hand():
    preds = torch.tensor([[0, 1, 2, 0], [0, 1, 1, 1], [2, 2, 2, 2]])
    # rows 0/1 differ at positions 2, 3; rows 0/2 at 0, 1, 3; rows 1/2 at all four
    expected = torch.tensor([[0, 2, 3], [2, 0, 4], [3, 4, 0]]) / 4
    assert torch.allclose(pairwise_hamming(preds), expected)


@settings(deadline=None, max_examples=40)
@given(n=st.integers(1, 6), u=st.integers(1, 8), c=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_pairwise_hamming_matches_counting(n, u, c, seed):
    preds = torch.randint(0, c, (n, u), generator=torch.Generator().manual_seed(seed))
    got = pairwise_hamming(preds)
    for i, j in itertools.product(range(n), repeat=2):
        assert got[i, j] == pytest.approx(sum(int(a != b) for a, b in zip(preds[i], preds[j])) / u)


def test_pairwise_hamming_rejects_bad_shapes():
    with pytest.raises(ValueError, match="preds must have shape"):
        pairwise_hamming(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="non-negative"):
        pairwise_hamming(torch.tensor([[0, -1]]))


def test_farthest_first_on_a_line():
    points = torch.tensor([0.0, 0.1, 0.2, 1.0, 1.05, 3.0])
    d = (points[:, None] - points[None, :]).abs()
    labels, centers = farthest_first_classes(d, radius=0.25)
    # from 0.0 the farthest is 3.0; then 1.05 (1.05 from its nearest center 0.0, more than 1.0's 1.0)
    assert centers == [0, 5, 4]
    assert labels.tolist() == [0, 0, 0, 2, 2, 1]


@settings(deadline=None, max_examples=40)
@given(n=st.integers(1, 12), radius=st.floats(0, 1), seed=st.integers(0, 2**16))
def test_farthest_first_covers_with_the_radius_and_keeps_centers_apart(n, radius, seed):
    x = torch.rand(n, 2, generator=torch.Generator().manual_seed(seed))
    d = torch.cdist(x, x)
    labels, centers = farthest_first_classes(d, radius)
    assert labels.shape == (n,) and sorted(set(labels.tolist())) == list(range(len(centers)))
    for i in range(n):  # every point lies within the radius of its own center, the nearest one
        assert d[i, centers[labels[i]]] <= radius + 1e-6
        assert d[i, centers[labels[i]]] == d[i, centers].min()
    for a, b in itertools.combinations(centers, 2):  # centers were chosen because they were far
        assert d[a, b] > radius


def test_farthest_first_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        farthest_first_classes(torch.zeros(2, 3), 0.1)
    with pytest.raises(ValueError, match="radius"):
        farthest_first_classes(torch.zeros(2, 2), -0.1)
    with pytest.raises(ValueError, match="first"):
        farthest_first_classes(torch.zeros(2, 2), 0.1, first=2)
