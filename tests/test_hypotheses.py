"""balance_lite.hypotheses: hand-computed EC²/ECED/BALD values, brute-force references, properties, Fig. 2 slopes."""

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_lite.clustering import pairwise_hamming
from balance_lite.hypotheses import (
    HypothesisSpace,
    hypothesis_bald_scores,
    class_bald_scores,
    cut_edges,
    ec2_objective,
    ec2_scores,
    eced_edge_discount,
    eced_offset,
    eced_scores,
    edge_weight,
    fit_slope,
    likelihood_ratios,
    policy_scores,
    posterior_update,
    predictive,
    query_counts,
    simulate,
    stylized_example,
    threshold_space,
    weighted_hamming,
)

FAST = settings(deadline=None, max_examples=40)


pytestmark = pytest.mark.usefixtures("single_thread")


def one_hot(preds, C=2):
    return torch.nn.functional.one_hot(torch.as_tensor(preds), C).double()


# Example A: three hypotheses on two points, classes {h0} and {h1, h2}, uniform prior 1/3.
#   h0 = (0, 0), h1 = (0, 1), h2 = (1, 1).  Edges: {h0,h1}, {h0,h2}, each of weight 1/9.
A_PROBS = one_hot([[0, 0], [0, 1], [1, 1]])
A_W = torch.full((3,), 1 / 3, dtype=torch.float64)
A_CLASSES = torch.tensor([0, 1, 1])


def H(*p):
    return -sum(q * math.log(q) for q in p if q > 0)


def test_edge_weight_example_a():
    assert edge_weight(A_W, A_CLASSES).item() == pytest.approx(2 / 9)  # 1/9 + 1/9
    assert edge_weight(A_W, torch.tensor([0, 1, 2])).item() == pytest.approx(3 / 9)  # every pair
    assert edge_weight(A_W, torch.tensor([0, 0, 0])).item() == 0.0


def test_ec2_scores_example_a():
    # x0 labels (0, 0, 1): y=0 w.p. 2/3 keeps {h0, h1}: cuts {h0,h2} = 1/9; y=1 w.p. 1/3 keeps {h2}: cuts 2/9.
    #   Delta(x0) = 2/3 * 1/9 + 1/3 * 2/9 = 4/27.
    # x1 labels (0, 1, 1): y=0 keeps {h0}, y=1 keeps {h1, h2} (one class): both cut every edge, 2/9.
    assert torch.allclose(ec2_scores(A_PROBS, A_W, A_CLASSES), torch.tensor([4 / 27, 2 / 9], dtype=torch.float64))


def test_ec2_objective_and_cut_edges_example_a():
    # Observing y=1 at x0 leaves only h2: both edges (2/9) are cut.
    w = posterior_update(A_W, A_PROBS, 0, 1)
    assert torch.allclose(w, torch.tensor([0.0, 0.0, 1 / 3], dtype=torch.float64))
    assert ec2_objective(A_W, w, A_CLASSES).item() == pytest.approx(2 / 9)
    cut = cut_edges(A_PROBS, A_CLASSES, 0, 1)
    assert cut.tolist() == [[False, True, True], [True, False, False], [True, False, False]]  # {h1,h2}: same class
    # y=0 at x0 rules out h2 only: edge {h0,h2} is cut, {h0,h1} is not; {h1,h2} is not an edge.
    cut0 = cut_edges(A_PROBS, A_CLASSES, 0, 0)
    assert cut0.tolist() == [[False, False, True], [False, False, False], [True, False, False]]


def test_bald_and_class_bald_example_a():
    # Noise-free BALD is the entropy of the predictive: both points split the prior 2/3 | 1/3.
    assert torch.allclose(hypothesis_bald_scores(A_PROBS, A_W), torch.tensor([H(2 / 3, 1 / 3)] * 2, dtype=torch.float64))
    # x0: p(y, c) = {(0,c0): 1/3, (0,c1): 1/3, (1,c1): 1/3}; I = H(y) + H(c) - H(y, c) = 2 H(1/3, 2/3) - log 3.
    # x1: y = 0 iff c = c0, so I = H(c) = H(1/3, 2/3).
    expected = torch.tensor([2 * H(1 / 3, 2 / 3) - math.log(3), H(1 / 3, 2 / 3)], dtype=torch.float64)
    assert torch.allclose(class_bald_scores(A_PROBS, A_W, A_CLASSES), expected)


def test_eced_noise_free_example_a():
    # Noise-free, every label of positive probability is predicted by a live hypothesis: max lambda = 1, nu = 0,
    # and ECED is EC2: x0 -> 4/27, x1 -> 2/9 (test_ec2_scores_example_a).
    assert torch.equal(eced_offset(A_PROBS, A_W, A_CLASSES), torch.zeros(2, 2, dtype=torch.float64))
    assert torch.allclose(eced_scores(A_PROBS, A_W, A_CLASSES), torch.tensor([4 / 27, 2 / 9], dtype=torch.float64))
    assert torch.allclose(eced_scores(A_PROBS, A_W, A_CLASSES), ec2_scores(A_PROBS, A_W, A_CLASSES))


# Example B: two equally likely hypotheses in different classes, label noise 0.2.
#   x0 is informative (h0 says 0, h1 says 1); x1 is not (both say 0).
B_PROBS = torch.tensor([[[0.8, 0.2], [0.8, 0.2]], [[0.2, 0.8], [0.8, 0.2]]], dtype=torch.float64)
B_W = torch.tensor([0.5, 0.5], dtype=torch.float64)
B_CLASSES = torch.tensor([0, 1])


def test_likelihood_ratios_example_b():
    lam = likelihood_ratios(B_PROBS.log())  # 0.2 / 0.8 = 0.25 off the predicted label
    assert torch.allclose(lam, torch.tensor([[[1, 0.25], [1, 0.25]], [[0.25, 1], [1, 0.25]]], dtype=torch.float64))


def test_eced_terms_example_b():
    # One edge of weight 0.25. x0: either label discounts it by 1 - 1 * 0.25 -> delta = 0.25 * 0.75 = 0.1875.
    # x1: y=0 -> lambdas 1, 1 -> 0; y=1 -> 0.25 * 0.25 -> delta = 0.25 * (1 - 1/16) = 0.234375.
    delta = eced_edge_discount(B_PROBS, B_W, B_CLASSES)
    assert torch.allclose(delta, torch.tensor([[0.1875, 0.1875], [0.0, 0.234375]], dtype=torch.float64))
    # Offset W_E (1 - max_h lambda^2), W_E = 0.25: x0: each label has a hypothesis with lambda 1 -> 0;
    # x1: y=0 -> max lambda 1 -> 0; y=1 -> max lambda 0.25 -> 0.25 * 15/16 = 0.234375.
    nu = eced_offset(B_PROBS, B_W, B_CLASSES)
    assert torch.allclose(nu, torch.tensor([[0.0, 0.0], [0.0, 0.234375]], dtype=torch.float64))
    # p(y | x): x0 -> (0.5, 0.5); x1 -> (0.8, 0.2).
    assert torch.allclose(predictive(B_PROBS, B_W), torch.tensor([[0.5, 0.5], [0.8, 0.2]], dtype=torch.float64))
    # Discount alone: x0 0.1875, x1 0.2 * 0.234375 = 0.046875 (noise alone "discounts" the edge).
    assert torch.allclose(eced_scores(B_PROBS, B_W, B_CLASSES, offset=False), torch.tensor([0.1875, 0.046875], dtype=torch.float64))
    # ECED: x0 0.1875 - 0 = 0.1875; x1 is non-informative: exactly 0.
    scores = eced_scores(B_PROBS, B_W, B_CLASSES)
    assert torch.allclose(scores, torch.tensor([0.1875, 0.0], dtype=torch.float64))
    assert scores[1].item() == 0.0


def test_posterior_update_example_b():
    # Observe y=1 at x0: w <- w * p(1 | h, x0) = (0.5 * 0.2, 0.5 * 0.8).
    assert torch.allclose(posterior_update(B_W, B_PROBS, 0, 1), torch.tensor([0.1, 0.4], dtype=torch.float64))


# ---------------------------------------------------------------- brute-force references


def random_space(seed, n, N, C, noise=0.0, num_classes=None):
    g = torch.Generator().manual_seed(seed)
    preds = torch.randint(C, (n, N), generator=g)
    prior = torch.rand(n, generator=g, dtype=torch.float64) + 0.1
    classes = torch.randint(num_classes or n, (n,), generator=g)
    space = HypothesisSpace.from_predictions(preds, num_labels=C, prior=prior / prior.sum(), classes=classes, noise=noise)
    if noise > 0:  # make the noise uneven across hypotheses and points
        p = space.probs * (torch.rand(n, N, C, generator=g, dtype=torch.float64) + 0.5)
        space = HypothesisSpace(p / p.sum(-1, keepdim=True), space.prior, space.classes, space.point_weights)
    return space, g


def brute_delta(probs, w, classes):
    """delta(x, y) by enumerating every unordered pair in different classes."""
    n, N, C = probs.shape
    out = torch.zeros(N, C, dtype=torch.float64)
    for x, y in itertools.product(range(N), range(C)):
        lam = [float(probs[h, x, y] / probs[h, x].max()) for h in range(n)]
        for h, k in itertools.combinations(range(n), 2):
            if classes[h] != classes[k]:
                out[x, y] += w[h] * w[k] * (1 - lam[h] * lam[k])
    return out


def brute_ec2(probs, w, classes):
    """Delta_EC2 by enumerating the outcomes and the cut edges."""
    n, N, C = probs.shape
    out = torch.zeros(N, dtype=torch.float64)
    for x in range(N):
        for y in range(C):
            p_y = sum(w[h] * probs[h, x, y] for h in range(n)) / w.sum()
            cut = sum(
                w[h] * w[k]
                for h, k in itertools.combinations(range(n), 2)
                if classes[h] != classes[k] and (probs[h, x, y] == 0 or probs[k, x, y] == 0)
            )
            out[x] += p_y * cut
    return out


@FAST
@given(seed=st.integers(0, 2**16), n=st.integers(2, 6), N=st.integers(1, 4), C=st.integers(2, 3))
def test_ec2_matches_enumeration(seed, n, N, C):
    space, g = random_space(seed, n, N, C, num_classes=3)
    w = space.prior * (torch.rand(n, generator=g) > 0.3).double()  # some hypotheses already ruled out
    if float(w.sum()) == 0:
        w = space.prior
    assert torch.allclose(ec2_scores(space.probs, w, space.classes), brute_ec2(space.probs, w, space.classes))
    assert bool((ec2_scores(space.probs, w, space.classes) >= 0).all())


def brute_eced(probs, w, classes):
    """Eq. 1 of the paper by enumeration: nu(x, y) = sum over edges of w w' (1 - max_h lambda_{h,y}^2), the max over
    the hypotheses of positive weight, and Delta_ECED(x) = sum_y p(y | x) (delta(x, y) - nu(x, y))."""
    n, N, C = probs.shape
    nu = torch.zeros(N, C, dtype=torch.float64)
    score = torch.zeros(N, dtype=torch.float64)
    delta = brute_delta(probs, w, classes)
    for x, y in itertools.product(range(N), range(C)):
        lam = [float(probs[h, x, y] / probs[h, x].max()) for h in range(n)]
        top = max(lam[h] for h in range(n) if w[h] > 0)
        for h, k in itertools.combinations(range(n), 2):
            if classes[h] != classes[k]:
                nu[x, y] += w[h] * w[k] * (1 - top**2)
        p_y = sum(float(w[h] * probs[h, x, y]) for h in range(n)) / float(w.sum())
        score[x] += p_y * (delta[x, y] - nu[x, y])
    return nu, score


@FAST
@given(seed=st.integers(0, 2**16), n=st.integers(2, 6), N=st.integers(1, 4), C=st.integers(2, 3), dead=st.booleans())
def test_eced_matches_enumeration(seed, n, N, C, dead):
    space, g = random_space(seed, n, N, C, noise=0.2, num_classes=3)
    w = space.prior
    if dead:  # some hypotheses of weight 0: they do not take part in the max
        w = w * (torch.rand(n, generator=g) > 0.4).double()
        if float(w.sum()) == 0:
            w = space.prior
    got = eced_edge_discount(space.probs, w, space.classes)
    assert torch.allclose(got, brute_delta(space.probs, w, space.classes))
    nu, score = brute_eced(space.probs, w, space.classes)
    assert torch.allclose(eced_offset(space.probs, w, space.classes), nu)
    assert torch.allclose(eced_scores(space.probs, w, space.classes), score)
    # The closed form used by eced_scores is E_y[delta - nu], and it is never negative.
    p_y = predictive(space.probs, w)
    assert torch.allclose(eced_scores(space.probs, w, space.classes), (p_y * (got - nu)).sum(-1))
    assert bool((eced_scores(space.probs, w, space.classes) >= 0).all())


@FAST
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(1, 8),
    N=st.integers(1, 4),
    C=st.integers(2, 5),
    num_classes=st.integers(1, 4),
    scale=st.floats(1e-3, 1e3),
)
def test_non_informative_tests_score_exactly_zero(seed, n, N, C, num_classes, scale):
    # A test is non-informative when every hypothesis has the same lambda_{h,y} for every label: here every
    # hypothesis has the same (random, noisy) label distribution at each point, with random weights and classes.
    g = torch.Generator().manual_seed(seed)
    row = torch.rand(1, N, C, generator=g, dtype=torch.float64) + 1e-3
    probs = (row / row.sum(-1, keepdim=True)).expand(n, N, C).contiguous()
    w = (torch.rand(n, generator=g, dtype=torch.float64) + 1e-3) * scale
    classes = torch.randint(num_classes, (n,), generator=g)
    scores = eced_scores(probs, w, classes)
    assert torch.equal(scores, torch.zeros(N, dtype=torch.float64))  # exactly, not approximately
    # ... while the discount alone is positive whenever there is an edge and a label of ratio < 1.
    if len(classes.unique()) > 1:
        assert bool((eced_scores(probs, w, classes, offset=False) > 0).all())


@FAST
@given(seed=st.integers(0, 2**16), n=st.integers(2, 7), N=st.integers(1, 5), C=st.integers(2, 3), num_classes=st.integers(1, 4))
def test_noise_free_eced_is_ec2(seed, n, N, C, num_classes):
    # Derivation: noise-free, lambda_{h,y} = 1[h(x) = y], so delta(x, y) is the weight EC2 cuts, and every label
    # of positive probability is predicted by a live hypothesis, so max_h lambda_{h,y} = 1 and nu(x, y) = 0.
    space, g = random_space(seed, n, N, C, num_classes=num_classes)
    w = space.prior * (torch.rand(n, generator=g) > 0.3).double()
    if float(w.sum()) == 0:
        w = space.prior
    probs, classes = space.probs, space.classes
    ec2 = ec2_scores(probs, w, classes)
    assert torch.allclose(eced_scores(probs, w, classes), ec2, rtol=1e-12, atol=1e-15)
    assert torch.allclose(eced_scores(probs, w, classes, offset=False), ec2, rtol=1e-12, atol=1e-15)
    nu = eced_offset(probs, w, classes)
    assert bool((nu[predictive(probs, w) > 0] == 0).all())


@FAST
@given(seed=st.integers(0, 2**16), n=st.integers(2, 6), N=st.integers(1, 5), C=st.integers(2, 3), noise=st.sampled_from([0.0, 0.1]))
def test_information_properties(seed, n, N, C, noise):
    space, g = random_space(seed, n, N, C, noise=noise, num_classes=3)
    bald = hypothesis_bald_scores(space.probs, space.prior)
    cb = class_bald_scores(space.probs, space.prior, space.classes)
    assert bool((cb >= 0).all()) and bool((bald <= math.log(C) + 1e-12).all())
    assert bool((cb <= bald + 1e-12).all())  # c is a function of h: I(y; c) <= I(y; h)
    own = class_bald_scores(space.probs, space.prior, torch.arange(n))  # every hypothesis its own class
    assert torch.allclose(own, bald)
    # Scores permute with the pool.
    perm = torch.randperm(N, generator=g)
    p2 = space.probs[:, perm]
    assert torch.allclose(hypothesis_bald_scores(p2, space.prior), bald[perm])
    assert torch.allclose(eced_scores(p2, space.prior, space.classes), eced_scores(space.probs, space.prior, space.classes)[perm])


@FAST
@given(seed=st.integers(0, 2**16), scale=st.floats(0.01, 100.0))
def test_edge_scores_are_quadratic_in_the_weights(seed, scale):
    space, _ = random_space(seed, 5, 3, 2, noise=0.1, num_classes=2)
    a = eced_scores(space.probs, space.prior, space.classes)
    b = eced_scores(space.probs, space.prior * scale, space.classes)
    assert torch.allclose(b, a * scale**2)


# ---------------------------------------------------------------- policies and the simulator


@FAST
@given(seed=st.integers(0, 2**16), n=st.integers(2, 10), N=st.integers(2, 8), radius=st.sampled_from([0.0, 0.15, 0.3]))
def test_ec2_greedy_reaches_a_single_class(seed, n, N, radius):
    g = torch.Generator().manual_seed(seed)
    space = HypothesisSpace.from_predictions(torch.randint(2, (n, N), generator=g)).with_metric_classes(radius)
    # Hypotheses with equal predictions are at distance 0 and share a class, so every pair of classes is separable.
    for target in range(n):
        run = simulate(space, "ec2", target)
        assert run.reached_goal
        consistent = (space.predictions[:, run.queries] == space.predictions[target, run.queries]).all(1)
        assert space.classes[consistent].unique().numel() == 1  # all survivors share the target's class
        assert run.output_class == int(space.classes[target])
        assert run.error <= 2 * radius + 1e-12
        w = space.prior * consistent.double()
        assert ec2_objective(space.prior, w, space.classes).item() == pytest.approx(edge_weight(space.prior, space.classes).item())


def test_simulate_binary_search_on_thresholds():
    # h_t(x) = 1[x >= t] for t = 0, .3, .7, 1 on x = .1, .5, .9: (1,1,1), (0,1,1), (0,0,1), (0,0,0).
    # BALD splits 2|2 at x1; target 0 answers 1, leaving t = 0 and t = .3, which only x0 separates.
    space = threshold_space(torch.tensor([0.1, 0.5, 0.9]), torch.tensor([0.0, 0.3, 0.7, 1.0]))
    run = simulate(space, "bald", target=0)
    assert run.queries == [1, 0] and run.labels == [1, 1] and run.reached_goal and run.error == 0.0
    assert query_counts(space, "bald").tolist() == [2, 2, 2, 2]
    # Random (passive) querying cannot do better than binary search on every target, and pays at least 1 here.
    g = torch.Generator().manual_seed(0)
    assert 1 <= simulate(space, "random", 0, generator=g).num_queries <= 3


def test_noisy_simulation_reaches_confidence_and_is_reproducible():
    space = threshold_space(torch.linspace(0.05, 0.95, 10), torch.linspace(0, 1, 6)).with_noise(0.1)
    runs = [simulate(space, "eced", 2, slack=0.01, max_queries=200, generator=torch.Generator().manual_seed(1)) for _ in range(2)]
    assert runs[0] == runs[1] and runs[0].reached_goal and runs[0].output == 2


def test_eced_prefers_the_informative_point_and_stops():
    # Example B with the points swapped: x0 is uninformative, x1 informative. ECED scores x0 exactly 0 and x1
    # 0.1875, so the greedy policy only ever buys x1's label (x0 would teach nothing) and reaches the goal.
    probs = B_PROBS.flip(1)
    space = HypothesisSpace(probs, B_W, B_CLASSES, torch.tensor([0.5, 0.5], dtype=torch.float64))
    assert torch.allclose(policy_scores("eced", space, B_W), torch.tensor([0.0, 0.1875], dtype=torch.float64))
    run = simulate(space, "eced", 1, slack=0.05, max_queries=50, generator=torch.Generator().manual_seed(0))
    assert set(run.queries) == {1} and run.reached_goal


# ---------------------------------------------------------------- the stylized example (Sec. 2.1 / Fig. 2)


def test_stylized_distances_hold():
    n = 6
    t = torch.tensor([2.0 ** (1 - i) for i in range(1, n + 1)], dtype=torch.float64)
    expected = (t[:, None] - t[None, :]).abs()  # d_H(h_i, h_j) = |2^{1-i} - 2^{1-j}|
    compact = stylized_example(n, 0.25)
    grid = stylized_example(n, 0.25, grid=True)
    assert compact.num_points == n and grid.num_points == 2 ** (n - 1)
    assert torch.allclose(compact.distances(), expected)
    assert torch.allclose(pairwise_hamming(grid.predictions).double(), expected, atol=1e-7)
    assert torch.equal(compact.classes, grid.classes)
    # Classes have diameter <= sigma: the tail {t <= sigma/2 + t_n} and singletons above it.
    d = compact.distances()
    same = compact.classes[:, None] == compact.classes[None, :]
    assert float(d[same].max()) <= 0.25


def test_weighted_hamming_uniform_is_pairwise_hamming():
    preds = torch.tensor([[0, 1, 2, 1], [0, 0, 2, 1], [1, 1, 1, 1]])
    assert torch.allclose(weighted_hamming(preds, torch.full((4,), 0.25)), pairwise_hamming(preds).double())
    w = torch.tensor([0.1, 0.2, 0.3, 0.4])
    # h0 vs h1 differ at x1 (0.2); h0 vs h2 at x0, x2 (0.4); h1 vs h2 at x0, x1, x2 (0.6).
    assert torch.allclose(weighted_hamming(preds, w), torch.tensor([[0, 0.2, 0.4], [0.2, 0, 0.6], [0.4, 0.6, 0]], dtype=torch.float64))


def worst(space, policy):
    return int(query_counts(space, policy).max())


def test_fig2_slopes():
    # BALD (information-greedy) needs ~log2 n queries in the worst case, whatever sigma;
    # EC2 needs a number that does not grow with n and grows with log2(1/sigma).
    ns = [16, 32, 64, 128]
    bald_n = [worst(stylized_example(n, 1 / 16), "bald") for n in ns]
    ec2_n = [worst(stylized_example(n, 1 / 16), "ec2") for n in ns]
    log_n = [math.log2(n) for n in ns]
    assert fit_slope(log_n, bald_n)[0] == pytest.approx(1.0, abs=0.2)
    assert abs(fit_slope(log_n, ec2_n)[0]) <= 0.2
    sigmas = [2.0**-k for k in range(2, 9, 2)]
    bald_s = [worst(stylized_example(128, s), "bald") for s in sigmas]
    ec2_s = [worst(stylized_example(128, s), "ec2") for s in sigmas]
    log_inv_s = [-math.log2(s) for s in sigmas]
    assert abs(fit_slope(log_inv_s, bald_s)[0]) <= 0.2
    slope = fit_slope(log_inv_s, ec2_s)[0]
    assert 0.05 <= slope <= 1.0
    assert all(c <= math.log2(1 / s) + 2 for c, s in zip(ec2_s, sigmas))  # "about log(1/sigma)" is an upper bound here
    assert all(e < b for e, b in zip(ec2_s, bald_s))
    # Noise-free, ECED (Eq. 1) is EC2: the same runs, so the same counts.
    assert [worst(stylized_example(n, 1 / 16), "eced") for n in ns[:2]] == ec2_n[:2]


def test_fit_slope():
    assert fit_slope([0, 1, 2, 3], [1, 3, 5, 7]) == (2.0, 1.0)
    with pytest.raises(ValueError, match="x must not be constant"):
        fit_slope([1, 1], [0, 1])
    with pytest.raises(ValueError, match="same length"):
        fit_slope([1, 2], [0])


# ---------------------------------------------------------------- bad input


def test_bad_arguments_raise_value_errors_naming_them():
    with pytest.raises(ValueError, match="weights must have shape"):
        ec2_scores(A_PROBS, torch.ones(2), A_CLASSES)
    with pytest.raises(ValueError, match="weights must be non-negative"):
        hypothesis_bald_scores(A_PROBS, torch.zeros(3))
    with pytest.raises(ValueError, match="probs must be noise-free"):
        ec2_scores(B_PROBS, B_W, B_CLASSES)
    with pytest.raises(ValueError, match="probs must have shape"):
        eced_scores(A_PROBS[0], A_W, A_CLASSES)
    with pytest.raises(ValueError, match="classes must be"):
        eced_scores(A_PROBS, A_W, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="classes must be"):
        eced_offset(A_PROBS, A_W, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="point must be"):
        posterior_update(A_W, A_PROBS, 2, 0)
    with pytest.raises(ValueError, match="label must be"):
        cut_edges(A_PROBS, A_CLASSES, 0, 2)
    with pytest.raises(ValueError, match="noise must be"):
        HypothesisSpace.from_predictions(torch.tensor([[0, 1]]), noise=0.5)
    with pytest.raises(TypeError, match="preds must be an integer"):
        HypothesisSpace.from_predictions(torch.tensor([[0.0, 1.0]]))
    with pytest.raises(ValueError, match="prior must be"):
        HypothesisSpace.from_predictions(torch.tensor([[0, 1], [1, 1]]), prior=torch.tensor([0.5, 0.6]))
    with pytest.raises(ValueError, match="probs must be non-negative and sum to 1"):
        HypothesisSpace(A_PROBS * 2, A_W, A_CLASSES, torch.full((2,), 0.5, dtype=torch.float64))
    with pytest.raises(ValueError, match="point_weights must have shape"):
        weighted_hamming(torch.tensor([[0, 1]]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="point_weights must be non-negative and sum to 1"):
        weighted_hamming(torch.tensor([[0, 1]]), torch.tensor([0.2, 0.2]))
    with pytest.raises(ValueError, match="n must be between"):
        stylized_example(1, 0.1)
    with pytest.raises(ValueError, match="sigma must be"):
        stylized_example(8, 1.5)
    space = HypothesisSpace.from_predictions(A_PROBS.argmax(-1), classes=A_CLASSES)
    with pytest.raises(ValueError, match="target must be"):
        simulate(space, "ec2", 3)
    with pytest.raises(ValueError, match="policy must be one of"):
        simulate(space, "gbs", 0)
    with pytest.raises(ValueError, match="slack must be positive"):
        simulate(space.with_noise(0.1), "eced", 0, max_queries=3)
    with pytest.raises(ValueError, match="max_queries is required"):
        simulate(space.with_noise(0.1), "eced", 0, slack=0.1)
