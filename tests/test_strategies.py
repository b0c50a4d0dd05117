"""Tests for balance_lite.strategies: the registry, the parameter checks, predict and select.

Each strategy's ``select`` must return exactly what the acquisition selector returns on the same
predictions (the strategies are thin), and ``predict`` must sample the right typed container.
"""

import dataclasses

import pytest
import torch

from balance_lite import acquisition
from balance_lite.acquisition import (NO_EDGE, EmbeddingPredictions, PairPredictions, PoolSize, SamplePredictions,
                                     Selection, TargetPredictions, resolve_tau)
from balance_lite.models import build_model
from balance_lite.strategies import STRATEGIES, Method, RandomStrategy, available, get_strategy

pytestmark = pytest.mark.usefixtures("single_thread")


def model_for(splits, seed=0):
    torch.manual_seed(seed)
    return build_model("digits", splits.input_shape, splits.num_classes)


def pair_case(N=30, K=6, C=4, U=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    lp_a = torch.randn(N, K, C, generator=g, dtype=torch.float64).log_softmax(-1)
    lp_b = torch.randn(N, K, C, generator=g, dtype=torch.float64).log_softmax(-1)
    preds_a = torch.randint(C, (K, U), generator=g)
    preds_b = torch.randint(C, (K, U), generator=g)
    return PairPredictions(lp_a, lp_b, preds_a, preds_b)


def test_registry_has_every_method_of_the_issue():
    assert set(available()) == {"random", "bald", "batchbald", "mean-std", "variation-ratio", "entropy", "balance",
                                "batch-balance", "batch-balance-importance", "balance-partition",
                                "power-bald", "power-balance", "epig", "power-epig",
                                "badge", "coreset"}
    assert all(isinstance(m, Method) and m.name == name for name, m in STRATEGIES.items())
    assert get_strategy("batch-balance-importance").name == "batch-balance-importance"
    assert get_strategy("batch-balance").params()["route"] == "factorized"
    assert get_strategy("batchbald", num_samples=20).params() == {"num_samples": 20, "num_configurations": 10_000,
                                                                   "chunk_size": None}


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_method_takes_the_preset_fields_it_declares(name):
    method = STRATEGIES[name]
    values = {"num_samples": 7, "num_pairs": 5, "num_configurations": 300, "divisor": 2.0}
    strategy = method(**{f: values[f] for f in method.preset_fields})
    assert strategy.name == name
    for f in method.preset_fields:
        assert strategy.params()[f] == values[f]


def test_bad_parameters_raise_naming_the_argument():
    with pytest.raises(ValueError, match="name must be one of"):
        get_strategy("k-centre")
    with pytest.raises(TypeError, match="does not take"):
        get_strategy("random", num_pairs=3)
    with pytest.raises(ValueError, match="num_pairs must be a positive integer"):
        get_strategy("balance", num_pairs=0)
    with pytest.raises(TypeError, match="num_pairs must be a positive integer, got True"):
        get_strategy("balance", num_pairs=True)
    with pytest.raises(TypeError, match="num_samples must be a positive integer"):
        get_strategy("bald", num_samples=2.0)
    with pytest.raises(ValueError, match="tau"):
        get_strategy("balance", tau=1.5)
    with pytest.raises(ValueError, match="divisor"):
        get_strategy("balance", divisor=0)
    with pytest.raises(ValueError, match="route must be one of"):
        get_strategy("batch-balance", route="exact")
    with pytest.raises(ValueError, match="num_configurations"):
        get_strategy("batchbald", num_configurations=0)


def test_resolve_tau():
    assert resolve_tau(0.05, 4, 0.3) == 0.05
    assert resolve_tau("anneal", 4, 0.3) == pytest.approx(0.075)
    with pytest.raises(ValueError, match="tau"):
        resolve_tau("fixed", 4, 0.3)
    with pytest.raises(TypeError, match="tau"):
        resolve_tau(True, 4, 0.3)


def test_random_strategy_predicts_the_pool_size_and_selects_uniformly(digits):
    strategy = get_strategy("random")
    pred = strategy.predict(None, digits.pool.x[:40], None, generator=torch.Generator())
    assert pred == PoolSize(40)
    sel = strategy.select(pred, 5, val_error=0.3, generator=torch.Generator().manual_seed(1))
    assert sel == acquisition.random_selection(40, 5, torch.Generator().manual_seed(1))
    assert not sel.random_fallback and sel.fallback_reason is None  # the baseline, not a fallback
    with pytest.raises(ValueError, match="batch_size"):
        strategy.select(pred, 41, val_error=0.3, generator=torch.Generator())


@pytest.mark.parametrize("name", ["bald", "entropy", "mean-std", "variation-ratio", "batchbald"])
def test_sample_strategies_are_the_selector_on_their_predictions(digits, name):
    model = model_for(digits)
    strategy = get_strategy(name, num_samples=6)
    pred = strategy.predict(model, digits.pool.x[:60], None, generator=torch.Generator().manual_seed(0))
    assert isinstance(pred, SamplePredictions) and pred.log_probs.shape == (60, 6, 10)
    sel = strategy.select(pred, 4, val_error=0.2, generator=torch.Generator().manual_seed(3))
    if name == "batchbald":
        ref = acquisition.batchbald(pred.log_probs, 4, num_configurations=10_000,
                                    generator=torch.Generator().manual_seed(3))
    else:
        ref = acquisition.top_b(strategy.score_fn(pred.log_probs), 4, generator=torch.Generator().manual_seed(3))
    assert sel == ref and len(sel.num_tied) == 4 and sel.tau is None and sel.num_edges is None


def test_pair_strategies_sample_two_independent_mask_sets(digits):
    model = model_for(digits)
    strategy = get_strategy("batch-balance", num_pairs=6)
    pool_x, holdout_x = digits.pool.x[:50], digits.holdout.x[:30]
    pred = strategy.predict(model, pool_x, holdout_x, generator=torch.Generator().manual_seed(0))
    assert isinstance(pred, PairPredictions)
    assert pred.log_probs_a.shape == pred.log_probs_b.shape == (50, 6, 10)
    assert pred.preds_a.shape == pred.preds_b.shape == (6, 30)
    assert not torch.allclose(pred.log_probs_a, pred.log_probs_b)
    # pair k of the pool and of D̄pool are the same hypotheses: D̄pool predictions are their argmax
    joint = model.sample_log_probs(torch.cat([pool_x, holdout_x]), masks=model.draw_masks(
        6, generator=torch.Generator().manual_seed(0)))
    torch.testing.assert_close(joint[:50], pred.log_probs_a, atol=1e-6, rtol=0)
    assert torch.equal(joint[50:].argmax(-1).T, pred.preds_a)
    with pytest.raises(ValueError, match="held-out"):
        strategy.predict(model, pool_x, None, generator=torch.Generator())


@pytest.mark.parametrize("name", ["balance", "batch-balance", "batch-balance-importance", "balance-partition"])
def test_pair_strategies_are_the_selector_with_the_resolved_tau(name):
    pred = pair_case()
    strategy = get_strategy(name, num_pairs=6, divisor=2)
    sel = strategy.select(pred, 3, val_error=0.6, generator=torch.Generator().manual_seed(5))
    tau = 0.3
    g = torch.Generator().manual_seed(5)
    if name == "balance":
        ref = acquisition.select_balance(pred, 3, tau=tau, generator=g)
        edges = acquisition.hamming_edges(pred.preds_a, pred.preds_b, tau)
        assert ref.indices == acquisition.top_b(acquisition.balance_scores(pred.log_probs_a, pred.log_probs_b, edges),
                                                3, generator=torch.Generator().manual_seed(5)).indices
    elif name == "balance-partition":
        ref = acquisition.select_partition(pred, 3, tau=tau, generator=g)
    else:
        route = "importance" if name.endswith("importance") else "factorized"
        ref = acquisition.select_batch_balance(pred, 3, tau=tau, route=route, generator=g)
    assert sel == ref and sel.tau == pytest.approx(tau)
    assert (sel.num_edges is None) == (name == "balance-partition")


@pytest.mark.parametrize("name", ["balance", "batch-balance", "balance-partition", "power-balance"])
def test_without_edges_every_pair_method_falls_back_in_the_same_way(name):
    pred = pair_case()  # tau = 1: no pair is farther apart, and the 2K hypotheses form one class
    sel = get_strategy(name, num_pairs=6, tau=1.0).select(pred, 4, val_error=0.1,
                                                         generator=torch.Generator().manual_seed(2))
    random = acquisition.random_selection(30, 4, torch.Generator().manual_seed(2), reason=NO_EDGE)
    expected_edges = None if name == "balance-partition" else 0
    assert sel == dataclasses.replace(random, tau=1.0, num_edges=expected_edges)
    assert sel.random_fallback and sel.fallback_reason == NO_EDGE and sel.scores == [0.0] * 4


def test_selectors_refuse_the_wrong_prediction_type():
    with pytest.raises(TypeError, match="must be a PairPredictions"):
        acquisition.select_balance(SamplePredictions(torch.zeros(3, 2, 2)), 1, tau=0.1)
    with pytest.raises(TypeError, match="must be a PoolSize"):
        RandomStrategy().select(7, 1, val_error=0.0, generator=None)
    with pytest.raises(ValueError, match=r"log_probs must have shape \[N, S, C\]"):
        SamplePredictions(torch.zeros(3, 2))


def test_strategy_call_is_predict_then_select(digits):
    strategy = get_strategy("random")
    pool = digits.pool.x[:20]
    chosen = strategy(None, pool, None, batch_size=3, val_error=0.5, generator=torch.Generator().manual_seed(0))
    assert isinstance(chosen, Selection)
    assert chosen == strategy.select(PoolSize(20), 3, val_error=0.5, generator=torch.Generator().manual_seed(0))


# ---- beyond the paper: stochastic batches and EPIG ----------------------------------------------


def test_stochastic_and_epig_parameters_are_checked():
    assert get_strategy("power-bald").params() == {"num_samples": 100, "chunk_size": None, "label": "power-bald",
                                                   "mode": "power", "beta": 1.0}
    assert get_strategy("power-balance", mode="softrank", beta=2.0).params()["mode"] == "softrank"
    assert get_strategy("epig").params() == {"num_samples": 100, "num_targets": 100, "chunk_size": None}
    assert get_strategy("power-epig", mode="softmax").params()["mode"] == "softmax"
    for name in ("power-bald", "power-balance", "power-epig"):
        with pytest.raises(ValueError, match="mode must be one of 'power', 'softmax', 'softrank'"):
            get_strategy(name, mode="hard")
        with pytest.raises(ValueError, match="beta must be a positive finite number"):
            get_strategy(name, beta=0)
    with pytest.raises(ValueError, match="num_targets must be a positive integer"):
        get_strategy("epig", num_targets=0)
    with pytest.raises(TypeError, match="does not take"):
        get_strategy("epig", mode="power")


@pytest.mark.parametrize("mode", ["power", "softmax", "softrank"])
def test_power_bald_is_the_stochastic_batch_of_bald(digits, mode):
    model = model_for(digits)
    strategy = get_strategy("power-bald", num_samples=6, mode=mode, beta=2.0)
    pred = strategy.predict(model, digits.pool.x[:60], None, generator=torch.Generator().manual_seed(0))
    assert isinstance(pred, SamplePredictions) and pred.log_probs.shape == (60, 6, 10)
    sel = strategy.select(pred, 4, val_error=0.2, generator=torch.Generator().manual_seed(3))
    ref = acquisition.stochastic_batch(acquisition.bald_scores(pred.log_probs), 4, mode=mode, beta=2.0,
                                       generator=torch.Generator().manual_seed(3))
    assert sel == ref and sel.tau is None


def test_power_balance_is_the_stochastic_batch_of_balance_with_the_resolved_tau():
    pred = pair_case()
    strategy = get_strategy("power-balance", num_pairs=6, divisor=2, mode="softmax", beta=3.0)
    sel = strategy.select(pred, 3, val_error=0.6, generator=torch.Generator().manual_seed(5))
    edges = acquisition.hamming_edges(pred.preds_a, pred.preds_b, 0.3)
    assert edges.any()
    scores = acquisition.balance_scores(pred.log_probs_a, pred.log_probs_b, edges)
    ref = acquisition.stochastic_batch(scores, 3, mode="softmax", beta=3.0, generator=torch.Generator().manual_seed(5))
    assert sel == dataclasses.replace(ref, tau=0.3, num_edges=int(edges.sum()))
    assert sel.tau == pytest.approx(0.3) and not sel.random_fallback


@pytest.mark.parametrize("name", ["epig", "power-epig"])
def test_epig_predicts_pool_and_a_target_subset_under_the_same_masks(digits, name):
    model = model_for(digits)
    strategy = get_strategy(name, num_samples=5, num_targets=12)
    assert strategy.uses_holdout
    pool_x, holdout_x = digits.pool.x[:40], digits.holdout.x[:30]
    pred = strategy.predict(model, pool_x, holdout_x, generator=torch.Generator().manual_seed(0))
    assert isinstance(pred, TargetPredictions)
    assert pred.log_probs.shape == (40, 5, 10) and pred.target_log_probs.shape == (12, 5, 10)
    g = torch.Generator().manual_seed(0)
    subset = torch.randperm(30, generator=g)[:12].sort().values
    masks = model.draw_masks(5, generator=g)
    joint = model.sample_log_probs(torch.cat([pool_x, holdout_x[subset]]), masks=masks)
    torch.testing.assert_close(joint[:40], pred.log_probs, atol=1e-6, rtol=0)
    torch.testing.assert_close(joint[40:], pred.target_log_probs, atol=1e-6, rtol=0)
    few = strategy.predict(model, pool_x, holdout_x[:7], generator=torch.Generator().manual_seed(0))
    assert few.num_targets == 7  # all of a small D̄pool
    sel = strategy.select(pred, 4, val_error=0.2, generator=torch.Generator().manual_seed(3))
    scores = acquisition.epig_scores(pred.log_probs, pred.target_log_probs)
    if name == "epig":
        ref = acquisition.top_b(scores, 4, generator=torch.Generator().manual_seed(3))
    else:
        ref = acquisition.stochastic_batch(scores, 4, generator=torch.Generator().manual_seed(3))
    assert sel == ref
    with pytest.raises(ValueError, match="held-out"):
        strategy.predict(model, pool_x, None, generator=torch.Generator())


def test_new_selectors_refuse_the_wrong_prediction_type():
    with pytest.raises(TypeError, match="must be a TargetPredictions"):
        acquisition.select_epig(SamplePredictions(torch.zeros(3, 2, 2)), 1)
    with pytest.raises(TypeError, match="must be a PairPredictions"):
        acquisition.select_power_balance(SamplePredictions(torch.zeros(3, 2, 2)), 1, tau=0.1)
    with pytest.raises(ValueError, match="target_log_probs must have shape"):
        TargetPredictions(torch.zeros(3, 2, 2), torch.zeros(4, 3, 2))


# ---- beyond the paper: BADGE and Core-Set ------------------------------------------------------


def test_embedding_strategies_embed_with_dropout_off_and_are_the_selector(digits):
    model = model_for(digits)
    pool_x, labeled_x = digits.pool.x[:40], digits.pool.x[40:45]
    features, logits = model.embed(pool_x)
    badge = get_strategy("badge")
    pred = badge.predict(model, pool_x, None, generator=torch.Generator())
    assert isinstance(pred, EmbeddingPredictions) and pred.labeled_features is None
    torch.testing.assert_close(pred.features, features, atol=0, rtol=0)
    torch.testing.assert_close(pred.log_probs, logits.log_softmax(-1), atol=0, rtol=0)
    sel = badge.select(pred, 4, val_error=0.2, generator=torch.Generator().manual_seed(3))
    assert sel == acquisition.badge(features, logits.log_softmax(-1), 4, generator=torch.Generator().manual_seed(3))

    coreset = get_strategy("coreset")
    assert coreset.uses_labeled and not badge.uses_labeled and not get_strategy("bald").uses_labeled
    pred = coreset.predict(model, pool_x, None, generator=torch.Generator(), labeled_x=labeled_x)
    torch.testing.assert_close(pred.labeled_features, model.embed(labeled_x).features, atol=0, rtol=0)
    sel = coreset.select(pred, 4, val_error=0.2, generator=torch.Generator().manual_seed(3))
    assert sel == acquisition.coreset(features, pred.labeled_features, 4, generator=torch.Generator().manual_seed(3))
    # __call__ passes labeled_x only to a strategy that asks for it
    assert coreset(model, pool_x, None, batch_size=4, val_error=0.2, generator=torch.Generator().manual_seed(3),
                   labeled_x=labeled_x) == sel
    with pytest.raises(ValueError, match="coreset needs labeled_x"):
        coreset(model, pool_x, None, batch_size=4, val_error=0.2, generator=torch.Generator())
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        get_strategy("badge", chunk_size=0)
