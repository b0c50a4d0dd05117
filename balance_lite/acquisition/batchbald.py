r"""BatchBALD: greedy selection by the joint mutual information of a batch (Kirsch et al., 2019).

Chapter: *BALD and BatchBALD*.

.. math::

    I(y_{1:b}; \omega) = H(y_{1:b}) - \sum_{i=1}^{b} \frac{1}{S}\sum_{s=1}^{S} H\big(y_i \mid x_i, \omega_s\big),
    \qquad p(y_{1:b}) = \frac{1}{S}\sum_{s=1}^{S} \prod_{i=1}^{b} p(y_i|x_i,\omega_s).

The joint entropy is computed exactly, over all :math:`C^{b-1}` configurations of the chosen
points, while that number is at most M (``num_configurations``); after that, from M configurations
drawn from the joint mixture (a hypothesis, then its labels), as Kirsch et al. do, with the
candidate's own label summed exactly:

.. math::

    H(y_{1:b}) \approx \frac{1}{M}\sum_{m=1}^{M}\Big(-\log p(y^m_{1:b-1})
        + H\big(y_b \mid y^m_{1:b-1}\big)\Big),
    \qquad p(y_b | y^m_{1:b-1}) = \sum_s p(\omega_s | y^m_{1:b-1})\, p(y_b|x_b,\omega_s).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._checks import (
    check_batch_size,
    check_generator,
    check_indices,
    check_log_probs,
    check_positive_int,
    compute_dtype,
)
from ._chunks import chunks, map_points
from ._sampling import draw_labels, mixture_hypotheses
from .scores import entropy_nats
from .selection import Selection, pick_best, tie_rtol

__all__ = ["MAX_EXACT_JOINT_ELEMENTS", "batchbald", "joint_mutual_information"]

#: :func:`joint_mutual_information` refuses a batch when ``S * C**b`` exceeds this.
MAX_EXACT_JOINT_ELEMENTS = 2**26

def _neg_xlogx_sum(p: Tensor) -> Tensor:
    """``-sum p log p`` over the last axis, with 0 log 0 = 0."""
    return -torch.special.xlogy(p, p).sum(-1)


class _Pool:
    """``[N*C, S]`` probabilities (rows (n, c)) in the compute dtype and the conditional entropies."""

    def __init__(self, log_probs: Tensor):
        N, S, C = log_probs.shape
        self.N, self.S, self.C = N, S, C
        self.lp = log_probs
        self.dtype = compute_dtype(log_probs)
        self.device = log_probs.device
        self.probs_NC_S = torch.empty(N * C, S, dtype=self.dtype, device=self.device)
        for s, e in chunks(N, S * C):
            self.probs_NC_S[s * C : e * C].view(e - s, C, S).copy_(log_probs[s:e].transpose(1, 2)).exp_()
        # [N] float64: (1/S) sum_s H(y|x, w_s)
        self.cond = map_points(lambda lp: entropy_nats(lp.double()).mean(1), log_probs)

    def point64(self, x: int) -> tuple[Tensor, Tensor]:
        lp = self.lp[x].double()  # [S, C]
        return lp.exp().T, lp.T  # [C, S] each

    def entropies(self, right_S_Y: Tensor, weight: float) -> Tensor:
        """``[N]``: ``weight * sum_{c,y} -q log q`` with ``q = P_n right`` for every candidate n."""
        C, Y = self.C, right_S_Y.shape[1]
        out = torch.empty(self.N, dtype=self.dtype, device=self.device)
        for s, e in chunks(self.N, C * Y):
            q = self.probs_NC_S[s * C : e * C] @ right_S_Y  # [n*C, Y]
            out[s:e] = _neg_xlogx_sum(q.view(e - s, -1)) * weight
        return out


class _JointState:
    """The chosen points: exact configuration likelihoods while there are at most M of them."""

    def __init__(self, pool: _Pool, M: int, generator: torch.Generator | None):
        self.pool, self.M, self.generator = pool, M, generator
        self.lik_S_Y = torch.ones(pool.S, 1, dtype=torch.float64, device=pool.device)  # exact mode
        self.loglik_M_S: Tensor | None = None  # sampled mode
        self.chosen: list[int] = []

    @property
    def exact(self) -> bool:
        return self.loglik_M_S is None

    def candidate_entropies(self) -> Tensor:
        """``[N]`` joint entropy of the chosen points with each candidate, up to a shared constant."""
        p = self.pool
        if self.exact:
            # p(y, c) = (1/S) sum_s lik[s, y] p_s(c)
            return p.entropies((self.lik_S_Y / p.S).to(p.dtype), 1.0)
        # H(c | y^m) averaged over configurations; the shared -log p(y^m) term is left out
        return p.entropies(self._posterior().T.to(p.dtype), 1.0 / self.M)

    def _posterior(self) -> Tensor:
        return torch.softmax(self.loglik_M_S, dim=1)  # [M, S]: p(w_s | y^m)

    def joint_entropy_with(self, x: int) -> float:
        """Float64 joint entropy of the chosen points and x (estimated in sampled mode)."""
        probs_C_S, _ = self.pool.point64(x)
        if self.exact:
            joint = (self.lik_S_Y.T @ probs_C_S.T) / self.pool.S  # [Y, C]
            return float(_neg_xlogx_sum(joint.flatten()))
        log_p_y = torch.logsumexp(self.loglik_M_S, dim=1) - math.log(self.pool.S)  # [M]
        cond = self._posterior() @ probs_C_S.T  # [M, C]
        return float(-log_p_y.mean() + _neg_xlogx_sum(cond).mean())

    def add(self, x: int) -> None:
        self.chosen.append(x)
        probs_C_S, logp_C_S = self.pool.point64(x)
        if self.exact:
            Y = self.lik_S_Y.shape[1] * self.pool.C
            if Y <= self.M:
                self.lik_S_Y = (self.lik_S_Y[:, :, None] * probs_C_S.T[:, None, :]).flatten(1)
                return
            # too many configurations: draw M of them for every chosen point, then extend
            self.lik_S_Y = None
            self.hyp = mixture_hypotheses(self.M, self.pool.S, self.generator, self.pool.device)
            self.loglik_M_S = torch.zeros(self.M, self.pool.S, dtype=torch.float64, device=self.pool.device)
            for i in self.chosen:
                p_i, lp_i = self.pool.point64(i)
                self.loglik_M_S += lp_i[draw_labels(p_i, self.hyp, self.generator)]
            return
        self.loglik_M_S += logp_C_S[draw_labels(probs_C_S, self.hyp, self.generator)]


def batchbald(
    log_probs: Tensor,
    batch_size: int,
    *,
    num_configurations: int = 10_000,
    generator: torch.Generator | None = None,
) -> Selection:
    r"""Select a batch by greedily maximising the joint mutual information (BatchBALD).

    Each greedy step adds the pool point x maximising
    :math:`I(y_{1:b-1}, y_x; \omega) = H(y_{1:b-1}, y_x) - \sum_{i} \bar H_i - \bar H_x`, with
    :math:`\bar H_x = \frac{1}{S}\sum_s H(y|x,\omega_s)`. The joint entropy is exact while the
    chosen points have at most M label configurations (:math:`C^{b-1} \le M`, the same rule as
    ``batchbald_redux``) and estimated from M configurations drawn from the joint mixture
    after that; the configurations are drawn once when the exact route stops and extended
    as the batch grows. At b = 1 the value is :func:`bald_scores`.

    Args:
        log_probs: ``[N, S, C]`` log-probabilities of S hypotheses (MC-dropout masks shared
            by the whole pool).
        batch_size: B, between 1 and N.
        num_configurations: M, the largest number of configurations enumerated exactly, and the
            number drawn afterwards. Kirsch et al. use M = 10,000 (our default), which keeps
            the Monte-Carlo error of the joint entropy around 1e-2 nats.
        generator: draws the configurations and breaks ties; ``None`` uses torch's global one.

    Returns:
        :class:`Selection` with the pool indices in pick order and the joint mutual
        information (nats, float64) of the batch after each pick.

    Raises:
        TypeError: ``batch_size`` or ``num_configurations`` is not an int, ``generator`` is not a
            ``torch.Generator``, or ``log_probs`` is not floating point.
        ValueError: malformed ``log_probs`` (see :func:`bald_scores`), ``batch_size`` not in
            ``1..N`` or ``num_configurations < 1``.

    Example:
        >>> lp = torch.randn(8, 5, 3).log_softmax(-1)
        >>> sel = batchbald(lp, 3)
        >>> exact = joint_mutual_information(lp, sel.indices)  # C**(b-1) = 9 <= M: exact
        >>> len(sel.indices), abs(sel.scores[-1] - exact) < 1e-5
        (3, True)
    """
    N, S, C = check_log_probs(log_probs)
    B = check_batch_size(batch_size, N)
    M = check_positive_int(num_configurations, "num_configurations")
    check_generator(generator)
    pool = _Pool(log_probs)
    state = _JointState(pool, M, generator)
    available = torch.ones(N, dtype=torch.bool, device=pool.device)
    rtol = tie_rtol(pool.dtype)
    indices, scores, num_tied = [], [], []
    chosen_cond = 0.0
    for _ in range(B):
        # the mutual information up to a constant shared by all candidates
        gain = state.candidate_entropies() - pool.cond.to(pool.dtype)
        x, n_tied = pick_best(gain, available, largest=True, rtol=rtol, generator=generator)
        available[x] = False
        chosen_cond += float(pool.cond[x])
        scores.append(state.joint_entropy_with(x) - chosen_cond)
        state.add(x)
        indices.append(x)
        num_tied.append(n_tied)
    return Selection(indices=indices, scores=scores, num_tied=num_tied)


def joint_mutual_information(log_probs: Tensor, indices: list[int]) -> float:
    r"""Exact joint mutual information :math:`I(y_{1:b}; \omega)` of a given batch, in nats.

    Enumerates all :math:`C^b` label configurations in float64.

    Args:
        log_probs: ``[N, S, C]`` log-probabilities.
        indices: distinct pool positions of the batch (empty gives 0).

    Returns:
        The mutual information, in ``[0, b log C]``.

    Raises:
        ValueError: malformed ``log_probs``, ``indices`` out of range or repeated, or
            ``S * C**b > MAX_EXACT_JOINT_ELEMENTS``.

    Example:
        >>> lp = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]).log()
        >>> round(joint_mutual_information(lp, [0]), 4)
        0.6931
    """
    N, S, C = check_log_probs(log_probs)
    idx = check_indices(indices, N)
    if S * C ** len(idx) > MAX_EXACT_JOINT_ELEMENTS:
        raise ValueError(
            f"joint_mutual_information needs C**b = {C}**{len(idx)} configurations for S = {S} hypotheses, "
            f"more than fit in memory (S * C**b must be <= {MAX_EXACT_JOINT_ELEMENTS})"
        )
    lik = torch.ones(S, 1, dtype=torch.float64, device=log_probs.device)
    cond = 0.0
    for i in idx:
        p = log_probs[i].double().exp()  # [S, C]
        lik = (lik[:, :, None] * p[:, None, :]).flatten(1)
        cond += float(entropy_nats(log_probs[i].double()).mean())
    return float(_neg_xlogx_sum(lik.mean(0))) - cond if idx else 0.0
