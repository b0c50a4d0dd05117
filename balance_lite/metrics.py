r"""Test-set metrics of the MC-averaged predictive distribution (the paper's learning curves, Table 2).

Chapter: *The active learning loop in 30 lines*.

The predictive distribution averages S consistent MC-dropout samples,
``p(y | x) = (1/S) sum_s p(y | x, ω_s)`` (:func:`predictive_log_probs`, defined with the
acquisition scores and re-exported here); accuracy, macro-averaged one-vs-rest AUC, macro F1 and the
negative log-likelihood are then computed with scikit-learn.

Example:
    >>> log_probs = torch.tensor([[[0.9, 0.1]], [[0.2, 0.8]], [[0.6, 0.4]]]).log()
    >>> m = evaluate_predictions(log_probs, torch.tensor([0, 1, 1]))
    >>> round(m["accuracy"], 4), round(m["macro_auc"], 4), round(m["nll"], 4)
    (0.6667, 1.0, 0.4149)
"""

from __future__ import annotations

import warnings

import numpy as np
from torch import Tensor

from .acquisition.scores import predictive_log_probs

__all__ = ["METRICS", "evaluate_predictions", "predictive_log_probs"]

#: The metrics every record holds, in the paper's order.
METRICS = ("accuracy", "macro_auc", "macro_f1", "nll")


def evaluate_predictions(log_probs: Tensor, labels: Tensor) -> dict[str, float]:
    """Accuracy, macro AUC, macro F1 and NLL (nats per point) of the MC-averaged predictive.

    Args:
        log_probs: ``[N, S, C]`` MC-dropout log-probabilities on the test set.
        labels: ``[N]`` true classes.

    Returns:
        ``{"accuracy", "macro_auc", "macro_f1", "nll"}``. ``macro_auc`` is NaN when some class of
        the C is absent from ``labels`` (one-vs-rest AUC is undefined for it); ``macro_f1``
        averages over all C classes (a class never predicted nor present counts 0).

    Raises:
        ValueError: the shapes disagree, or N = 0.
    """
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

    lp = predictive_log_probs(log_probs)
    N, C = lp.shape
    if labels.shape != (N,):
        raise ValueError(f"labels must have shape [{N}] to match log_probs, got {tuple(labels.shape)}")
    if N == 0:
        raise ValueError("log_probs must hold at least one point, got N = 0")
    probs = lp.double().exp().cpu().numpy()
    probs /= probs.sum(axis=1, keepdims=True)
    y = labels.cpu().numpy().astype(np.int64)
    classes = list(range(C))
    pred = probs.argmax(axis=1)
    if np.unique(y).size == C:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            auc = roc_auc_score(y, probs[:, 1] if C == 2 else probs, multi_class="ovr", average="macro",
                                labels=classes)
    else:
        auc = float("nan")
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "macro_auc": float(auc),
        "macro_f1": float(f1_score(y, pred, labels=classes, average="macro", zero_division=0)),
        "nll": float(log_loss(y, probs, labels=classes)),
    }
