"""Batch-BALanCe (Alg. 2, Eq. 4-5): three routes against a brute-force enumeration."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_lite.acquisition import (
    MAX_ENUMERATE_ELEMENTS,
    Selection,
    balance_scores,
    batch_balance,
    batch_balance_value,
)
from tests.acquisition_helpers import brute_eq4, brute_greedy, random_case, shared_base_case

pytestmark = pytest.mark.usefixtures("single_thread")

EXACT = ("factorized", "enumerate")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- exact routes vs brute force


@settings(deadline=None, max_examples=15)
@given(n=st.integers(4, 5), k=st.integers(1, 3), c=st.integers(2, 3), b=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_exact_routes_match_brute_force_greedy(n, k, c, b, seed):
    lp_a, lp_b, edges = random_case(n, k, c, seed)
    ref_idx, ref_val = brute_greedy(lambda batch: brute_eq4(lp_a, lp_b, edges, batch), n, b)
    for method in EXACT:
        sel = batch_balance(lp_a, lp_b, edges, b, route=method, generator=gen(seed))
        assert sel.indices == ref_idx, method
        assert sel.scores == pytest.approx(ref_val, abs=1e-10), method
        assert not sel.random_fallback and len(sel.num_tied) == b


@settings(deadline=None, max_examples=20)
@given(n=st.integers(3, 8), k=st.integers(1, 5), c=st.integers(2, 4), b=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_factorized_equals_enumerate(n, k, c, b, seed):
    lp_a, lp_b, edges = shared_base_case(n, k, c, seed)
    b = min(b, n)
    fac = batch_balance(lp_a, lp_b, edges, b, route="factorized", generator=gen(seed))
    enu = batch_balance(lp_a, lp_b, edges, b, route="enumerate", generator=gen(seed))
    assert fac.indices == enu.indices
    assert fac.scores == pytest.approx(enu.scores, abs=1e-10)


def test_batch_balance_value_matches_brute_force():
    lp_a, lp_b, edges = random_case(6, 3, 3, seed=11)
    for batch in ([2], [0, 5], [1, 3, 4], [5, 0, 2, 3]):
        assert batch_balance_value(lp_a, lp_b, edges, batch) == pytest.approx(brute_eq4(lp_a, lp_b, edges, batch), abs=1e-12)
    assert batch_balance_value(lp_a, lp_b, edges, []) == 0.0


@settings(deadline=None, max_examples=20)
@given(n=st.integers(1, 6), k=st.integers(1, 4), c=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_batch_size_one_is_balance_scores(n, k, c, seed):
    lp_a, lp_b, edges = random_case(n, k, c, seed)
    scores = balance_scores(lp_a, lp_b, edges)
    for method in ("factorized", "enumerate", "importance"):
        sel = batch_balance(lp_a, lp_b, edges, 1, route=method, generator=gen(seed))
        assert sel.scores[0] == pytest.approx(float(scores.max()), abs=1e-12)
        assert float(scores[sel.indices[0]]) == pytest.approx(float(scores.max()), abs=1e-12)


# ---------------------------------------------------------------- invariants


@settings(deadline=None, max_examples=20)
@given(n=st.integers(2, 7), k=st.integers(1, 5), c=st.integers(2, 4), b=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_invariants(n, k, c, b, seed):
    lp_a, lp_b, edges = shared_base_case(n, k, c, seed)
    b = min(b, n)
    sel = batch_balance(lp_a, lp_b, edges, b, generator=gen(seed))
    g = gen(seed + 1)
    pk, pc, pn = torch.randperm(k, generator=g), torch.randperm(c, generator=g), torch.randperm(n, generator=g)
    same = [
        batch_balance(lp_a[:, pk], lp_b[:, pk], edges[pk], b, generator=gen(seed)),  # permute pairs
        batch_balance(lp_a[..., pc], lp_b[..., pc], edges, b, generator=gen(seed)),  # relabel classes
        batch_balance(lp_b, lp_a, edges, b, generator=gen(seed)),  # swap the two sets
    ]
    for other in same:
        assert other.scores == pytest.approx(sel.scores, abs=1e-10)
    permuted = batch_balance(lp_a[pn], lp_b[pn], edges, b, generator=gen(seed))
    assert permuted.scores == pytest.approx(sel.scores, abs=1e-10)
    # values lie in [0, mean(edges)] and never decrease as points are added
    top = float(edges.double().mean())
    assert all(-1e-12 <= v <= top + 1e-12 for v in sel.scores)
    assert all(v2 >= v1 - 1e-12 for v1, v2 in zip(sel.scores, sel.scores[1:]))
    assert len(set(sel.indices)) == b


@settings(deadline=None, max_examples=20)
@given(n=st.integers(2, 8), k=st.integers(1, 4), c=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_adding_a_point_never_lowers_the_value(n, k, c, seed):
    lp_a, lp_b, edges = random_case(n, k, c, seed)
    order = torch.randperm(n, generator=gen(seed)).tolist()
    values = [batch_balance_value(lp_a, lp_b, edges, order[:i]) for i in range(n + 1)]
    assert all(v2 >= v1 - 1e-12 for v1, v2 in zip(values, values[1:]))
    assert values[-1] <= float(edges.double().mean()) + 1e-12


def test_no_edges_gives_flagged_random_batch():
    lp_a, lp_b, _ = random_case(10, 3, 3, seed=0)
    none = torch.zeros(3, dtype=torch.bool)
    assert (balance_scores(lp_a, lp_b, none) == 0).all()
    for method in ("factorized", "enumerate", "importance"):
        sel = batch_balance(lp_a, lp_b, none, 4, route=method, generator=gen(3))
        assert sel.random_fallback and sel.scores == [0.0] * 4 and len(set(sel.indices)) == 4
        assert sel.indices == batch_balance(lp_a, lp_b, none, 4, route=method, generator=gen(3)).indices
    firsts = {batch_balance(lp_a, lp_b, none, 1, generator=gen(s)).indices[0] for s in range(20)}
    assert len(firsts) > 3


def test_ties_are_broken_at_random():
    lp_a, lp_b, edges = random_case(1, 3, 3, seed=4)
    pool_a, pool_b = lp_a.expand(12, 3, 3), lp_b.expand(12, 3, 3)  # twelve identical points
    firsts = set()
    for s in range(20):
        sel = batch_balance(pool_a, pool_b, edges, 2, generator=gen(s))
        assert sel.num_tied == [12, 11]
        firsts.add(sel.indices[0])
    assert len(firsts) > 3  # a lowest-index rule would always pick 0


def test_float32_late_batch_ranks_like_float64():
    # many pairs, late picks: Eq. 4 values crowd just below mean(edges); ranking by the uncut
    # weight keeps float32 picks as good as float64 ones
    lp_a, lp_b, edges = shared_base_case(300, 20, 10, seed=9, noise=1.0)
    sel64 = batch_balance(lp_a, lp_b, edges, 20, generator=gen(0))
    sel32 = batch_balance(lp_a.float(), lp_b.float(), edges, 20, generator=gen(0))
    v32 = batch_balance_value(lp_a, lp_b, edges, sel32.indices)
    assert v32 == pytest.approx(sel64.scores[-1], abs=1e-6)
    assert sel32.scores[-1] == pytest.approx(v32, abs=1e-6)  # reported values are float64-accurate
    assert max(sel64.num_tied) == 1


def _underflow_case(n=60, k=3, seed=0):
    """Pairs that disagree confidently: every G_i[h, j] is about exp(-a_n), a_n in [15, 25], so
    the running product of the chosen points' G drops below float64's smallest number (~1e-308)
    after some 30 picks."""
    g = gen(seed)
    a = 15 + 10 * torch.rand(n, 1, generator=g, dtype=torch.float64)
    noise = torch.rand(n, k, generator=g, dtype=torch.float64)
    zero = torch.zeros(n, k, dtype=torch.float64)
    lp_a = torch.stack([zero, -(a + noise)], -1).log_softmax(-1)  # prefers class 0
    lp_b = torch.stack([-(a + noise.flip(1)), zero], -1).log_softmax(-1)  # prefers class 1
    return lp_a, lp_b, torch.ones(k, dtype=torch.bool)


def _log_space_greedy(lp_a, lp_b, batch_size):
    """Reference greedy of the factorized route with the running product kept in log space."""
    log_p = torch.cat([lp_a, lp_b], 1)  # [N, 2K, C]
    log_kappa = (lp_a - lp_a.amax(-1, keepdim=True)) + (lp_b - lp_b.amax(-1, keepdim=True))  # [N, K, C]
    log_g = torch.logsumexp(log_p[:, :, None, :] + log_kappa[:, None, :, :], -1)  # [N, 2K, K]
    log_r = torch.zeros(log_g.shape[1:], dtype=torch.float64)
    chosen = []
    for _ in range(batch_size):
        log_w = torch.logsumexp((log_r + log_g).flatten(1), 1)
        log_w[chosen] = math.inf
        x = int(log_w.argmin())
        chosen.append(x)
        log_r = log_r + log_g[x]
    return chosen


def test_long_batches_do_not_underflow_into_ties():
    lp_a, lp_b, edges = _underflow_case()
    ref = _log_space_greedy(lp_a, lp_b, 50)
    sel = batch_balance(lp_a, lp_b, edges, 50, generator=gen(0))
    assert max(sel.num_tied) == 1  # once the products underflowed, every candidate used to tie at 0
    assert sel.indices == ref
    assert sel.scores[-1] == 1.0 and all(v2 >= v1 for v1, v2 in zip(sel.scores, sel.scores[1:]))
    assert sel.indices == batch_balance(lp_a.float(), lp_b.float(), edges, 50, generator=gen(0)).indices
    imp = batch_balance(lp_a, lp_b, edges, 50, route="importance", num_configurations=64, generator=gen(0))
    assert max(imp.num_tied) == 1


# ---------------------------------------------------------------- importance sampling (Eq. 5)


def test_importance_error_shrinks_like_one_over_sqrt_m():
    lp_a, lp_b, edges = shared_base_case(4, 3, 3, seed=5, noise=1.5)
    batch = [0, 1, 2, 3]
    exact = batch_balance_value(lp_a, lp_b, edges, batch)
    ms = [50, 200, 800, 3200]
    rmse = []
    for m in ms:
        errs = torch.tensor([
            batch_balance_value(lp_a, lp_b, edges, batch, route="importance", num_configurations=m, generator=gen(s)) - exact
            for s in range(40)
        ])
        rmse.append(float(errs.square().mean().sqrt()))
    slope = (math.log(rmse[-1]) - math.log(rmse[0])) / (math.log(ms[-1]) - math.log(ms[0]))
    assert -0.8 < slope < -0.3, (rmse, slope)
    assert rmse[-1] < 0.01


def test_importance_value_is_what_the_greedy_reports():
    lp_a, lp_b, edges = shared_base_case(12, 4, 3, seed=3)
    sel = batch_balance(lp_a, lp_b, edges, 4, route="importance", num_configurations=500, generator=gen(7))
    again = batch_balance_value(lp_a, lp_b, edges, sel.indices, route="importance", num_configurations=500, generator=gen(7))
    assert again == sel.scores[-1]
    for method in ("enumerate", "factorized"):
        assert batch_balance_value(lp_a, lp_b, edges, sel.indices, route=method) == pytest.approx(
            brute_eq4(lp_a, lp_b, edges, sel.indices), abs=1e-12)


def test_importance_joint_is_unbiased_marginal_is_biased():
    # every point has the same predictions: labels are strongly correlated across points under
    # each hypothesis, but independent under the product of marginals
    g = gen(1)
    lp_a = (4 * torch.randn(1, 4, 3, generator=g, dtype=torch.float64)).log_softmax(-1).expand(3, 4, 3)
    lp_b = (4 * torch.randn(1, 4, 3, generator=g, dtype=torch.float64)).log_softmax(-1).expand(3, 4, 3)
    edges = torch.ones(4, dtype=torch.bool)
    exact = batch_balance_value(lp_a, lp_b, edges, [0, 1, 2])

    def mean_estimate(proposal):
        return sum(
            batch_balance_value(lp_a, lp_b, edges, [0, 1, 2], route="importance", num_configurations=5_000,
                                proposal=proposal, generator=gen(s))
            for s in range(4)
        ) / 4

    assert mean_estimate("joint") == pytest.approx(exact, abs=4e-3)
    assert mean_estimate("marginal") - exact > 0.03  # the bias does not average away


def test_importance_picks_match_exact_with_many_samples():
    lp_a, lp_b, edges = shared_base_case(30, 5, 4, seed=2)
    fac = batch_balance(lp_a, lp_b, edges, 3)
    imp = batch_balance(lp_a, lp_b, edges, 3, route="importance", num_configurations=20_000, generator=gen(0))
    assert imp.scores == pytest.approx(fac.scores, abs=5e-3)
    assert batch_balance_value(lp_a, lp_b, edges, imp.indices) == pytest.approx(fac.scores[-1], abs=5e-3)


# ---------------------------------------------------------------- bad input


def _case():
    return random_case(4, 2, 3, seed=0)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(batch_size=5), ValueError, "batch_size must be between 1 and the pool size 4, got 5"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(batch_size=2.0), TypeError, "batch_size must be an int"),
        (dict(batch_size=2, route="greedy"), ValueError, "route must be one of 'factorized', 'enumerate', 'importance'"),
        (dict(batch_size=2, proposal="prior"), ValueError, "proposal must be one of"),
        (dict(batch_size=2, proposal="marginal"), ValueError, "proposal='marginal' applies only to route='importance'"),
        (dict(batch_size=2, route="importance", num_configurations=0), ValueError, "num_configurations must be a positive integer"),
        (dict(batch_size=2, generator=0), TypeError, "generator must be a torch.Generator"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        batch_balance(*_case(), **kwargs)


def test_enumerate_refuses_huge_configuration_spaces():
    lp_a, lp_b, edges = random_case(12, 4, 10, seed=0)
    assert 4 * 10**8 > MAX_ENUMERATE_ELEMENTS
    with pytest.raises(ValueError, match=r"route='enumerate' needs C\*\*batch_size = 10\*\*8"):
        batch_balance(lp_a, lp_b, edges, 8, route="enumerate")
    assert len(batch_balance(lp_a, lp_b, edges, 8)) == 8  # factorized has no such limit


def test_bad_tensors_are_reported_by_name():
    lp_a, lp_b, edges = _case()
    with pytest.raises(ValueError, match="log_probs_b must have shape"):
        batch_balance(lp_a, lp_b[:, :1], edges, 2)
    with pytest.raises(ValueError, match=r"edges must have shape \[K\]"):
        batch_balance(lp_a, lp_b, edges[:1], 2)
    with pytest.raises(ValueError, match="log_probs_a must not contain NaN"):
        batch_balance(lp_a * float("nan"), lp_b, edges, 2)
    with pytest.raises(ValueError, match="indices must be distinct pool positions"):
        batch_balance_value(lp_a, lp_b, edges, [0, 0])
    with pytest.raises(ValueError, match="indices"):
        batch_balance_value(lp_a, lp_b, edges, [4])
    with pytest.raises(ValueError, match="route must be one of"):
        batch_balance_value(lp_a, lp_b, edges, [0], route="exact")
    with pytest.raises(ValueError, match="proposal='marginal' applies only"):
        batch_balance_value(lp_a, lp_b, edges, [0], proposal="marginal")


@pytest.mark.parametrize("method", ["factorized", "enumerate", "importance"])
@pytest.mark.parametrize("any_edge", [True, False])
def test_values_are_checked_on_every_path(method, any_edge):
    # batch_balance checks the values while it exponentiates them (one pass over the pool);
    # the error must still name the tensor, also when no edge skips that pass
    lp_a, lp_b, edges = _case()
    edges = edges if any_edge else torch.zeros_like(edges)
    probs_row = lp_b.clone()
    probs_row[1, 0] = torch.tensor([0.5, 0.2, 0.3], dtype=lp_b.dtype)  # probabilities, not their logs
    nan_b = lp_b.clone()
    nan_b[2] = float("nan")
    cases = [
        (lp_a, nan_b, "log_probs_b must not contain NaN"),
        (lp_a + 1.0, lp_b, "log_probs_a must hold log-probabilities whose exp sums to 1"),
        (lp_a, probs_row, r"log_probs_b must hold log-probabilities .* row \[1, 0\]"),
        (torch.full_like(lp_a, float("inf")), lp_b, r"log_probs_a must not contain \+inf"),
    ]
    for a, b, match in cases:
        with pytest.raises(ValueError, match=match):
            batch_balance(a, b, edges, 2, route=method)


def test_selection_type():
    sel = batch_balance(*_case(), 2)
    assert isinstance(sel, Selection) and all(isinstance(i, int) for i in sel.indices)
    assert all(isinstance(v, float) for v in sel.scores)
