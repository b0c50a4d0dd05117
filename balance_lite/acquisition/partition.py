r"""BALanCe-Partition: equivalence classes built explicitly by farthest-first traversal (App. B.3).

Chapter: *BALanCe (Eq. 2-3, Alg. 1)* (classes from Hamming distances; this module makes the classes explicit).

Instead of asking, pair by pair, whether two hypotheses are more than tau apart, we partition
all 2K hypotheses into equivalence classes of radius :math:`\gamma = \tau` (App. B.3: "each data
point has at most :math:`\tau` Hamming distance to the corresponding cluster center") with Gonzalez's farthest-first
traversal on their Hamming distances on :math:`\bar D_{pool}`
(:func:`balance_lite.clustering.farthest_first_classes`). Every two hypotheses in different
classes are joined by an edge, and a label discounts each edge as in Eq. 2-3.

Our reading of App. B.3, stated exactly: with the 2K hypotheses :math:`\omega_1, \dots, \omega_{2K}`
(both sets) and their classes :math:`r(\omega_h)`,

.. math::

    \Delta_{\mathrm{P}}(x) = \sum_{y} p(y|x)\, \frac{1}{(2K)^2} \sum_{h=1}^{2K}\sum_{h'=1}^{2K}
        \mathbb{1}[r(\omega_h) \ne r(\omega_{h'})]\, \big(1 - \lambda_{\omega_h,y}\, \lambda_{\omega_{h'},y}\big),

the estimate of :math:`\mathbb{E}_{\omega,\omega'}\mathbb{E}_y[\mathbb{1}[r(\omega) \ne r(\omega')](1 - \lambda_{\omega,y}\lambda_{\omega',y})]`
from all ordered pairs of the 2K samples, where Eq. 3 uses only the K drawn pairs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..clustering import farthest_first_classes, pairwise_hamming
from ._checks import check_pair, check_preds, check_unit_interval
from ._chunks import map_points
from .balance import likelihood_ratios

__all__ = ["partition_classes", "partition_scores"]


def partition_classes(preds_a: Tensor, preds_b: Tensor, tau: float) -> Tensor:
    r"""Equivalence classes of all 2K hypotheses by farthest-first traversal with radius tau.

    The hypotheses are ordered as in the pair tensors: first the K of set a, then the K of
    set b. The traversal starts from hypothesis 0; every class has radius at most tau around
    its center in normalised Hamming distance on :math:`\bar D_{pool}`.

    Args:
        preds_a: ``[K, U]`` integer labels of the first hypothesis of each pair on
            :math:`\bar D_{pool}`.
        preds_b: ``[K, U]`` integer labels of the second hypothesis of each pair.
        tau: used as the class radius :math:`\gamma = \tau` (App. B.3), in [0, 1] (see :func:`annealed_tau`).

    Returns:
        ``[2K]`` long class labels ``0..num_classes-1`` on the inputs' device.

    Raises:
        TypeError, ValueError: as :func:`hamming_edges`.

    Example:
        >>> a = torch.tensor([[0, 0, 0, 0], [1, 1, 1, 1]])
        >>> b = torch.tensor([[0, 0, 0, 1], [1, 1, 1, 1]])
        >>> partition_classes(a, b, tau=0.25)
        tensor([0, 1, 0, 1])
    """
    tau = check_unit_interval(tau, "tau")
    check_preds(preds_a, preds_b)
    labels, _ = farthest_first_classes(pairwise_hamming(torch.cat([preds_a, preds_b])), radius=tau)
    return labels


def partition_scores(log_probs_a: Tensor, log_probs_b: Tensor, classes: Tensor) -> Tensor:
    r"""BALanCe-Partition score of every pool point (App. B.3 of the paper).

    :math:`\Delta_{\mathrm{P}}(x)` as in the module docstring, computed without the
    :math:`(2K)^2` double sum: with :math:`\Lambda(y) = \sum_h \lambda_{\omega_h,y}`,
    :math:`\Lambda_k(y)` the same sum over class k and :math:`n_k` the size of class k,

    .. math::

        \sum_{h,h'} \mathbb{1}[\kappa_h \ne \kappa_{h'}](1 - \lambda_h \lambda_{h'})
            = \sum_k n_k (2K - n_k) - \sum_k \Lambda_k(y) \big(\Lambda(y) - \Lambda_k(y)\big).

    Scores lie in ``[0, 1 - sum_k n_k^2 / (2K)^2]``; with a single class every score is 0.

    Args:
        log_probs_a: ``[N, K, C]`` log-probabilities, first hypothesis of each pair.
        log_probs_b: ``[N, K, C]`` log-probabilities, second hypothesis of each pair.
        classes: ``[2K]`` integer class of each hypothesis, set a first
            (see :func:`partition_classes`).

    Returns:
        ``[N]`` float64 scores on the tensors' device.

    Raises:
        TypeError: ``classes`` is not an integer tensor.
        ValueError: malformed log-probabilities (see :func:`balance_scores`), or ``classes``
            is not ``[2K]`` or holds negative labels.

    Example:
        >>> lp_a = torch.tensor([[[1.0, 0.0]]]).log()
        >>> lp_b = torch.tensor([[[0.0, 1.0]]]).log()
        >>> partition_scores(lp_a, lp_b, torch.tensor([0, 1]))
        tensor([0.5000], dtype=torch.float64)
    """
    N, K, C = check_pair(log_probs_a, log_probs_b)
    if not isinstance(classes, Tensor) or classes.is_floating_point() or classes.dtype == torch.bool:
        got = classes.dtype if isinstance(classes, Tensor) else type(classes).__name__
        raise TypeError(f"classes must be an integer tensor of shape [2K] (see partition_classes), got {got}")
    if tuple(classes.shape) != (2 * K,):
        raise ValueError(f"classes must have shape [2K] = [{2 * K}] (set a, then set b), got {tuple(classes.shape)}")
    if int(classes.min()) < 0:
        raise ValueError(f"classes must hold non-negative class labels, got minimum {int(classes.min())}")
    H = 2 * K
    one_hot = torch.nn.functional.one_hot(classes.to(log_probs_a.device).long()).double()  # [2K, n_classes]
    sizes = one_hot.sum(0)
    cross_pairs = float((sizes * (H - sizes)).sum())

    def one_chunk(lp_a: Tensor, lp_b: Tensor) -> Tensor:
        lp = torch.cat([lp_a, lp_b], 1).double()  # [n, 2K, C]
        lam_by_class = likelihood_ratios(lp).transpose(1, 2) @ one_hot  # [n, C, n_classes]: Lambda_k(y)
        lam_total = lam_by_class.sum(-1, keepdim=True)  # [n, C, 1]: Lambda(y)
        # sum_k Lambda_k (Lambda - Lambda_k): exactly 0 with a single class
        cross_keep = (lam_by_class * (lam_total - lam_by_class)).sum(-1)  # [n, C]
        p_y = lp.exp().mean(1)  # [n, C]
        return (p_y * (cross_pairs - cross_keep)).sum(1)

    return map_points(one_chunk, log_probs_a, log_probs_b).clamp_min(0.0) / H**2
