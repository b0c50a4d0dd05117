r"""The BALanCe acquisition function of one pool point (Eq. 2 of the paper, estimated from K sampled pairs as in its Eq. 3).

Chapter: *BALanCe (Eq. 2-3, Alg. 1)*.
"""

from __future__ import annotations

from torch import Tensor

from ._checks import check_edges, check_pair
from ._chunks import map_points

__all__ = ["balance_scores", "likelihood_ratios"]


def likelihood_ratios(log_probs: Tensor) -> Tensor:
    r"""Likelihood ratios :math:`\lambda_{\omega,c} = p(c|x,\omega) / \max_{c'} p(c'|x,\omega)`, in [0, 1].

    The one implementation of the ratio for the whole library: the finite hypothesis spaces of
    :mod:`balance_lite.hypotheses` (ECED, Eq. 1) call it on the log of their likelihoods. The
    most likely label of each hypothesis gets ratio 1. Observing label c keeps an edge
    :math:`(\omega, \omega')` with weight :math:`\lambda_{\omega,c}\,\lambda_{\omega',c}` (the soft, noisy
    version of EC2 edge cutting, Chen et al., 2017).

    Args:
        log_probs: ``[..., C]`` log-probabilities (``-inf`` for probability 0).

    Returns:
        ``[..., C]`` ratios in the dtype of ``log_probs``; 1 at each hypothesis' most likely
        label, and :math:`\mathbb{1}[h(x) = y]` for noise-free hypotheses.

    Example:
        >>> likelihood_ratios(torch.tensor([0.5, 0.25, 0.25]).log())
        tensor([1.0000, 0.5000, 0.5000])
    """
    return (log_probs - log_probs.amax(-1, keepdim=True)).exp()


def balance_scores(log_probs_a: Tensor, log_probs_b: Tensor, edges: Tensor) -> Tensor:
    r"""BALanCe score of every pool point (Eq. 3 of the paper).

    With K hypothesis pairs :math:`(\omega_k, \omega'_k)` drawn from the posterior, the expected
    weight of the edges that observing the label of x cuts:

    .. math::

        \Delta(x) = \sum_{y=1}^{C} p(y|x)\, \frac{1}{K} \sum_{k=1}^{K}
            \text{edge}_k \big(1 - \lambda_{\omega_k,y}\, \lambda_{\omega'_k,y}\big),

    where :math:`\text{edge}_k = \mathbb{1}[d_H(\omega_k, \omega'_k) > \tau]` (:func:`hamming_edges`),
    :math:`\lambda_{\omega,y} = p(y|x,\omega) / \max_c p(c|x,\omega)` (:func:`likelihood_ratios`) and
    :math:`p(y|x) = \frac{1}{2K}\sum_k \big(p(y|x,\omega_k) + p(y|x,\omega'_k)\big)` averages all 2K
    hypotheses. This is the Monte-Carlo estimate of the paper's
    :math:`\mathbb{E}_{\omega,\omega'}\mathbb{E}_{y}[\mathbb{1}[d_H(\omega,\omega') > \tau](1 - \lambda_{\omega,y}\lambda_{\omega',y})]`,
    the form the authors' code computes. Each pair contributes at most 1/K, so scores lie in
    ``[0, mean(edges)]``; with no edge every score is 0.

    Args:
        log_probs_a: ``[N, K, C]`` log-probabilities, first hypothesis of each pair.
        log_probs_b: ``[N, K, C]`` log-probabilities, second hypothesis of each pair.
        edges: ``[K]`` bool, True where pair k is cut (see :func:`hamming_edges`).

    Returns:
        ``[N]`` float64 scores on the tensors' device; higher is more informative.

    Raises:
        TypeError: ``edges`` is not a bool tensor, or the log-probabilities are not floating point.
        ValueError: shapes disagree, N or K is 0, C < 2, NaN or ``+inf``, or a row of
            ``log_probs_a`` or ``log_probs_b`` does not normalise.

    Example:
        >>> lp = torch.randn(4, 3, 2).log_softmax(-1)
        >>> balance_scores(lp, lp.flip(1), torch.ones(3, dtype=torch.bool)).shape
        torch.Size([4])
    """
    N, K, C = check_pair(log_probs_a, log_probs_b)
    e = check_edges(edges, K, log_probs_a.device).double()  # [K]

    def one_chunk(lp_a: Tensor, lp_b: Tensor) -> Tensor:
        lp_a, lp_b = lp_a.double(), lp_b.double()
        p_y = (lp_a.exp().sum(1) + lp_b.exp().sum(1)) / (2 * K)  # [n, C], p(y|x) over all 2K hypotheses
        keep_n_K_C = likelihood_ratios(lp_a) * likelihood_ratios(lp_b)  # lambda_k * lambda'_k
        cut_n_C = ((1.0 - keep_n_K_C) * e[None, :, None]).sum(1) / K  # (1/K) sum_k edge_k (1 - ...)
        return (p_y * cut_n_C).sum(1)

    return map_points(one_chunk, log_probs_a, log_probs_b)
