r"""One-point uncertainty scores from MC-dropout predictions: the baselines of the paper.

Chapter: *BALD and BatchBALD* (the baselines of Sec. 4 of the paper).

Every function takes log-probabilities ``[N, S, C]`` (S hypotheses, the same S dropout masks
for every pool point), computes in float64 and returns ``[N]`` float64 scores on the
input's device; higher means more worth labelling. Select a batch with :func:`top_b`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._checks import check_log_probs
from ._chunks import map_points

__all__ = [
    "entropy_nats",
    "mean_std_scores",
    "predictive_entropy_scores",
    "predictive_log_probs",
    "variation_ratio_scores",
]


def entropy_nats(log_probs: Tensor, dim: int = -1) -> Tensor:
    r"""Shannon entropy :math:`-\sum_c p_c \log p_c` in nats along ``dim``, with :math:`0 \log 0 = 0`.

    Args:
        log_probs: log-probabilities, any shape; ``-inf`` means probability 0.
        dim: the class axis.

    Returns:
        The entropies, ``log_probs`` with ``dim`` removed.

    Example:
        >>> entropy_nats(torch.tensor([0.5, 0.5]).log())
        tensor(0.6931)
    """
    p = log_probs.exp()
    return torch.where(p > 0, -p * log_probs, torch.zeros_like(p)).sum(dim) + 0.0  # + 0.0 turns -0.0 into 0.0


def predictive_log_probs(log_probs: Tensor) -> Tensor:
    r"""Log of the predictive distribution :math:`p(y|x) = \frac{1}{S}\sum_s p(y|x, \omega_s)` (the MC average).

    The one implementation of the predictive mean: the scores below and the test-set metrics
    (:mod:`balance_lite.metrics`) use it.

    Args:
        log_probs: ``[N, S, C]`` log-probabilities.

    Returns:
        ``[N, C]`` log-probabilities, in ``log_probs``' dtype and on its device.

    Raises:
        ValueError: ``log_probs`` is not 3-d with S >= 1.

    Example:
        >>> predictive_log_probs(torch.tensor([[[1.0, 0.0], [0.5, 0.5]]]).log()).exp()
        tensor([[0.7500, 0.2500]])
    """
    if log_probs.dim() != 3 or log_probs.shape[1] == 0:
        raise ValueError(f"log_probs must have shape [N, S, C] with S >= 1, got {tuple(log_probs.shape)}")
    return torch.logsumexp(log_probs, dim=1) - math.log(log_probs.shape[1])


def predictive_entropy_scores(log_probs: Tensor) -> Tensor:
    r"""Entropy of the predictive distribution, :math:`H[y \mid x] = -\sum_c \bar p_c \log \bar p_c`, in nats.

    :math:`\bar p_c = \frac{1}{S}\sum_s p(c|x, \omega_s)` is the MC-dropout predictive distribution
    ("Max Entropy" in Gal et al., 2017).

    Args:
        log_probs: ``[N, S, C]`` log-probabilities.

    Returns:
        ``[N]`` float64 entropies in ``[0, log C]``.

    Raises:
        TypeError, ValueError: ``log_probs`` is malformed (see :func:`bald_scores`).

    Example:
        >>> lp = torch.tensor([[[0.5, 0.5]], [[1.0, 0.0]]]).log()
        >>> predictive_entropy_scores(lp)
        tensor([0.6931, 0.0000], dtype=torch.float64)
    """
    check_log_probs(log_probs)
    return map_points(lambda lp: entropy_nats(predictive_log_probs(lp.double())), log_probs)


def mean_std_scores(log_probs: Tensor) -> Tensor:
    r"""Mean standard deviation of the class probabilities over hypotheses ("Mean STD", Sec. 4.1 of the paper).

    :math:`\mathrm{MeanSTD}(x) = \frac{1}{C}\sum_c \sqrt{\mathbb{E}_s[p(c|x,\omega_s)^2] - \mathbb{E}_s[p(c|x,\omega_s)]^2}`
    over the S sampled hypotheses :math:`\omega_s`, with population (1/S) moments: the standard
    deviation of the uniform mixture of the S hypotheses, bounded by 1/2. The authors' released code
    (``Misc/BALanCe_MNIST/torch_utils.py`` l.116 at commit 92757e9 of zhangrenyuuchicago/BALanCe,
    taken from BatchBALD's code) uses ``torch.std``'s default, the unbiased 1/(S-1) estimate. With the
    same S for every point the two differ by the constant factor sqrt(S / (S - 1)), so they rank the
    pool identically. The paper cites Kendall et al. (2015) for the method.

    Args:
        log_probs: ``[N, S, C]`` log-probabilities.

    Returns:
        ``[N]`` float64 scores in ``[0, 1/2]``; 0 when every hypothesis predicts alike.

    Raises:
        TypeError, ValueError: ``log_probs`` is malformed (see :func:`bald_scores`).

    Example:
        >>> lp = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]).log()
        >>> mean_std_scores(lp)
        tensor([0.5000], dtype=torch.float64)
    """
    check_log_probs(log_probs)

    def one_chunk(lp: Tensor) -> Tensor:
        p = lp.double().exp()  # [n, S, C]
        var = (p.square().mean(1) - p.mean(1).square()).clamp_min(0.0)  # rounding can dip below 0
        return var.sqrt().mean(1)

    return map_points(one_chunk, log_probs)


def variation_ratio_scores(log_probs: Tensor) -> Tensor:
    r"""Variation ratio :math:`1 - \max_c \bar p_c` of the predictive distribution (Freeman, 1965; Gal et al., 2017).

    We use the predictive distribution :math:`\bar p` (as the BatchBALD and BALanCe code do),
    not the fraction of hypotheses whose argmax differs from the mode.

    Args:
        log_probs: ``[N, S, C]`` log-probabilities.

    Returns:
        ``[N]`` float64 scores in ``[0, 1 - 1/C]``.

    Raises:
        TypeError, ValueError: ``log_probs`` is malformed (see :func:`bald_scores`).

    Example:
        >>> lp = torch.tensor([[[0.9, 0.1], [0.5, 0.5]]]).log()
        >>> variation_ratio_scores(lp)
        tensor([0.3000], dtype=torch.float64)
    """
    check_log_probs(log_probs)
    return map_points(lambda lp: 1.0 - predictive_log_probs(lp.double()).exp().amax(-1), log_probs)
