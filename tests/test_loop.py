"""Tests for balance_lite.loop, with fake strategies and with every registered one (see test_strategies.py)."""

import math
from dataclasses import dataclass

import pytest
import torch

from balance_lite.acquisition import NO_EDGE, SamplePredictions, Selection
from balance_lite.loop import IterationRecord, iteration_seeds, run_active_learning
from balance_lite.models import build_model
from balance_lite.strategies import RandomStrategy, ScoreStrategy, Strategy, available, get_strategy
from balance_lite.train import TrainConfig

FAST = TrainConfig(lr=1e-2, epoch_size=256, max_epochs=5, patience=2)


def factory(splits, calls=None):
    def build():
        if calls is not None:
            calls.append(1)
        return build_model("digits", splits.input_shape, splits.num_classes)
    return build


def entropy(log_probs):
    """Predictive entropy written plainly: a fake acquisition function for the loop."""
    p = log_probs.exp().mean(1)
    return -(p * p.clamp_min(1e-12).log()).sum(-1)


@dataclass(repr=False)
class FakePairs(Strategy):
    """Pretends to be a BALanCe method: records a tau and edges, falls back to random when asked."""

    name = "fake-pairs"
    fallback: bool = False
    uses_holdout = True

    def predict(self, model, pool_x, holdout_x, *, generator):
        assert holdout_x is not None
        return SamplePredictions(model.sample_log_probs(pool_x, 4, generator=generator))

    def select(self, predictions, batch_size, *, val_error, generator):
        picked = torch.randperm(predictions.num_points, generator=generator)[:batch_size].tolist()
        return Selection(picked, [1.0] * batch_size, tau=val_error / 4, num_edges=0 if self.fallback else 3,
                         random_fallback=self.fallback, fallback_reason="asked to" if self.fallback else None)


def run(splits, strategy, **kw):
    kw.setdefault("batch_size", 10)
    kw.setdefault("budget", 50)
    kw.setdefault("train_config", FAST)
    kw.setdefault("eval_samples", 5)
    return run_active_learning(splits, factory(splits), strategy, **kw)


def test_random_run_records_every_field(digits):
    result = run(digits, "random", seed=0)
    records = result.records
    assert [r.labels for r in records] == [20, 30, 40, 50]
    assert [len(r.selected) for r in records] == [10, 10, 10, 0]
    acquired = [i for r in records for i in r.selected]
    assert len(set(acquired)) == 30 and not set(acquired) & set(digits.initial)
    assert result.labeled == list(digits.initial) + acquired
    for r in records:
        d = r.to_dict()
        for key in ("labels", "accuracy", "macro_auc", "macro_f1", "nll", "tau", "num_edges", "selected", "seconds"):
            assert key in d
        assert set(r.seconds) == {"train", "evaluate", "predict", "acquire"}
        assert 0 <= r.accuracy <= 1 and 0 <= r.macro_f1 <= 1 and 0 <= r.macro_auc <= 1 and r.nll > 0
        assert r.tau is None and r.num_edges is None and r.epochs >= 1
    assert records[-1].accuracy > 0.6  # 50 labels of digits: far above chance


def test_score_strategy_picks_the_top_scores_of_the_unlabeled_pool(digits):
    strategy = ScoreStrategy(entropy, num_samples=8, label="entropy")
    result = run(digits, strategy, budget=30, seed=1)
    first = result.records[0]
    # recompute the scores of iteration 0 exactly as the loop does, and check the picks are the top 10
    seeds = iteration_seeds(1, 0)
    torch.manual_seed(seeds.init)
    model = factory(digits)()
    from balance_lite.train import train_model
    idx = torch.as_tensor(digits.initial)
    train_model(model, digits.pool.x[idx], digits.pool.y[idx], digits.val.x, digits.val.y, config=FAST,
                seed=seeds.train)
    candidates = [i for i in range(len(digits.pool)) if i not in set(digits.initial)]
    lp = model.sample_log_probs(digits.pool.x[candidates], 8, generator=torch.Generator().manual_seed(seeds.acquire))
    scores = entropy(lp)
    expected = {candidates[i] for i in scores.topk(10).indices.tolist()}
    assert set(first.selected) == expected
    assert first.scores == sorted(first.scores, reverse=True)


def test_same_seed_same_selections_other_seed_others(digits):
    a = run(digits, ScoreStrategy(entropy, num_samples=6), seed=3)
    b = run(digits, ScoreStrategy(entropy, num_samples=6), seed=3)
    c = run(digits, ScoreStrategy(entropy, num_samples=6), seed=4)
    assert [r.selected for r in a.records] == [r.selected for r in b.records]
    assert [r.accuracy for r in a.records] == [r.accuracy for r in b.records]
    assert [r.selected for r in a.records] != [r.selected for r in c.records]


def test_resume_recomputes_only_what_is_missing(digits):
    full = run(digits, "random", seed=5)
    calls = []
    seen = []
    resumed = run_active_learning(digits, factory(digits, calls), "random", batch_size=10, budget=50,
                                  train_config=FAST, eval_samples=5, seed=5,
                                  resume=[r.to_dict() for r in full.records[:2]], on_iteration=seen.append)
    assert len(calls) == 2 and [r.iteration for r in seen] == [2, 3]  # only iterations 2 and 3 ran
    assert [r.selected for r in resumed.records] == [r.selected for r in full.records]
    assert [r.accuracy for r in resumed.records] == [r.accuracy for r in full.records]
    # a finished run resumes to itself without training anything
    calls.clear()
    again = run_active_learning(digits, factory(digits, calls), "random", batch_size=10, budget=50, seed=5,
                                resume=full.records)
    assert calls == [] and again.labeled == full.labeled


def test_resume_must_continue_the_initial_set(digits):
    full = run(digits, "random", seed=6, budget=30)
    with pytest.raises(ValueError, match="resume record 0"):
        run(digits, "random", seed=6, budget=30, initial=digits.initial[:10], resume=full.records)


def test_start_from_no_labels_uses_the_untrained_network(digits):
    result = run(digits, ScoreStrategy(entropy, num_samples=4), initial=[], batch_size=10, budget=20, seed=0)
    first = result.records[0]
    assert first.labels == 0 and first.epochs == 0 and len(first.selected) == 10
    assert first.seconds["train"] < 0.05
    assert result.records[1].epochs >= 1


def test_last_batch_shrinks_to_the_budget(digits):
    result = run(digits, "random", batch_size=7, budget=30, seed=0)
    assert [r.labels for r in result.records] == [20, 27, 30]
    assert [len(r.selected) for r in result.records] == [7, 3, 0]


def test_strategy_extras_are_recorded(digits):
    result = run(digits, FakePairs(), budget=30, seed=0)
    first = result.records[0]
    assert first.num_edges == 3 and not first.random_fallback
    assert first.tau == pytest.approx((1 - first.val_accuracy) / 4)
    fallback = run(digits, FakePairs(fallback=True), budget=30, seed=0).records[0]
    assert fallback.random_fallback and fallback.num_edges == 0 and fallback.fallback_reason == "asked to"


def test_bad_arguments_raise(digits):
    with pytest.raises(ValueError, match="batch_size"):
        run(digits, "random", batch_size=0)
    with pytest.raises(ValueError, match="budget"):
        run(digits, "random", budget=10)
    with pytest.raises(ValueError, match="budget"):
        run(digits, "random", budget=len(digits.pool) + 1)
    with pytest.raises(ValueError, match="initial"):
        run(digits, "random", initial=[0, 0, 1])
    with pytest.raises(ValueError, match="initial"):
        run(digits, "random", initial=[len(digits.pool)])
    with pytest.raises(ValueError, match="eval_samples"):
        run(digits, "random", eval_samples=0)
    with pytest.raises(ValueError, match="name must be one of"):
        run(digits, "no-such-method")

    class Greedy(RandomStrategy):
        def select(self, predictions, batch_size, *, val_error, generator):
            return Selection([0] * batch_size, [0.0] * batch_size)

    with pytest.raises(RuntimeError, match="distinct positions"):
        run(digits, Greedy(), budget=30)


def test_iteration_seeds_are_distinct_and_stable():
    seeds = iteration_seeds(0, 0)
    assert len(set(seeds)) == 4
    assert iteration_seeds(0, 0) == seeds and iteration_seeds(0, 1) != seeds
    assert all(0 <= s < 2**63 for s in seeds)


def test_record_round_trips_through_dict():
    record = IterationRecord(iteration=2, labels=40, accuracy=0.5, macro_auc=math.nan, macro_f1=0.4, nll=1.2,
                             val_accuracy=0.5, tau=0.1, num_edges=7, selected=[3, 1], seconds={"train": 1.0})
    back = IterationRecord.from_dict({**record.to_dict(), "extra": 1})
    assert back.selected == [3, 1] and back.tau == 0.1 and math.isnan(back.macro_auc)


# ---- with the real acquisition engine ---------------------------------------------------------


SMALL = {"bald": {"num_samples": 8}, "mean-std": {"num_samples": 8}, "variation-ratio": {"num_samples": 8},
         "entropy": {"num_samples": 8}, "batchbald": {"num_samples": 8, "num_configurations": 200},
         "balance": {"num_pairs": 4}, "batch-balance": {"num_pairs": 4},
         "batch-balance-importance": {"num_pairs": 4, "num_configurations": 200},
         "balance-partition": {"num_pairs": 4}, "random": {},
         "power-bald": {"num_samples": 8}, "power-balance": {"num_pairs": 4},
         "epig": {"num_samples": 8, "num_targets": 20}, "power-epig": {"num_samples": 8, "num_targets": 20},
         "badge": {}, "coreset": {}}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_registered_strategy_runs_in_the_loop(digits, name):
    assert set(SMALL) == set(available())
    result = run(digits, get_strategy(name, **SMALL[name]), budget=30, seed=0)
    first = result.records[0]
    assert len(first.selected) == 10 and len(set(first.selected) | set(digits.initial)) == 30
    assert len(first.scores) == 10 and all(math.isfinite(v) for v in first.scores)
    pair_method = name in ("balance", "batch-balance", "batch-balance-importance", "balance-partition",
                           "power-balance")
    assert (first.tau is not None) == pair_method
    if pair_method:
        assert first.tau == pytest.approx((1 - first.val_accuracy) / 4)
    assert (first.num_edges is not None) == (pair_method and name != "balance-partition")


def test_batch_balance_in_the_loop_is_the_engine_on_the_loop_predictions(digits):
    from balance_lite import acquisition
    from balance_lite.train import train_model

    strategy = get_strategy("batch-balance", num_pairs=6, divisor=2)
    record = run(digits, strategy, budget=30, seed=2).records[0]
    seeds = iteration_seeds(2, 0)
    torch.manual_seed(seeds.init)
    model = factory(digits)()
    idx = torch.as_tensor(digits.initial)
    trained = train_model(model, digits.pool.x[idx], digits.pool.y[idx], digits.val.x, digits.val.y, config=FAST,
                          seed=seeds.train)
    candidates = [i for i in range(len(digits.pool)) if i not in set(digits.initial)]
    g = torch.Generator().manual_seed(seeds.acquire)
    masks_a, masks_b = model.draw_masks(6, generator=g), model.draw_masks(6, generator=g)
    lp_a = model.sample_log_probs(digits.pool.x[candidates], masks=masks_a)
    lp_b = model.sample_log_probs(digits.pool.x[candidates], masks=masks_b)
    preds_a = model.sample_log_probs(digits.holdout.x, masks=masks_a).argmax(-1).T
    preds_b = model.sample_log_probs(digits.holdout.x, masks=masks_b).argmax(-1).T
    tau = acquisition.annealed_tau(1 - trained.best_val_accuracy, 2)
    edges = acquisition.hamming_edges(preds_a, preds_b, tau)
    sel = acquisition.batch_balance(lp_a, lp_b, edges, 10, generator=g)
    assert record.tau == pytest.approx(tau) and record.num_edges == int(edges.sum())
    assert record.selected == [candidates[i] for i in sel.indices]
    assert record.scores == pytest.approx(sel.scores) and record.num_tied == sel.num_tied


def test_balance_falls_back_to_random_when_no_edge_is_left(digits):
    record = run(digits, get_strategy("balance", num_pairs=4, tau=1.0), budget=30, seed=0).records[0]
    assert record.random_fallback and record.num_edges == 0 and record.scores == [0.0] * 10
    assert record.fallback_reason == NO_EDGE and record.num_tied == [len(digits.pool) - 20 - i for i in range(10)]
    record = run(digits, get_strategy("batch-balance", num_pairs=4, tau=1.0), budget=30, seed=0).records[0]
    assert record.random_fallback and record.num_edges == 0


def test_coreset_in_the_loop_gets_the_labeled_inputs_and_starts_from_nothing(digits):
    from balance_lite import acquisition
    from balance_lite.train import train_model

    record = run(digits, "coreset", budget=30, seed=4).records[0]
    seeds = iteration_seeds(4, 0)
    torch.manual_seed(seeds.init)
    model = factory(digits)()
    idx = torch.as_tensor(digits.initial)
    train_model(model, digits.pool.x[idx], digits.pool.y[idx], digits.val.x, digits.val.y, config=FAST,
                seed=seeds.train)
    candidates = [i for i in range(len(digits.pool)) if i not in set(digits.initial)]
    sel = acquisition.coreset(model.embed(digits.pool.x[candidates]).features, model.embed(digits.pool.x[idx]).features,
                              10, generator=torch.Generator().manual_seed(seeds.acquire))
    assert record.selected == [candidates[i] for i in sel.indices] and record.scores == pytest.approx(sel.scores)
    # from an empty labeled set: the first point at random (score inf), then greedy
    first = run(digits, "coreset", initial=[], budget=20, seed=0).records[0]
    assert first.labels == 0 and len(set(first.selected)) == 10 and first.scores[0] == math.inf
    assert all(math.isfinite(v) for v in first.scores[1:])
