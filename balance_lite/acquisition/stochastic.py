r"""Stochastic batch acquisition: sample a batch from any one-point score (Kirsch et al., TMLR 2023).

Chapters: *BALD and BatchBALD* (top-B versus sampling a batch) and
*Beyond the paper: newer batch methods, and how to compare them honestly*.

Kirsch, Farquhar, Atighehchian, Jesson, Branchaud-Charron and Gal, "Stochastic Batch Acquisition:
A Simple Baseline for Deep Active Learning" (TMLR 2023): instead of the B highest scores, draw B
distinct points *without replacement*, each next point with probability proportional to a weight
:math:`w_i` among the points not drawn yet (the Plackett-Luce model). Three weights, with a
coldness :math:`\beta > 0` (:math:`\beta = 1` in the paper; :math:`\beta \to \infty` recovers top-B):

=============  ================================  =========================================
 ``mode``       weight :math:`w_i`                log-weight
=============  ================================  =========================================
 ``power``      :math:`s_i^{\beta}`  (s >= 0)     :math:`\beta \log s_i`
 ``softmax``    :math:`e^{\beta s_i}`             :math:`\beta s_i`
 ``softrank``   :math:`r_i^{-\beta}`              :math:`-\beta \log r_i`
=============  ================================  =========================================

where :math:`r_i` is point i's own rank (1 for the highest score). The draw uses the
Gumbel-top-B trick: with i.i.d. standard Gumbel noise :math:`g_i`, the B largest keys
:math:`\log w_i + g_i`, in decreasing order, are distributed exactly as B sequential draws
without replacement with probabilities proportional to :math:`w_i` (Kool, van Hoof and Welling,
ICML 2019, "Stochastic beams and where to find them").

Applied to BALD it is PowerBALD, to BALanCe's Eq. 3 PowerBALanCe, to EPIG PowerEPIG
(:func:`~balance_lite.acquisition.select_power_scores`,
:func:`~balance_lite.acquisition.select_power_balance`,
:func:`~balance_lite.acquisition.select_power_epig`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._checks import check_batch_size, check_choice, check_generator, check_positive_real
from .selection import Selection, check_score_vector, rand_device

__all__ = ["NO_WEIGHT", "POWER_NEGATIVE_RTOL", "SAMPLING_MODES", "sampling_log_weights", "stochastic_batch"]

#: The sampling rules of :func:`stochastic_batch`.
SAMPLING_MODES = ("power", "softmax", "softrank")

#: Power sampling accepts scores down to ``-POWER_NEGATIVE_RTOL * max(1, max |s|)`` and reads them
#: as 0: rounding in a score that is >= 0 in exact arithmetic (a mutual information, Eq. 3) can
#: leave a tiny negative value. Anything more negative is an error.
POWER_NEGATIVE_RTOL = 1e-9

#: Why a stochastic batch fell back to chance: every point has weight 0.
NO_WEIGHT = "every point has weight 0 (all scores are 0 under power sampling): the batch is uniformly random"


def _check_scores(scores: Tensor) -> int:
    n = check_score_vector(scores)
    if not bool(torch.isfinite(scores).all()):
        raise ValueError("scores must be finite, got +-inf")
    return n


def _ranks(scores: Tensor, generator: torch.Generator | None) -> Tensor:
    """``[N]`` long: each point's own rank, 1 for the highest score; equal scores ranked in random order.

    The order ``order[j]`` (the point ranked j + 1) is inverted by a scatter, ``rank[order[j]] = j + 1``,
    which is argsort of argsort. Using ``order`` itself as the ranks, the inverse permutation, is the
    mistake this function avoids: it gives the weight of rank r to the point whose *index* is r - 1.
    """
    N = scores.shape[0]
    perm = torch.randperm(N, generator=generator, device=rand_device(generator)).to(scores.device)
    order = perm[torch.sort(scores[perm], descending=True, stable=True).indices]
    ranks = torch.empty(N, dtype=torch.long, device=scores.device)
    ranks[order] = torch.arange(1, N + 1, device=scores.device)
    return ranks


def sampling_log_weights(scores: Tensor, *, mode: str = "power", beta: float = 1.0,
                         generator: torch.Generator | None = None) -> Tensor:
    r"""The log-weights :math:`\log w_i` of :func:`stochastic_batch` (up to a constant).

    Args:
        scores: ``[N]`` one-point scores, higher is better; finite. For ``"power"`` they must be
            >= 0 (negatives within ``POWER_NEGATIVE_RTOL`` of rounding are read as 0; a score of
            0 has weight 0, log-weight ``-inf``).
        mode: ``"power"``, ``"softmax"`` or ``"softrank"`` (see the module docstring).
        beta: the coldness :math:`\beta > 0`.
        generator: orders equal scores at random for ``"softrank"`` (unused otherwise).

    Returns:
        ``[N]`` float64 log-weights on ``scores``' device.

    Raises:
        TypeError: ``scores`` is not a floating-point tensor, ``beta`` is not a number.
        ValueError: ``scores`` is not ``[N]`` with N >= 1, holds NaN or infinities, or (power)
            negative values; ``mode`` is unknown; ``beta`` is not a positive finite number.

    Example:
        >>> sampling_log_weights(torch.tensor([0.1, 0.9, 0.4]), mode="softrank").exp()
        tensor([0.3333, 1.0000, 0.5000], dtype=torch.float64)
    """
    _check_scores(scores)
    check_choice(mode, "mode", SAMPLING_MODES)
    b = check_positive_real(beta, "beta")
    check_generator(generator)
    s = scores.double()
    if mode == "softmax":
        return b * s
    if mode == "softrank":
        return -b * _ranks(s, generator).double().log()
    floor = -POWER_NEGATIVE_RTOL * max(1.0, float(s.abs().max()))
    if bool((s < floor).any()):
        raise ValueError(f"scores must be >= 0 for mode='power' (weights s**beta), got min {float(s.min()):.3g}")
    return b * s.clamp_min(0.0).log()  # log 0 = -inf: weight 0


def stochastic_batch(scores: Tensor, batch_size: int, *, mode: str = "power", beta: float = 1.0,
                     generator: torch.Generator | None = None) -> Selection:
    r"""Sample B distinct pool points with probabilities proportional to a weight of their score (Kirsch et al., 2023).

    Sequentially without replacement: each next point is point i with probability
    :math:`w_i / \sum_{j \text{ not drawn}} w_j`, with :math:`w_i = s_i^\beta` (``"power"``),
    :math:`e^{\beta s_i}` (``"softmax"``) or :math:`r_i^{-\beta}` (``"softrank"``, :math:`r_i` the
    rank of :math:`s_i`, 1 = best), drawn at once by the Gumbel-top-B trick on
    :func:`sampling_log_weights`. Points of weight 0 (score 0 under power sampling) come only after
    every point of positive weight, in uniformly random order (the limit of adding
    :math:`\epsilon \to 0` to every score); if every weight is 0 the batch is uniformly random and
    says so (``random_fallback``, ``NO_WEIGHT``).

    Args:
        scores: ``[N]`` one-point scores (e.g. :func:`bald_scores`), higher is better.
        batch_size: B, between 1 and N.
        mode: ``"power"`` (the paper's default), ``"softmax"`` or ``"softrank"``.
        beta: the coldness :math:`\beta > 0` (1 in the paper).
        generator: draws the Gumbel noise and orders ties; ``None`` uses torch's global generator.

    Returns:
        :class:`Selection` with the points in draw order, ``scores[i]`` the score of
        ``indices[i]``, and ``num_tied[i]`` 1 for a point drawn by its weight, or the number of
        weight-0 candidates left when the point was drawn uniformly among them.

    Raises:
        TypeError, ValueError: as :func:`sampling_log_weights`, or ``batch_size`` out of range.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> sel = stochastic_batch(torch.tensor([0.0, 0.5, 0.1, 0.9]), 2, generator=g)
        >>> len(sel), 0 in sel.indices
        (2, False)
        >>> stochastic_batch(torch.tensor([0.1, 0.9, 0.4]), 2, beta=1e6).indices  # cold: top-B
        [1, 2]
    """
    N = _check_scores(scores)
    B = check_batch_size(batch_size, N)
    log_w = sampling_log_weights(scores, mode=mode, beta=beta, generator=generator)
    device = rand_device(generator)
    u = torch.rand(N, generator=generator, device=device, dtype=torch.float64)
    gumbel = -(-u.clamp_min(torch.finfo(torch.float64).tiny).log()).log()  # u = 0 would give -inf
    keys = log_w + gumbel.to(scores.device)
    # weight-0 points all have key -inf: a random permutation first puts them in uniform random order
    perm = torch.randperm(N, generator=generator, device=device).to(scores.device)
    chosen = perm[torch.sort(keys[perm], descending=True, stable=True).indices[:B]]
    zero = torch.isneginf(log_w)
    num_zero = int(zero.sum())
    num_tied, drawn_zero = [], 0
    for i in chosen.tolist():
        if bool(zero[i]):
            num_tied.append(num_zero - drawn_zero)
            drawn_zero += 1
        else:
            num_tied.append(1)
    all_zero = num_zero == N
    return Selection(indices=[int(i) for i in chosen], scores=scores[chosen].double().tolist(), num_tied=num_tied,
                     random_fallback=all_zero, fallback_reason=NO_WEIGHT if all_zero else None)

