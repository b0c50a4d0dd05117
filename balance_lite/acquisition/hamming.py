r"""Which hypothesis pairs are far apart: Hamming distances, edges and the annealed threshold tau.

Chapter: *Hypotheses from MC dropout*.

BALanCe (Sec. 3 of the paper) draws K pairs of hypotheses :math:`(\omega_k, \omega'_k)` (two independent
sets of K dropout masks) and keeps an *edge* between the two hypotheses of a pair when they
disagree on more than a fraction tau of the held-out unlabeled set :math:`\bar D_{pool}`:

.. math::

    d_H(\omega, \omega') = \frac{1}{U} \sum_{u=1}^{U} \mathbb{1}[\hat y_\omega(x_u) \ne \hat y_{\omega'}(x_u)],
    \qquad \text{edge}_k = \mathbb{1}[d_H(\omega_k, \omega'_k) > \tau].

Tau is annealed as the model improves: :math:`\tau = \epsilon / \text{divisor}` with
:math:`\epsilon` the validation error of the trained network with dropout off (divisor 2, 4
or 8 in the paper).
"""

from __future__ import annotations

from torch import Tensor

from ._checks import check_positive_real, check_preds, check_unit_interval

__all__ = ["annealed_tau", "hamming_distances", "hamming_edges", "resolve_tau"]


def hamming_distances(preds_a: Tensor, preds_b: Tensor) -> Tensor:
    r"""Normalised Hamming distance :math:`d_H(\omega_k, \omega'_k)` of each hypothesis pair.

    Args:
        preds_a: ``[K, U]`` integer labels that the first hypothesis of each pair predicts on
            the U points of :math:`\bar D_{pool}`.
        preds_b: ``[K, U]`` the same for the second hypothesis of each pair.

    Returns:
        ``[K]`` float64 distances in [0, 1] on the inputs' device.

    Raises:
        TypeError: the predictions are not integer tensors.
        ValueError: the shapes are not ``[K, U]`` with K, U >= 1, or differ.

    Example:
        >>> hamming_distances(torch.tensor([[0, 1, 1, 0]]), torch.tensor([[0, 0, 1, 1]]))
        tensor([0.5000], dtype=torch.float64)
    """
    check_preds(preds_a, preds_b)
    return (preds_a != preds_b).double().mean(1)


def hamming_edges(preds_a: Tensor, preds_b: Tensor, tau: float) -> Tensor:
    r"""Which hypothesis pairs are cut: :math:`\text{edge}_k = d_H(\omega_k, \omega'_k) > \tau`.

    The comparison is strict, as in the paper; note that the authors' released code used
    ``>=``, which keeps the pairs at distance exactly tau (for instance every pair when
    tau = 0, even identical ones). Pairs without an edge are "tau-close": they fall in the
    same equivalence class and BALanCe does not try to tell them apart.

    Args:
        preds_a: ``[K, U]`` integer labels of the first hypothesis of each pair on
            :math:`\bar D_{pool}`.
        preds_b: ``[K, U]`` integer labels of the second hypothesis of each pair.
        tau: the threshold, in [0, 1] (see :func:`annealed_tau`).

    Returns:
        ``[K]`` bool tensor on the inputs' device.

    Raises:
        TypeError: the predictions are not integer tensors or ``tau`` is not a number.
        ValueError: shapes as in :func:`hamming_distances`, or ``tau`` is not in [0, 1].

    Example:
        >>> a = torch.tensor([[0, 1, 1, 0], [2, 2, 2, 2]])
        >>> b = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 1]])
        >>> hamming_edges(a, b, tau=0.25)
        tensor([ True, False])
    """
    tau = check_unit_interval(tau, "tau")
    return hamming_distances(preds_a, preds_b) > tau


def annealed_tau(val_error: float, divisor: float) -> float:
    r"""The annealed threshold :math:`\tau = \epsilon / \text{divisor}` of the paper.

    As the network improves, its validation error :math:`\epsilon` falls, tau falls with it,
    and BALanCe asks to separate ever closer hypotheses.

    Args:
        val_error: :math:`\epsilon`, the validation error of the trained network with dropout
            off, in [0, 1].
        divisor: a positive number (2, 4 or 8 in the paper).

    Returns:
        tau as a float.

    Raises:
        TypeError: an argument is not a real number.
        ValueError: ``val_error`` is not in [0, 1] or ``divisor`` is not a positive finite number.

    Example:
        >>> annealed_tau(0.2, 4)
        0.05
    """
    val_error = check_unit_interval(val_error, "val_error")
    divisor = check_positive_real(divisor, "divisor", hint=" (2, 4 or 8 in the paper)")
    return val_error / divisor


def resolve_tau(tau: float | str, divisor: float, val_error: float) -> float:
    r"""The Hamming threshold of one acquisition: ``tau`` itself if a number, else annealed.

    Args:
        tau: a fixed threshold in [0, 1], or ``"anneal"`` for :func:`annealed_tau`.
        divisor: the annealing divisor (2, 4 or 8 in the paper).
        val_error: :math:`\epsilon`, the dropout-off validation error of the trained network.

    Returns:
        tau as a float.

    Raises:
        TypeError: a fixed ``tau`` or ``divisor`` is not a real number.
        ValueError: ``tau`` is neither ``"anneal"`` nor in [0, 1], or ``divisor`` is not positive.

    Example:
        >>> resolve_tau("anneal", 4, 0.2), resolve_tau(0.1, 4, 0.2)
        (0.05, 0.1)
    """
    divisor = check_positive_real(divisor, "divisor", hint=" (2, 4 or 8 in the paper)")
    if isinstance(tau, str):
        if tau != "anneal":
            raise ValueError(f"tau must be 'anneal' or a number in [0, 1], got {tau!r}")
        return annealed_tau(val_error, divisor)
    return check_unit_interval(tau, "tau")

