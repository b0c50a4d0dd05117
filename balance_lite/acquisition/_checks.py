r"""Input validation shared by every acquisition function: the tensor checks.

Chapter: *Numerics and pitfalls* (bad input fails at once and says why).

The scalar checks (integers, reals, choices) are :mod:`balance_lite.checks`, re-exported here.
Each check raises :class:`ValueError` (or :class:`TypeError` for a wrong type) naming the
argument, what was expected and what came, so that a wrong call fails at once and says why.
No check clamps or repairs its input.
"""

from __future__ import annotations

import math
import operator

import torch
from torch import Tensor

from ..checks import (check_choice, check_int, check_positive_int, check_positive_real, check_real,
                      check_unit_interval)
from ._chunks import map_points

__all__ = [
    "NORMALISATION_ATOL",
    "check_batch_size",
    "check_choice",
    "check_edges",
    "check_generator",
    "check_indices",
    "check_log_probs",
    "check_pair",
    "check_positive_int",
    "check_positive_real",
    "check_preds",
    "check_real",
    "check_unit_interval",
    "compute_dtype",
]

#: Largest allowed ``|sum_c p(c) - 1|`` of a row of float32 or float64 log-probabilities. Loose
#: enough for float32 ``log_softmax`` outputs cast to float64, tight enough to catch logits or
#: probabilities passed by mistake (their exponentials do not sum to 1).
NORMALISATION_ATOL = 1e-3


def normalisation_atol(dtype: torch.dtype, C: int) -> float:
    r"""The allowed ``|sum_c exp(lp_c) - 1|`` for ``log_softmax`` outputs of ``dtype`` over ``C`` classes.

    Each rounded log-probability carries a relative error of up to half its machine epsilon, so
    each ``exp`` is off by about ``eps/2 * |lp|`` relative; the sum, accumulated in float32, stays
    within ``eps * (1 + log C)`` plus float32's own rounding. float16 (eps ``2**-10``) and bfloat16
    (eps ``2**-7``) therefore get a tolerance that grows with ``C``; a logit or probability row is
    still far off (its exponentials sum to ``e**x`` for a shift ``x`` or to ``sum exp(p) > 1.5``).
    """
    if dtype in (torch.float32, torch.float64):
        return NORMALISATION_ATOL
    eps = torch.finfo(dtype).eps
    return max(NORMALISATION_ATOL, 2.0 * eps * (1.0 + math.log(max(C, 2))))


def check_log_probs(
    log_probs: Tensor, name: str = "log_probs", *, letter: str = "S", values: bool = True
) -> tuple[int, int, int]:
    r"""Check a ``[N, S, C]`` tensor of log-probabilities and return ``(N, S, C)``.

    ``-inf`` entries (probability 0) are allowed; NaN and ``+inf`` are not. Every row over
    the last axis must normalise: ``|sum(exp) - 1| <= NORMALISATION_ATOL`` (float32, float64; a
    wider tolerance for float16 and bfloat16, see :func:`normalisation_atol`).

    Args:
        log_probs: the tensor to check.
        name: the argument name used in error messages.
        letter: the letter of the middle axis in error messages (``"S"`` or ``"K"``).
        values: False checks type and shape only, for a caller that exponentiates the whole
            tensor anyway and checks the row sums on the way (it must call again with
            ``values=True`` when they do not normalise, to raise the error).

    Returns:
        ``(N, S, C)``.

    Raises:
        TypeError: ``log_probs`` is not a floating-point tensor.
        ValueError: wrong rank, an empty axis, fewer than two classes, NaN or ``+inf``, or a
            row that does not normalise.
    """
    if not isinstance(log_probs, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [N, {letter}, C], got {type(log_probs).__name__}")
    if not log_probs.is_floating_point():
        raise TypeError(f"{name} must hold floating-point log-probabilities, got dtype {log_probs.dtype}")
    if log_probs.device.type == "meta":
        raise ValueError(f"{name} must hold values (a cpu or cuda tensor), got a tensor on the meta device")
    if log_probs.dim() != 3:
        raise ValueError(f"{name} must have shape [N, {letter}, C], got {tuple(log_probs.shape)}")
    N, S, C = log_probs.shape
    if N == 0:
        raise ValueError(f"{name} must hold at least one pool point (N >= 1), got shape {tuple(log_probs.shape)}")
    if S == 0:
        raise ValueError(f"{name} must hold at least one hypothesis ({letter} >= 1), got shape {tuple(log_probs.shape)}")
    if C < 2:
        raise ValueError(f"{name} must hold at least two classes (C >= 2), got shape {tuple(log_probs.shape)}")
    if not values:
        return N, S, C
    # fast path, two passes: NaN and +inf make the sum NaN or inf, logits or probabilities move it off 1
    wide = log_probs.dtype in (torch.float32, torch.float64)
    total = map_points(lambda lp: (lp if wide else lp.float()).exp().sum(-1), log_probs)  # [N, S]
    worst = float((total - 1.0).abs().max())
    if worst <= normalisation_atol(log_probs.dtype, C):  # False for NaN
        return N, S, C
    if bool(torch.isnan(log_probs).any()):
        raise ValueError(f"{name} must not contain NaN")
    if bool((log_probs == math.inf).any()):
        raise ValueError(f"{name} must not contain +inf (log-probabilities are <= 0)")
    n, s = divmod(int((total.double() - 1.0).abs().argmax()), S)
    raise ValueError(
        f"{name} must hold log-probabilities whose exp sums to 1 over the last axis (C); "
        f"row [{n}, {s}] sums to {float(total[n, s]):.3g}. "
        "Pass log_softmax outputs, not logits or probabilities"
    )


def check_pair(log_probs_a: Tensor, log_probs_b: Tensor, *, values: bool = True) -> tuple[int, int, int]:
    r"""Check the two ``[N, K, C]`` halves of K hypothesis pairs and return ``(N, K, C)``.

    ``values=False`` skips the pass over the values (see :func:`check_log_probs`).

    Raises:
        TypeError, ValueError: as :func:`check_log_probs`, or the two shapes or devices differ.
    """
    N, K, C = check_log_probs(log_probs_a, "log_probs_a", letter="K", values=values)
    if not isinstance(log_probs_b, Tensor) or log_probs_b.dim() != 3 or tuple(log_probs_b.shape) != (N, K, C):
        got = tuple(log_probs_b.shape) if isinstance(log_probs_b, Tensor) else type(log_probs_b).__name__
        raise ValueError(f"log_probs_b must have shape [N, K, C] matching log_probs_a {(N, K, C)}, got {got}")
    if log_probs_b.device != log_probs_a.device:
        raise ValueError(
            f"log_probs_b must be on the same device as log_probs_a ({log_probs_a.device}), got {log_probs_b.device}"
        )
    check_log_probs(log_probs_b, "log_probs_b", letter="K", values=values)
    return N, K, C


def check_edges(edges: Tensor, K: int, device: torch.device) -> Tensor:
    r"""Check a ``[K]`` bool edge mask and return it on ``device``.

    Raises:
        TypeError: ``edges`` is not a bool tensor.
        ValueError: ``edges`` does not have shape ``[K]``.
    """
    if not isinstance(edges, Tensor) or edges.dtype != torch.bool:
        got = edges.dtype if isinstance(edges, Tensor) else type(edges).__name__
        raise TypeError(f"edges must be a bool tensor of shape [K] (see hamming_edges), got {got}")
    if tuple(edges.shape) != (K,):
        raise ValueError(f"edges must have shape [K] = [{K}] (one entry per hypothesis pair), got {tuple(edges.shape)}")
    return edges.to(device)


def check_indices(indices, N: int, name: str = "indices") -> list[int]:
    r"""Check a sequence of distinct pool positions in ``[0, N)`` and return them as ``int``\ s.

    Integers (Python, numpy, 0-d integer tensors) and 1-d integer tensors are accepted; floats,
    bools and strings are not coerced.

    Raises:
        TypeError: ``indices`` is a string, or holds something other than integers.
        ValueError: a position out of range or repeated.
    """
    if isinstance(indices, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of ints, got the string {indices!r}")
    if isinstance(indices, Tensor):
        if indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool or indices.dim() > 1:
            raise TypeError(f"{name} must be a 1-d integer tensor or a sequence of ints, "
                            f"got a {indices.dtype} tensor of shape {tuple(indices.shape)}")
        indices = indices.tolist()
    try:
        items = list(indices)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of ints, got {type(indices).__name__}") from None
    idx = []
    for item in items:
        if isinstance(item, bool) or (isinstance(item, Tensor) and item.dtype == torch.bool):
            raise TypeError(f"{name} must hold ints, got {item!r} in {items!r}")
        try:
            idx.append(operator.index(item))
        except TypeError:
            raise TypeError(f"{name} must hold ints, got {type(item).__name__} {item!r}") from None
    if any(not 0 <= i < N for i in idx) or len(set(idx)) != len(idx):
        raise ValueError(f"{name} must be distinct pool positions in [0, {N}), got {idx}")
    return idx


def check_batch_size(batch_size: int, N: int) -> int:
    r"""Check ``1 <= batch_size <= N`` and return it as an ``int``.

    Raises:
        TypeError: ``batch_size`` is not an integer.
        ValueError: ``batch_size`` is out of range.
    """
    b = check_int(batch_size, "batch_size")
    if not 1 <= b <= N:
        raise ValueError(f"batch_size must be between 1 and the pool size {N}, got {b}")
    return b


def check_generator(generator: torch.Generator | None) -> torch.Generator | None:
    r"""Check that ``generator`` is ``None`` or a :class:`torch.Generator`.

    Raises:
        TypeError: anything else.
    """
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return generator


def check_preds(preds_a: Tensor, preds_b: Tensor) -> tuple[int, int]:
    r"""Check two ``[K, U]`` integer tensors of hard predictions on D̄pool and return ``(K, U)``.

    Raises:
        TypeError: a tensor is missing or holds floating-point values.
        ValueError: the shapes are not ``[K, U]`` with K, U >= 1, differ, or the devices differ.
    """
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
    return K, U


def compute_dtype(t: Tensor) -> torch.dtype:
    r"""The dtype of the heavy tensor work: float64 for float64 inputs, float32 otherwise."""
    return torch.float64 if t.dtype == torch.float64 else torch.float32
