r"""Which hypothesis pairs are far apart: Hamming distances, edges and the annealed threshold tau.

Chapter: *MC dropout as hypotheses*.

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

import math
import numbers

import torch  # noqa: F401  (the doctest namespace)
from torch import Tensor

__all__ = ["annealed_tau", "hamming_distances", "hamming_edges"]


def _check_preds(preds_a: Tensor, preds_b: Tensor) -> None:
    for name, p in (("preds_a", preds_a), ("preds_b", preds_b)):
        if not isinstance(p, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape [K, U], got {type(p).__name__}")
        if p.is_floating_point() or p.is_complex():
            raise TypeError(f"{name} must hold integer class labels (e.g. argmax of the predictions), got {p.dtype}")
        if p.dim() != 2:
            raise ValueError(f"{name} must have shape [K, U], got {tuple(p.shape)}")
    K, U = preds_a.shape
    if K == 0:
        raise ValueError(f"preds_a must hold at least one hypothesis (K >= 1), got shape {tuple(preds_a.shape)}")
    if U == 0:
        raise ValueError(f"preds_a must hold predictions on at least one point (U >= 1), got shape {(K, U)}")
    if tuple(preds_b.shape) != (K, U):
        raise ValueError(f"preds_b must have shape [K, U] matching preds_a {(K, U)}, got {tuple(preds_b.shape)}")
    if preds_b.device != preds_a.device:
        raise ValueError(f"preds_b must be on the same device as preds_a ({preds_a.device}), got {preds_b.device}")


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
    _check_preds(preds_a, preds_b)
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
    tau = _check_unit_interval(tau, "tau")
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
    val_error = _check_unit_interval(val_error, "val_error")
    divisor = _check_real(divisor, "divisor")
    if not (divisor > 0 and math.isfinite(divisor)):
        raise ValueError(f"divisor must be a positive finite number (2, 4 or 8 in the paper), got {divisor}")
    return val_error / divisor


def _check_real(value: float, name: str) -> float:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise TypeError(f"{name} must be a real number, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def _check_unit_interval(value: float, name: str) -> float:
    v = _check_real(value, name)
    if not 0.0 <= v <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be in [0, 1], got {v}")
    return v
