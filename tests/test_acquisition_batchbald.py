"""BatchBALD: exact joint entropy against enumeration, sampled configurations, BALD at b = 1."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_lite.acquisition import MAX_EXACT_JOINT_ELEMENTS, bald_scores, batchbald, joint_mutual_information
from tests.acquisition_helpers import brute_greedy, brute_joint_mi, random_log_probs

pytestmark = pytest.mark.usefixtures("single_thread")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@settings(deadline=None, max_examples=15)
@given(n=st.integers(4, 6), s=st.integers(2, 4), c=st.integers(2, 3), b=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_exact_batchbald_matches_brute_force_greedy(n, s, c, b, seed):
    lp = random_log_probs(n, s, c, seed)
    ref_idx, ref_val = brute_greedy(lambda batch: brute_joint_mi(lp, batch), n, b)
    sel = batchbald(lp, b, generator=gen(seed))  # C**(b-1) <= 27 <= M: every step is exact
    assert sel.indices == ref_idx
    assert sel.scores == pytest.approx(ref_val, abs=1e-10)
    assert all(v2 >= v1 - 1e-12 for v1, v2 in zip(sel.scores, sel.scores[1:]))  # MI never drops


@settings(deadline=None, max_examples=20)
@given(n=st.integers(1, 6), s=st.integers(1, 5), c=st.integers(2, 5), seed=st.integers(0, 2**16))
def test_batch_size_one_is_bald(n, s, c, seed):
    lp = random_log_probs(n, s, c, seed)
    bald = bald_scores(lp)
    sel = batchbald(lp, 1, generator=gen(seed))
    assert sel.scores[0] == pytest.approx(float(bald.max()), abs=1e-12)
    assert float(bald[sel.indices[0]]) == pytest.approx(float(bald.max()), abs=1e-12)


def test_joint_mutual_information_matches_brute_force():
    lp = random_log_probs(5, 3, 3, seed=8)
    for batch in ([1], [0, 4], [2, 3, 1]):
        assert joint_mutual_information(lp, batch) == pytest.approx(brute_joint_mi(lp, batch), abs=1e-12)
    assert joint_mutual_information(lp, []) == 0.0


@settings(deadline=None, max_examples=15)
@given(n=st.integers(2, 6), s=st.integers(1, 5), c=st.integers(2, 4), b=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_invariants(n, s, c, b, seed):
    lp = random_log_probs(n, s, c, seed)
    b = min(b, n)
    sel = batchbald(lp, b, generator=gen(seed))
    g = gen(seed + 1)
    ps, pc, pn = torch.randperm(s, generator=g), torch.randperm(c, generator=g), torch.randperm(n, generator=g)
    for other in (lp[:, ps], lp[..., pc], lp[pn]):
        assert batchbald(other, b, generator=gen(seed)).scores == pytest.approx(sel.scores, abs=1e-10)
    assert all(-1e-12 <= v <= (i + 1) * math.log(c) + 1e-12 for i, v in enumerate(sel.scores))


def test_sampled_joint_entropy_error_shrinks_like_one_over_sqrt_m():
    # a pool of B points and C = 6: the last step has 6**3 = 216 > M configurations, so it samples
    lp = random_log_probs(4, 6, 6, seed=3, sharpness=1.0)
    exact = joint_mutual_information(lp, [0, 1, 2, 3])
    ms = [8, 32, 128]
    rmse = []
    for m in ms:
        errs = torch.tensor([batchbald(lp, 4, num_configurations=m, generator=gen(s)).scores[-1] - exact for s in range(30)])
        rmse.append(float(errs.square().mean().sqrt()))
    slope = (math.log(rmse[-1]) - math.log(rmse[0])) / (math.log(ms[-1]) - math.log(ms[0]))
    assert -0.8 < slope < -0.3, (rmse, slope)


def test_sampled_picks_are_good():
    lp = random_log_probs(30, 8, 6, seed=5, sharpness=1.5)
    exact = batchbald(lp, 5, num_configurations=10**6)  # 6**4 = 1296 configurations: exact throughout
    sampled = batchbald(lp, 5, num_configurations=1000, generator=gen(0))  # the 5th pick samples
    true_value = joint_mutual_information(lp, sampled.indices)
    assert true_value == pytest.approx(exact.scores[-1], abs=0.05)
    # the estimate of the winner is optimistic (it won because its estimate was high), but close
    assert sampled.scores[-1] == pytest.approx(true_value, abs=0.08)


def test_agrees_with_batchbald_redux():
    redux = pytest.importorskip("batchbald_redux.batchbald")
    lp = random_log_probs(40, 6, 4, seed=1, dtype=torch.float64)
    ours = batchbald(lp, 4, num_configurations=1000)  # 4**3 = 64 <= M: exact, as in batchbald_redux
    theirs = redux.get_batchbald_batch(lp, 4, 1000, dtype=torch.double, device="cpu")
    assert ours.indices == theirs.indices
    assert ours.scores == pytest.approx(theirs.scores, abs=1e-9)


def test_ties_are_broken_at_random():
    lp = random_log_probs(1, 4, 3, seed=2).expand(10, 4, 3)
    firsts = set()
    for s in range(15):
        sel = batchbald(lp, 2, generator=gen(s))
        assert sel.num_tied[0] == 10
        firsts.add(sel.indices[0])
    assert len(firsts) > 3


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(batch_size=7), ValueError, "batch_size must be between 1 and the pool size 6, got 7"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(batch_size="2"), TypeError, "batch_size"),
        (dict(batch_size=2, num_configurations=0), ValueError, "num_configurations must be a positive integer"),
        (dict(batch_size=2, num_configurations=1.5), TypeError, "num_configurations"),
        (dict(batch_size=2, generator=1), TypeError, "generator"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        batchbald(random_log_probs(6, 3, 3, seed=0), **kwargs)


def test_bad_tensors():
    with pytest.raises(ValueError, match=r"log_probs must have shape \[N, S, C\]"):
        batchbald(torch.zeros(3, 3), 1)
    with pytest.raises(ValueError, match="not logits or probabilities"):
        batchbald(torch.randn(3, 2, 3), 1)
    lp = random_log_probs(8, 3, 10, seed=0)
    assert 3 * 10**8 > MAX_EXACT_JOINT_ELEMENTS
    with pytest.raises(ValueError, match="joint_mutual_information needs"):
        joint_mutual_information(lp, list(range(8)))
    with pytest.raises(ValueError, match="indices must be distinct"):
        joint_mutual_information(lp, [1, 1])
