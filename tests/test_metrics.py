"""Tests for balance_lite.metrics: the test-set metrics against plain computations."""

import math

import pytest
import torch

from balance_lite.acquisition import predictive_log_probs as acquisition_predictive
from balance_lite.metrics import METRICS, evaluate_predictions, predictive_log_probs


def brute_force_metrics(log_probs, y):
    """Accuracy, macro one-vs-rest AUC (by counting pairs), macro F1 and NLL written out plainly."""
    p = log_probs.double().exp().mean(1)
    N, C = p.shape
    pred = p.argmax(1)
    acc = (pred == y).double().mean().item()
    aucs, f1s = [], []
    for c in range(C):
        pos, neg = p[y == c, c], p[y != c, c]
        wins = sum(float(a > b) + 0.5 * float(a == b) for a in pos for b in neg)
        aucs.append(wins / (len(pos) * len(neg)))
        tp = int(((pred == c) & (y == c)).sum())
        fp, fn = int(((pred == c) & (y != c)).sum()), int(((pred != c) & (y == c)).sum())
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    nll = -p[torch.arange(N), y].log().mean().item()
    return acc, sum(aucs) / C, sum(f1s) / C, nll


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_a_plain_computation(seed):
    g = torch.Generator().manual_seed(seed)
    log_probs = torch.randn(40, 6, 4, generator=g).mul(2).log_softmax(-1)
    y = torch.cat([torch.arange(4), torch.randint(4, (36,), generator=g)])
    m = evaluate_predictions(log_probs, y)
    acc, auc, f1, nll = brute_force_metrics(log_probs, y)
    assert m["accuracy"] == pytest.approx(acc) and m["macro_auc"] == pytest.approx(auc)
    assert m["macro_f1"] == pytest.approx(f1) and m["nll"] == pytest.approx(nll, rel=1e-5)


def test_metrics_edge_cases():
    lp = torch.tensor([[[0.7, 0.2, 0.1]], [[0.1, 0.8, 0.1]]]).log()
    m = evaluate_predictions(lp, torch.tensor([0, 1]))  # class 2 absent from the labels
    assert math.isnan(m["macro_auc"]) and m["accuracy"] == 1.0
    assert m["macro_f1"] == pytest.approx(2 / 3)  # the absent, never-predicted class counts 0
    two = torch.tensor([[[0.9, 0.1]], [[0.3, 0.7]], [[0.6, 0.4]]]).log()
    assert evaluate_predictions(two, torch.tensor([0, 1, 1]))["macro_auc"] == 1.0
    with pytest.raises(ValueError, match="labels must have shape"):
        evaluate_predictions(lp, torch.tensor([0]))
    with pytest.raises(ValueError, match="log_probs must have shape"):
        predictive_log_probs(torch.zeros(3, 4))


def test_one_predictive_mean_for_scores_and_metrics():
    assert predictive_log_probs is acquisition_predictive
    lp = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]]).log()
    assert torch.allclose(predictive_log_probs(lp).exp(), torch.tensor([[0.75, 0.25]]))


def test_every_metric_is_reported():
    lp = torch.tensor([[[0.9, 0.1]], [[0.2, 0.8]]]).log()
    assert tuple(evaluate_predictions(lp, torch.tensor([0, 1]))) == METRICS
