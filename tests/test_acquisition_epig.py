"""EPIG (Bickford Smith et al., AISTATS 2023): brute force, information inequalities, chunking, errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_lite.acquisition import bald_scores, epig_scores
from balance_lite.acquisition import _chunks
from tests.acquisition_helpers import random_log_probs

pytestmark = pytest.mark.usefixtures("single_thread")


def brute_mutual_information(p_pool_S_C, q_target_S_C):
    """I(y; y*) = sum_{y,y*} p(y,y*) log p(y,y*) / (p(y) p(y*)) with p(y,y*) = mean_s p_s(y) q_s(y*), in loops."""
    S, C = len(p_pool_S_C), len(p_pool_S_C[0])
    p_y = [sum(p_pool_S_C[s][c] for s in range(S)) / S for c in range(C)]
    p_t = [sum(q_target_S_C[s][d] for s in range(S)) / S for d in range(C)]
    total = 0.0
    for c in range(C):
        for d in range(C):
            joint = sum(p_pool_S_C[s][c] * q_target_S_C[s][d] for s in range(S)) / S
            if joint > 0:
                total += joint * math.log(joint / (p_y[c] * p_t[d]))
    return total


def brute_epig(log_probs, target_log_probs):
    """EPIG by a double loop over pool points and targets."""
    p, q = log_probs.double().exp().tolist(), target_log_probs.double().exp().tolist()
    return torch.tensor([sum(brute_mutual_information(p[n], q[t]) for t in range(len(q))) / len(q)
                         for n in range(len(p))], dtype=torch.float64)


@pytest.mark.parametrize("n, s, c, t", [(4, 3, 3, 2), (5, 6, 2, 3), (3, 4, 5, 1)])
def test_epig_matches_the_double_loop(n, s, c, t):
    lp, tlp = random_log_probs(n, s, c, seed=n + s), random_log_probs(t, s, c, seed=100 + c)
    torch.testing.assert_close(epig_scores(lp, tlp), brute_epig(lp, tlp), atol=1e-12, rtol=0)


def test_epig_is_zero_when_the_hypotheses_agree():
    one = random_log_probs(5, 1, 4, seed=2)  # each point: one prediction shared by all S masks
    lp = one.expand(5, 6, 4)
    tlp = random_log_probs(3, 6, 4, seed=3)
    torch.testing.assert_close(epig_scores(lp, tlp), torch.zeros(5, dtype=torch.float64), atol=1e-14, rtol=0)
    torch.testing.assert_close(epig_scores(tlp, lp), torch.zeros(3, dtype=torch.float64), atol=1e-14, rtol=0)


def test_the_point_itself_as_target_gives_two_independent_labels_not_bald():
    lp = random_log_probs(6, 5, 3, seed=7)
    own = torch.stack([epig_scores(lp[i:i + 1], lp[i:i + 1])[0] for i in range(6)])
    p = lp.exp().tolist()
    torch.testing.assert_close(own, torch.tensor([brute_mutual_information(p[i], p[i]) for i in range(6)],
                                                 dtype=torch.float64), atol=1e-12, rtol=0)
    assert (own < bald_scores(lp) - 1e-6).all()  # I(y; y') < I(y; theta) for soft hypotheses
    # deterministic hypotheses: y' = y given theta, and I(y; y') = H[y] = BALD
    onehot = torch.nn.functional.one_hot(lp.argmax(-1), 3).double().log()
    own = torch.stack([epig_scores(onehot[i:i + 1], onehot[i:i + 1])[0] for i in range(6)])
    torch.testing.assert_close(own, bald_scores(onehot), atol=1e-12, rtol=0)


@settings(deadline=None, max_examples=25)
@given(n=st.integers(1, 5), s=st.integers(1, 5), c=st.integers(2, 4), t=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_epig_properties(n, s, c, t, seed):
    lp, tlp = random_log_probs(n, s, c, seed), random_log_probs(t, s, c, seed + 1)
    out = epig_scores(lp, tlp)
    assert out.shape == (n,) and out.dtype == torch.float64 and (out >= 0).all()
    per_target = torch.stack([epig_scores(lp, tlp[i:i + 1]) for i in range(t)], 1)  # [n, t]
    torch.testing.assert_close(out, per_target.mean(1), atol=1e-12, rtol=0)  # the mean over targets
    # data processing (y <- theta -> y*): I(y; y*) <= min(BALD(x), BALD(x*))
    bound = torch.minimum(bald_scores(lp)[:, None], bald_scores(tlp)[None, :])
    assert (per_target <= bound + 1e-12).all()
    # I(y; y*) is symmetric: pool and target swap roles
    torch.testing.assert_close(torch.stack([epig_scores(tlp, lp[i:i + 1]) for i in range(n)], 1), per_target.T,
                               atol=1e-12, rtol=0)
    # pool points, targets, masks and classes can be reordered
    g = torch.Generator().manual_seed(seed)
    pn, pt, ps = torch.randperm(n, generator=g), torch.randperm(t, generator=g), torch.randperm(s, generator=g)
    torch.testing.assert_close(epig_scores(lp[pn], tlp[pt]), out[pn], atol=1e-12, rtol=0)
    torch.testing.assert_close(epig_scores(lp[:, ps], tlp[:, ps]), out, atol=1e-12, rtol=0)
    torch.testing.assert_close(epig_scores(lp[:, :, torch.randperm(c, generator=g)], tlp), out, atol=1e-12, rtol=0)


def test_chunks_give_the_same_scores(monkeypatch):
    lp, tlp = random_log_probs(23, 4, 3, seed=1), random_log_probs(5, 4, 3, seed=2)
    whole = epig_scores(lp, tlp)
    monkeypatch.setattr(_chunks, "CHUNK_ELEMENTS", 5 * 3 * 3 * 4)  # 4 pool points a chunk
    torch.testing.assert_close(epig_scores(lp, tlp), whole, atol=1e-14, rtol=0)


def test_float32_input_and_probability_zero():
    lp, tlp = random_log_probs(4, 3, 3, seed=4), random_log_probs(2, 3, 3, seed=5)
    torch.testing.assert_close(epig_scores(lp.float(), tlp.float()), brute_epig(lp, tlp), atol=1e-5, rtol=0)
    disagree = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).log()  # -inf entries
    assert epig_scores(disagree[None], disagree[None]).item() == pytest.approx(math.log(2))


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda lp, tlp: (lp, tlp[:, :2]), ValueError, r"target_log_probs must have shape \[T, S, C\] with the S = 3"),
        (lambda lp, tlp: (lp, random_log_probs(2, 3, 4, seed=0)), ValueError, "C = 3 classes"),
        (lambda lp, tlp: (lp, tlp[0]), ValueError, r"target_log_probs must have shape \[N, S, C\]"),
        (lambda lp, tlp: (lp, tlp[:0]), ValueError, "target_log_probs must hold at least one pool point"),
        (lambda lp, tlp: (lp, tlp.exp()), ValueError, "target_log_probs must hold log-probabilities"),
        (lambda lp, tlp: (lp.index_put((torch.tensor([0]),), torch.tensor(math.nan, dtype=torch.float64)), tlp),
         ValueError, "log_probs must not contain NaN"),
        (lambda lp, tlp: (lp, tlp.long()), TypeError, "target_log_probs must hold floating-point"),
        (lambda lp, tlp: (lp[:, :, :1], tlp), ValueError, r"log_probs must hold at least two classes"),
    ],
)
def test_bad_input_names_the_argument(make, exc, match):
    lp, tlp = random_log_probs(4, 3, 3, seed=0), random_log_probs(2, 3, 3, seed=1)
    with pytest.raises(exc, match=match):
        epig_scores(*make(lp, tlp))
