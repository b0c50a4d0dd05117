r"""Monte-Carlo label configurations drawn from the joint mixture over hypotheses.

Chapters: *Importance sampling (Eq. 5, App. A.3–A.4)* and *BALD and BatchBALD*.

The predictive distribution of a batch's labels is the uniform mixture of H hypotheses,
:math:`p(y_{1:b}) = \frac{1}{H}\sum_h \prod_i p(y_i|x_i,\omega_h)`. We draw a configuration by
drawing a hypothesis, then every label from that hypothesis. Hypotheses are spread evenly
over the M configurations (``M // H`` each) and the remaining ``M % H`` are drawn uniformly at
random: a stratified draw, which is unbiased for any M and has lower variance than drawing
every hypothesis at random.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .selection import rand_device


def mixture_hypotheses(M: int, H: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    """``[M]`` long: the hypothesis of each of M configurations, on ``device``."""
    even = torch.arange((M // H) * H) % H
    rest = torch.randint(H, (M % H,), generator=generator, device=rand_device(generator)).cpu()
    return torch.cat([even, rest]).to(device)


def draw_labels(probs_C_H: Tensor, hyp: Tensor, generator: torch.Generator | None) -> Tensor:
    """``[M]`` labels of one point, label m drawn from hypothesis ``hyp[m]``.

    Args:
        probs_C_H: ``[C, H]`` p(c | x, ω_h) of the point.
        hyp: ``[M]`` hypothesis of each configuration.
        generator: the draws are made on its device.

    Returns:
        ``[M]`` long labels on ``probs_C_H``' device.
    """
    rows = probs_C_H.T[hyp]  # [M, C]
    labels = torch.multinomial(rows.to(rand_device(generator)), 1, replacement=True, generator=generator)
    return labels.flatten().to(probs_C_H.device)


def draw_marginal_labels(probs_C_H: Tensor, M: int, generator: torch.Generator | None) -> Tensor:
    """``[M]`` labels of one point drawn independently from its predictive marginal p(y|x)."""
    marginal = probs_C_H.mean(1)  # [C]
    labels = torch.multinomial(marginal.to(rand_device(generator)), M, replacement=True, generator=generator)
    return labels.to(probs_C_H.device)
