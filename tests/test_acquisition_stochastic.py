"""Stochastic batch acquisition (Kirsch et al., TMLR 2023): the sampling distribution, ranks, seeds, limits, errors."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_lite.acquisition import (
    NO_WEIGHT,
    SAMPLING_MODES,
    Selection,
    sampling_log_weights,
    stochastic_batch,
    top_b,
)

pytestmark = pytest.mark.usefixtures("single_thread")

SCORES = [0.2, 0.9, 0.1, 0.5, 0.3]  # not sorted, and their order is not an involution


def brute_ranks(scores):
    """Rank of each point, 1 for the highest score, by counting the scores above it (distinct scores)."""
    return [1 + sum(t > s for t in scores) for s in scores]


def stated_weights(scores, mode, beta):
    """The weights as the paper states them: s^beta, exp(beta s), r^-beta."""
    if mode == "power":
        return [s ** beta for s in scores]
    if mode == "softmax":
        return [math.exp(beta * s) for s in scores]
    return [r ** -beta for r in brute_ranks(scores)]


def plackett_luce(weights, sequence):
    """Probability of drawing ``sequence`` in this order without replacement, proportional to ``weights``."""
    left, p = math.fsum(weights), 1.0
    for i in sequence:
        p *= weights[i] / left
        left -= weights[i]
    return p


def assert_frequencies(counts: Counter, probs: dict, n: int):
    """Every outcome's frequency within 4.5 standard errors of its probability (and nothing else drawn)."""
    assert set(counts) <= set(probs)
    for outcome, p in probs.items():
        se = math.sqrt(p * (1 - p) / n)
        assert abs(counts[outcome] / n - p) <= 4.5 * se + 1e-12, (outcome, counts[outcome] / n, p)


def test_softrank_uses_each_points_own_rank():
    scores = torch.tensor(SCORES, dtype=torch.float64)
    w = sampling_log_weights(scores, mode="softrank").exp()
    assert brute_ranks(SCORES) == [4, 1, 5, 2, 3]
    torch.testing.assert_close(w, torch.tensor([1 / 4, 1, 1 / 5, 1 / 2, 1 / 3], dtype=torch.float64))
    # the published mistake: the sort order used as the ranks (the inverse permutation)
    wrong = 1.0 / (torch.argsort(scores, descending=True) + 1).double()
    assert not torch.allclose(w, wrong)


@pytest.mark.parametrize("mode, beta", [("power", 1.0), ("power", 2.0), ("softmax", 3.0), ("softrank", 1.0)])
def test_one_draw_follows_the_stated_distribution(mode, beta):
    n = 2500
    scores = torch.tensor(SCORES, dtype=torch.float64)
    w = stated_weights(SCORES, mode, beta)
    probs = {i: w[i] / sum(w) for i in range(len(SCORES))}
    g = torch.Generator().manual_seed(11)
    counts = Counter(stochastic_batch(scores, 1, mode=mode, beta=beta, generator=g).indices[0] for _ in range(n))
    assert_frequencies(counts, probs, n)


@pytest.mark.parametrize("mode", SAMPLING_MODES)
def test_two_draws_follow_plackett_luce(mode):
    n = 2500
    scores4 = SCORES[:4]
    w = stated_weights(scores4, mode, 1.5)
    probs = {pair: plackett_luce(w, pair) for pair in itertools.permutations(range(4), 2)}
    assert math.isclose(sum(probs.values()), 1.0)
    g = torch.Generator().manual_seed(5)
    scores = torch.tensor(scores4, dtype=torch.float64)
    counts = Counter(tuple(stochastic_batch(scores, 2, mode=mode, beta=1.5, generator=g).indices) for _ in range(n))
    assert_frequencies(counts, probs, n)


def test_the_selection_records_scores_in_draw_order():
    scores = torch.tensor(SCORES)
    sel = stochastic_batch(scores, 3, mode="softmax", generator=torch.Generator().manual_seed(0))
    assert isinstance(sel, Selection) and len(set(sel.indices)) == 3
    assert sel.scores == pytest.approx([SCORES[i] for i in sel.indices])
    assert sel.num_tied == [1, 1, 1] and not sel.random_fallback and sel.tau is None


@pytest.mark.parametrize("mode", SAMPLING_MODES)
def test_a_seed_fixes_the_batch(mode):
    scores = torch.rand(50, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    draw = lambda seed: stochastic_batch(scores, 5, mode=mode, generator=torch.Generator().manual_seed(seed))  # noqa: E731
    assert draw(3) == draw(3)
    assert len({tuple(draw(seed).indices) for seed in range(10)}) > 1  # it is random, not top-B


@settings(deadline=None, max_examples=30)
@given(n=st.integers(1, 12), b=st.integers(1, 12), seed=st.integers(0, 2**16), mode=st.sampled_from(SAMPLING_MODES))
def test_cold_sampling_is_top_b(n, b, seed, mode):
    b = min(b, n)
    g = torch.Generator().manual_seed(seed)
    scores = torch.randperm(n, generator=g).double() / n + 0.05  # distinct, positive, spaced 1/n
    sel = stochastic_batch(scores, b, mode=mode, beta=1e6, generator=g)
    assert sel.indices == top_b(scores, b).indices


@settings(deadline=None, max_examples=30)
@given(n=st.integers(1, 10), b=st.integers(1, 10), seed=st.integers(0, 2**16), mode=st.sampled_from(SAMPLING_MODES))
def test_invariances_under_a_fixed_seed(n, b, seed, mode):
    b = min(b, n)
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(n, generator=g, dtype=torch.float64) + 0.01
    sel = stochastic_batch(scores, b, mode=mode, generator=torch.Generator().manual_seed(seed))
    assert len(set(sel.indices)) == b and all(0 <= i < n for i in sel.indices)
    assert sel.scores == [float(scores[i]) for i in sel.indices]
    # power weights do not change under scaling, softmax weights under shifts, ranks under monotone maps
    other = {"power": 3.0 * scores, "softmax": scores + 2.0, "softrank": scores ** 3}[mode]
    again = stochastic_batch(other, b, mode=mode, generator=torch.Generator().manual_seed(seed))
    assert again.indices == sel.indices


@settings(deadline=None, max_examples=20)
@given(n=st.integers(1, 10), seed=st.integers(0, 2**16))
def test_ranks_follow_the_points(n, seed):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randperm(n, generator=g).double()
    perm = torch.randperm(n, generator=g)
    w = sampling_log_weights(scores, mode="softrank")
    torch.testing.assert_close(sampling_log_weights(scores[perm], mode="softrank"), w[perm])
    assert (-w).exp().round().long().tolist() == brute_ranks(scores.tolist())


def test_power_weight_zero_points_come_last_in_random_order():
    scores = torch.tensor([0.0, 0.4, 0.0, 0.0, 0.2])
    firsts = set()
    for seed in range(20):
        sel = stochastic_batch(scores, 4, generator=torch.Generator().manual_seed(seed))
        assert set(sel.indices[:2]) == {1, 4}
        assert sel.num_tied == [1, 1, 3, 2] and not sel.random_fallback
        firsts.add(sel.indices[2])
    assert firsts == {0, 2, 3}
    everything_zero = stochastic_batch(torch.zeros(6), 3, generator=torch.Generator().manual_seed(0))
    assert everything_zero.random_fallback and everything_zero.fallback_reason == NO_WEIGHT
    assert everything_zero.num_tied == [6, 5, 4]


def test_power_reads_rounding_negatives_as_zero():
    sel = stochastic_batch(torch.tensor([-1e-17, 0.3], dtype=torch.float64), 2)
    assert sel.indices == [1, 0]
    assert sampling_log_weights(torch.tensor([-1e-17, 0.3], dtype=torch.float64))[0] == -math.inf


def test_equal_scores_get_random_distinct_ranks():
    ranks = {tuple(sampling_log_weights(torch.zeros(4), mode="softrank", generator=torch.Generator().manual_seed(s))
                   .neg().exp().round().long().tolist()) for s in range(20)}
    assert len(ranks) > 1 and all(sorted(r) == [1, 2, 3, 4] for r in ranks)


@pytest.mark.parametrize(
    "scores, kwargs, exc, match",
    [
        (torch.tensor([0.1, float("nan")]), {}, ValueError, "scores must not contain NaN"),
        (torch.tensor([0.1, float("inf")]), {"mode": "softmax"}, ValueError, "scores must be finite"),
        (torch.tensor([0.1, -0.2]), {}, ValueError, r"scores must be >= 0 for mode='power'"),
        (torch.tensor([0.1, 0.2]), {"batch_size": 3}, ValueError, "batch_size must be between 1 and the pool size 2"),
        (torch.tensor([0.1, 0.2]), {"batch_size": 0}, ValueError, "batch_size"),
        (torch.tensor([0.1, 0.2]), {"mode": "boltzmann"}, ValueError, "mode must be one of 'power', 'softmax'"),
        (torch.tensor([0.1, 0.2]), {"beta": 0.0}, ValueError, "beta must be a positive finite number"),
        (torch.tensor([0.1, 0.2]), {"beta": -1.0}, ValueError, "beta must be a positive finite number"),
        (torch.tensor([0.1, 0.2]), {"beta": math.inf}, ValueError, "beta must be a positive finite number"),
        (torch.tensor([0.1, 0.2]), {"beta": "1"}, TypeError, "beta must be a real number"),
        (torch.tensor([1, 2]), {}, TypeError, "scores must be a floating-point tensor"),
        ([0.1, 0.2], {}, TypeError, "scores must be a floating-point tensor"),
        (torch.ones(2, 2), {}, ValueError, r"scores must have shape \[N\]"),
        (torch.zeros(0), {}, ValueError, r"scores must have shape \[N\] with N >= 1"),
    ],
)
def test_bad_input_names_the_argument(scores, kwargs, exc, match):
    kwargs = {"batch_size": 1, **kwargs}
    with pytest.raises(exc, match=match):
        stochastic_batch(scores, kwargs.pop("batch_size"), **kwargs)
