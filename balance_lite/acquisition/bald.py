r"""BALD: the mutual information between a label and the model (Houlsby et al., 2011).

Chapter: *BALD and BatchBALD*.
"""

from __future__ import annotations

from torch import Tensor

from ._checks import check_log_probs
from ._chunks import map_points
from .scores import entropy_nats, predictive_log_probs

__all__ = ["bald_scores"]


def bald_scores(log_probs: Tensor) -> Tensor:
    r"""BALD score of every pool point, in nats.

    :math:`I(y; \omega \mid x) = H\big[\frac{1}{S}\sum_s p(y|x,\omega_s)\big] - \frac{1}{S}\sum_s H[p(y|x,\omega_s)]`:
    the entropy of the predictive distribution minus the mean entropy of each hypothesis'
    prediction. It is large where the hypotheses are each confident but disagree.

    Args:
        log_probs: ``[N, S, C]`` log-probabilities (``log_softmax`` outputs) of S MC-dropout
            hypotheses; ``-inf`` means probability 0.

    Returns:
        ``[N]`` float64 scores in ``[0, log C]`` on ``log_probs``' device.

    Raises:
        TypeError: ``log_probs`` is not a floating-point tensor.
        ValueError: ``log_probs`` is not ``[N, S, C]`` with N, S >= 1 and C >= 2, holds NaN
            or ``+inf``, or a row does not normalise.

    Example:
        >>> agree = torch.tensor([[0.5, 0.5], [0.5, 0.5]]).log()
        >>> disagree = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).log()
        >>> bald_scores(torch.stack([agree, disagree]))
        tensor([0.0000, 0.6931], dtype=torch.float64)
    """
    check_log_probs(log_probs)

    def one_chunk(lp: Tensor) -> Tensor:
        lp = lp.double()
        return entropy_nats(predictive_log_probs(lp)) - entropy_nats(lp).mean(1)

    return map_points(one_chunk, log_probs).clamp_min(0.0)  # I >= 0; rounding can give -1e-17
