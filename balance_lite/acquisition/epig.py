r"""EPIG: the expected predictive information gain about a target input distribution (Bickford Smith et al., 2023).

Chapters: *BALD and BatchBALD* (information about the parameters versus about predictions) and
*Beyond the paper: newer batch methods, and how to compare them honestly*.

Bickford Smith, Kirsch, Farquhar, Gal, Foster and Rainforth, "Prediction-oriented Bayesian active
learning" (AISTATS 2023), the definition of EPIG and its Monte-Carlo estimator for classification:
BALD values information about the parameters, much of which may never matter for the predictions
we care about. EPIG values information about the label :math:`y_*` of a target input
:math:`x_* \sim p_*` instead:

.. math::

    \mathrm{EPIG}(x) = \mathbb{E}_{p_*(x_*)}\big[ I(y; y_* \mid x, x_*) \big],
    \qquad I(y; y_*) = \sum_{y, y_*} p(y, y_*) \log \frac{p(y, y_*)}{p(y)\, p(y_*)},

where :math:`y` and :math:`y_*` are dependent only through the shared parameters :math:`\theta`.
With S posterior samples :math:`\theta_s` (here: S consistent MC-dropout masks, the *same* masks on
the pool and on the targets) and T target inputs drawn from :math:`p_*`,

.. math::

    p(y, y_*) \approx \frac{1}{S} \sum_{s} p(y \mid x, \theta_s)\, p(y_* \mid x_*, \theta_s),\quad
    p(y) \approx \frac{1}{S} \sum_s p(y \mid x, \theta_s),\quad
    p(y_*) \approx \frac{1}{S} \sum_s p(y_* \mid x_*, \theta_s),

and EPIG is the mean of :math:`I(y; y_*)` over the T targets.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._checks import check_log_probs
from ._chunks import chunks

__all__ = ["epig_scores"]


def _entropy(p: Tensor, dims) -> Tensor:
    return -torch.special.xlogy(p, p).sum(dims)


def epig_scores(log_probs: Tensor, target_log_probs: Tensor) -> Tensor:
    r"""EPIG of every pool point about T target inputs, in nats (Bickford Smith et al., AISTATS 2023).

    :math:`\mathrm{EPIG}(x_n) = \frac{1}{T}\sum_t I(y_n; y_{*t})`, from S hypotheses shared by the
    pool and the targets (see the module docstring), computed as
    :math:`I(y; y_*) = H[y] + H[y_*] - H[y, y_*]`. The joint
    :math:`p(y{=}c, y_{*t}{=}d) = \frac{1}{S}\sum_s p_{nsc}\, q_{tsd}` of a chunk of n pool points
    and all targets is one matrix product ``[n*C, S] @ [S, T*C]``; chunks of pool points keep its
    ``[n, C, T, C]`` result within ``CHUNK_ELEMENTS`` numbers.
    Computed in float64 on probabilities (not in log space): every entry is in [0, 1], the sums
    stay near 1, and :math:`0 \log 0 = 0` (``xlogy``). Each row is first renormalised in float64,
    so that the joint's marginals are exactly :math:`p(y)` and :math:`p(y_*)` even for float32
    inputs.

    Two facts the tests check (both exact for the S-sample posterior, uniform over the
    :math:`\theta_s`): since :math:`y \leftarrow \theta \rightarrow y_*` is a Markov chain, the
    data-processing inequality gives :math:`I(y; y_*) \le \min(I(y;\theta), I(y_*;\theta))`, so
    EPIG about a single target is at most the BALD score of the pool point and of the target.
    With the pool point itself as the only target, :math:`y` and :math:`y_*` are two labels drawn
    independently given :math:`\theta` at the same input, so EPIG is :math:`I(y; y')` of two such
    draws, *not* BALD; it equals BALD, :math:`H[y]`, exactly when every hypothesis is deterministic
    (then :math:`y = y'`).

    Args:
        log_probs: ``[N, S, C]`` pool log-probabilities under S hypotheses.
        target_log_probs: ``[T, S, C]`` target log-probabilities under the *same* S hypotheses
            (sample s of both tensors uses the same dropout mask).

    Returns:
        ``[N]`` float64 scores, >= 0, on ``log_probs``' device.

    Raises:
        TypeError: a tensor is not floating point.
        ValueError: a tensor is not ``[*, S, C]`` with S >= 1 and C >= 2, holds NaN or ``+inf``,
            a row does not normalise, or the two disagree in S, C or device.

    Example:
        >>> agree = torch.tensor([[0.5, 0.5], [0.5, 0.5]]).log()  # [S=2, C=2]: the masks agree
        >>> disagree = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).log()  # the masks disagree
        >>> epig_scores(torch.stack([agree, disagree]), disagree[None])  # the target is the second point
        tensor([0.0000, 0.6931], dtype=torch.float64)
    """
    N, S, C = check_log_probs(log_probs)
    T, S_t, C_t = check_log_probs(target_log_probs, "target_log_probs")
    if (S_t, C_t) != (S, C):
        raise ValueError(f"target_log_probs must have shape [T, S, C] with the S = {S} hypotheses (the same dropout "
                         f"masks) and C = {C} classes of log_probs, got {tuple(target_log_probs.shape)}")
    if target_log_probs.device != log_probs.device:
        raise ValueError(f"target_log_probs must be on the same device as log_probs ({log_probs.device}), "
                         f"got {target_log_probs.device}")
    q = target_log_probs.double().log_softmax(-1).exp()  # [T, S, C]
    q_S_TC = q.permute(1, 0, 2).reshape(S, T * C)
    h_targets = _entropy(q.mean(1), -1).mean()  # mean_t H[y*_t]
    out = torch.empty(N, dtype=torch.float64, device=log_probs.device)
    for start, end in chunks(N, T * C * C):
        n = end - start
        p = log_probs[start:end].double().log_softmax(-1).exp()  # [n, S, C]
        joint = (p.transpose(1, 2).reshape(n * C, S) @ q_S_TC).div_(S).view(n, C, T, C)
        h_joint = _entropy(joint, (1, 3))  # [n, T]
        out[start:end] = _entropy(p.mean(1), -1) + h_targets - h_joint.mean(1)
    return out.clamp_min(0.0)  # I >= 0; rounding can give -1e-16
