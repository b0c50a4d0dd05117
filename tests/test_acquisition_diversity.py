"""BADGE and Core-Set: against explicit embeddings, brute-force greedy k-centre, the exact k-centre
optimum, and the stated D^2 sampling distribution."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_lite.acquisition import (
    ZERO_GRADIENTS,
    EmbeddingPredictions,
    SamplePredictions,
    badge,
    coreset,
    gradient_embeddings,
    gradient_sq_distances,
    select_badge,
    select_coreset,
)
from tests.acquisition_helpers import random_log_probs

pytestmark = pytest.mark.usefixtures("single_thread")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def random_features(n, d, seed, *, dtype=torch.float64):
    return torch.randn(n, d, generator=gen(seed + 17), dtype=torch.float64).to(dtype)


def badge_case(n, d, c, seed):
    return random_features(n, d, seed).relu(), random_log_probs(n, 1, c, seed)[:, 0]


# ---------------------------------------------------------------- plain references


def dist(u, v):
    return math.sqrt(sum((float(a) - float(b)) ** 2 for a, b in zip(u, v)))


def radius(features, centres):
    """max over pool points of the distance to the nearest centre (rows of ``centres``)."""
    return max(min(dist(x, c) for c in centres) for x in features)


# ---------------------------------------------------------------- BADGE's embeddings and distances


def test_gradient_embedding_is_the_last_layer_weight_gradient_at_the_predicted_label():
    torch.manual_seed(0)
    last = torch.nn.Linear(6, 4).double()
    h = torch.randn(9, 6, dtype=torch.float64).relu()
    log_probs = last(h).log_softmax(-1).detach()
    g = gradient_embeddings(h, log_probs)
    assert g.shape == (9, 4 * 6)
    for i in range(9):
        last.zero_grad()
        logits = last(h[i:i + 1])
        torch.nn.functional.cross_entropy(logits, logits.argmax(-1)).backward()
        torch.testing.assert_close(g[i], last.weight.grad.flatten(), rtol=1e-12, atol=1e-12)


@settings(deadline=None, max_examples=30)
@given(n=st.integers(1, 8), d=st.integers(1, 5), c=st.integers(2, 5), seed=st.integers(0, 2**16))
def test_factorised_distances_equal_the_explicit_ones(n, d, c, seed):
    h, lp = badge_case(n, d, c, seed)
    g = gradient_embeddings(h, lp)
    explicit = ((g[:, None, :] - g[None, :, :]) ** 2).sum(-1)  # [n, n] from the [n, C*D] embeddings
    for centre in range(n):
        torch.testing.assert_close(gradient_sq_distances(h, lp, centre), explicit[centre], rtol=1e-9, atol=1e-12)


def test_first_badge_pick_is_the_largest_gradient_norm_and_later_picks_are_distinct():
    h, lp = badge_case(40, 5, 4, seed=3)
    norms = gradient_embeddings(h, lp).norm(dim=1)
    sel = badge(h, lp, 40, generator=gen(1))
    assert sel.indices[0] == int(norms.argmax()) and sel.num_tied[0] == 1
    assert sel.scores[0] == pytest.approx(float(norms.max()) ** 2)
    assert sorted(sel.indices) == list(range(40))
    # each later score is the D^2 of the pick to the nearest earlier pick, from the explicit embeddings
    g = gradient_embeddings(h, lp)
    for i in range(1, 10):
        ref = min(float(((g[sel.indices[i]] - g[j]) ** 2).sum()) for j in sel.indices[:i])
        assert sel.scores[i] == pytest.approx(ref, rel=1e-9, abs=1e-12)


def test_second_badge_pick_follows_the_d2_distribution():
    """k-means++ seeding: P(second = x) = D^2(x, first) / sum_x' D^2(x', first), over many seeded draws."""
    from scipy.stats import chisquare

    h = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.2], [2.0, 0.5]], dtype=torch.float64)
    lp = torch.tensor([[0.7, 0.3], [0.6, 0.4], [0.8, 0.2], [0.5, 0.5], [0.55, 0.45]], dtype=torch.float64).log()
    first = badge(h, lp, 1).indices[0]
    d2 = gradient_sq_distances(h, lp, first)
    expected = d2 / d2.sum()
    assert float(expected[first]) == 0.0 and float(expected.min(0).values) >= 0.0
    draws = 3000
    counts = torch.zeros(5)
    for seed in range(draws):
        sel = badge(h, lp, 2, generator=gen(seed))
        assert sel.indices[0] == first
        counts[sel.indices[1]] += 1
    assert counts[first] == 0
    keep = expected > 0
    stat = chisquare(counts[keep].numpy(), (draws * expected[keep]).numpy())
    assert stat.pvalue > 1e-3, (counts, draws * expected)


def test_badge_is_seeded_and_draws_uniformly_among_duplicates():
    h, lp = badge_case(30, 4, 3, seed=5)
    a = badge(h, lp, 8, generator=gen(7))
    assert a == badge(h, lp, 8, generator=gen(7))
    assert any(badge(h, lp, 8, generator=gen(s)).indices != a.indices for s in range(8, 12))
    # three copies of one point: after the three, every remaining D^2 is 0 and picks are uniform
    h3, lp3 = h[:1].repeat(3, 1), lp[:1].repeat(3, 1)
    sel = badge(h3, lp3, 3, generator=gen(0))
    assert sorted(sel.indices) == [0, 1, 2] and sel.num_tied == [3, 2, 1] and sel.scores[1:] == [0.0, 0.0]


def test_badge_falls_back_to_random_when_every_gradient_is_zero():
    lp = torch.tensor([[0.0, -math.inf]] * 6)  # one-hot: p - e_y = 0 for every point
    sel = badge(torch.rand(6, 3), lp, 4, generator=gen(2))
    assert sel.random_fallback and sel.fallback_reason == ZERO_GRADIENTS and len(set(sel.indices)) == 4


@settings(deadline=None, max_examples=25)
@given(n=st.integers(1, 12), d=st.integers(1, 4), c=st.integers(2, 4), seed=st.integers(0, 2**16), data=st.data())
def test_both_methods_return_b_distinct_positions(n, d, c, seed, data):
    b = data.draw(st.integers(1, n))
    h, lp = badge_case(n, d, c, seed)
    h = h.round()  # coarse values: duplicates and ties
    for sel in (badge(h, lp, b, generator=gen(seed)), coreset(h, h[: seed % 3], b, generator=gen(seed))):
        assert len(sel.indices) == len(set(sel.indices)) == len(sel.scores) == len(sel.num_tied) == b
        assert all(0 <= i < n for i in sel.indices)


# ---------------------------------------------------------------- Core-Set's greedy k-centre


@settings(deadline=None, max_examples=30)
@given(n=st.integers(1, 9), d=st.integers(1, 3), l=st.integers(0, 3), seed=st.integers(0, 2**16), data=st.data())
def test_each_coreset_pick_maximises_the_min_distance(n, d, l, seed, data):
    b = data.draw(st.integers(1, n))
    x, labeled = random_features(n, d, seed), random_features(l, d, seed + 1)
    sel = coreset(x, labeled, b, generator=gen(seed))
    centres = [labeled[j] for j in range(l)]
    for step, pick in enumerate(sel.indices):
        if not centres:  # empty labeled set: a random first point, infinitely far from nothing
            assert sel.scores[0] == math.inf and sel.num_tied[0] == n
        else:
            chosen = set(sel.indices[:step])
            best = max(min(dist(x[i], c) for c in centres) for i in range(n) if i not in chosen)
            assert min(dist(x[pick], c) for c in centres) == pytest.approx(best, rel=1e-9, abs=1e-12)
            assert sel.scores[step] == pytest.approx(best, rel=1e-9, abs=1e-12)
        centres.append(x[pick])


@settings(deadline=None, max_examples=30)
@given(n=st.integers(2, 7), d=st.integers(1, 2), l=st.integers(0, 2), seed=st.integers(0, 2**16), data=st.data())
def test_greedy_k_centre_is_within_twice_the_optimal_radius(n, d, l, seed, data):
    b = data.draw(st.integers(1, min(n, 3)))
    x, labeled = random_features(n, d, seed), random_features(l, d, seed + 1)
    sel = coreset(x, labeled, b, generator=gen(seed))
    fixed = [labeled[j] for j in range(l)]
    greedy = radius(x, fixed + [x[i] for i in sel.indices])
    optimum = min(radius(x, fixed + [x[i] for i in subset]) for subset in itertools.combinations(range(n), b))
    assert optimum <= greedy + 1e-12
    assert greedy <= 2 * optimum + 1e-9


def test_coreset_is_seeded_and_an_empty_labeled_set_starts_at_random():
    x = random_features(50, 3, 4)
    firsts = {coreset(x, x[:0], 3, generator=gen(s)).indices[0] for s in range(20)}
    assert len(firsts) > 5  # drawn at random, not always the same point
    assert coreset(x, x[:0], 5, generator=gen(1)) == coreset(x, x[:0], 5, generator=gen(1))
    assert coreset(x, x[:0], 1, generator=gen(1)).indices == [int(torch.randint(50, (1,), generator=gen(1)))]
    # pool point 0 is the labeled point itself (distance 0): the three others come first
    assert sorted(coreset(x[:4], x[:1], 3, generator=gen(0)).indices) == [1, 2, 3]


def test_selectors_take_embedding_predictions():
    h, lp = badge_case(12, 3, 3, seed=1)
    preds = EmbeddingPredictions(h, log_probs=lp, labeled_features=h[:2])
    assert select_badge(preds, 4, generator=gen(3)) == badge(h, lp, 4, generator=gen(3))
    assert select_coreset(preds, 4, generator=gen(3)) == coreset(h, h[:2], 4, generator=gen(3))
    with pytest.raises(ValueError, match="predictions.log_probs"):
        select_badge(EmbeddingPredictions(h), 2)
    with pytest.raises(ValueError, match="predictions.labeled_features"):
        select_coreset(EmbeddingPredictions(h), 2)
    with pytest.raises(TypeError, match="must be a EmbeddingPredictions"):
        select_badge(SamplePredictions(lp[:, None, :]), 2)
    with pytest.raises(ValueError, match=r"features must have shape \[N, D\]"):
        EmbeddingPredictions(h[0])


def test_bad_input_raises_naming_the_argument():
    h, lp = badge_case(5, 3, 3, seed=0)
    with pytest.raises(ValueError, match="batch_size must be between 1 and the pool size 5, got 6"):
        badge(h, lp, 6)
    with pytest.raises(ValueError, match="batch_size must be between 1 and the pool size 5, got 6"):
        coreset(h, h[:1], 6)
    with pytest.raises(TypeError, match="batch_size"):
        coreset(h, h[:1], 2.0)
    nan = h.clone()
    nan[2, 1] = math.nan
    with pytest.raises(ValueError, match="features must be finite, got NaN"):
        badge(nan, lp, 2)
    with pytest.raises(ValueError, match="features must be finite, got NaN"):
        coreset(nan, h[:1], 2)
    with pytest.raises(ValueError, match="labeled_features must be finite, got NaN"):
        coreset(h, nan, 2)
    lp_nan = lp.clone()
    lp_nan[0, 0] = math.nan
    with pytest.raises(ValueError, match="log_probs must not contain NaN"):
        badge(h, lp_nan, 2)
    with pytest.raises(ValueError, match="log_probs must hold log-probabilities"):
        badge(h, lp.exp(), 2)
    with pytest.raises(ValueError, match=r"features must have shape \[N, D\]"):
        badge(h[0], lp, 1)
    with pytest.raises(ValueError, match=r"log_probs must have shape \[N, C\] with N = 5"):
        badge(h, lp[:4], 1)
    with pytest.raises(ValueError, match=r"labeled_features must have shape \[L, D\] with D = 3"):
        coreset(h, h[:, :2], 1)
    with pytest.raises(TypeError, match="features must hold floating-point"):
        coreset(h.long(), h[:1].long(), 1)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        coreset(h, h[:1], 1, generator=0)
    with pytest.raises(ValueError, match=r"centre must be a row of features"):
        gradient_sq_distances(h, lp, 5)
