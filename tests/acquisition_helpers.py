"""Shared helpers for the acquisition tests: random inputs and plainly written references."""

from __future__ import annotations

import itertools
import math

import torch


def random_log_probs(n: int, s: int, c: int, seed: int, *, sharpness: float = 2.0, dtype=torch.float64):
    """``[n, s, c]`` log-probabilities from random logits (float64 by default)."""
    g = torch.Generator().manual_seed(seed)
    logits = sharpness * torch.randn(n, s, c, generator=g, dtype=torch.float64)
    return logits.log_softmax(-1).to(dtype)


def random_case(n: int, k: int, c: int, seed: int, *, edge_prob: float = 0.6, dtype=torch.float64):
    """Random BALanCe inputs: ``(log_probs_a, log_probs_b, edges)`` with at least one edge."""
    g = torch.Generator().manual_seed(seed + 1_000_003)
    lp_a = random_log_probs(n, k, c, seed, dtype=dtype)
    lp_b = random_log_probs(n, k, c, seed + 7919, dtype=dtype)
    edges = torch.rand(k, generator=g) < edge_prob
    edges[int(torch.randint(k, (1,), generator=g))] = True
    return lp_a, lp_b, edges


def shared_base_case(n: int, k: int, c: int, seed: int, *, noise: float = 0.7, dtype=torch.float64):
    """Pairs sharing a per-point base prediction plus per-mask noise (realistic, less saturated)."""
    g = torch.Generator().manual_seed(seed)
    base = 3.0 * torch.randn(n, 1, c, generator=g, dtype=torch.float64)
    lp_a = (base + noise * torch.randn(n, k, c, generator=g, dtype=torch.float64)).log_softmax(-1)
    lp_b = (base + noise * torch.randn(n, k, c, generator=g, dtype=torch.float64)).log_softmax(-1)
    edges = torch.rand(k, generator=g) < 0.7
    edges[0] = True
    return lp_a.to(dtype), lp_b.to(dtype), edges


# ---------------------------------------------------------------- plain references (float64)


def brute_entropy(p):
    return -sum(float(q) * math.log(float(q)) for q in p if q > 0)


def brute_bald(log_probs):
    """BALD with Python loops: H[mean_s p_s] - mean_s H[p_s]."""
    p = log_probs.double().exp()
    N, S, C = p.shape
    out = []
    for n in range(N):
        mean = [sum(float(p[n, s, c]) for s in range(S)) / S for c in range(C)]
        cond = sum(brute_entropy(p[n, s]) for s in range(S)) / S
        out.append(brute_entropy(mean) - cond)
    return torch.tensor(out, dtype=torch.float64)


def brute_eq4(lp_a, lp_b, edges, batch):
    """Eq. 4 of the paper for the points ``batch`` by enumerating every label configuration.

    Delta(x_1:b) = sum_{y_1:b} p(y_1:b) (1/K) sum_k edges_k (1 - prod_i lam_k(y_i|x_i) lam'_k(y_i|x_i)),
    p(y_1:b) = (1/2K) sum over the 2K hypotheses of prod_i p(y_i | x_i, w).
    """
    pa, pb = lp_a.double().exp(), lp_b.double().exp()
    K, C = pa.shape[1], pa.shape[2]
    la = pa / pa.amax(-1, keepdim=True)
    lb = pb / pb.amax(-1, keepdim=True)
    total = 0.0
    for ys in itertools.product(range(C), repeat=len(batch)):
        joint = 0.0
        for k in range(K):
            ja, jb = 1.0, 1.0
            for x, y in zip(batch, ys):
                ja *= float(pa[x, k, y])
                jb *= float(pb[x, k, y])
            joint += ja + jb
        joint /= 2 * K
        cut = 0.0
        for k in range(K):
            if edges[k]:
                lam = 1.0
                for x, y in zip(batch, ys):
                    lam *= float(la[x, k, y]) * float(lb[x, k, y])
                cut += 1.0 - lam
        total += joint * cut / K
    return total


def brute_joint_mi(log_probs, batch):
    """I(y_1:b; w) = H(y_1:b) - sum_i E_w H(y_i | w), enumerating every configuration."""
    p = log_probs.double().exp()
    S, C = p.shape[1], p.shape[2]
    h_joint = 0.0
    for ys in itertools.product(range(C), repeat=len(batch)):
        q = 0.0
        for s in range(S):
            prod = 1.0
            for x, y in zip(batch, ys):
                prod *= float(p[x, s, y])
            q += prod
        q /= S
        if q > 0:
            h_joint -= q * math.log(q)
    cond = sum(brute_entropy(p[x, s]) for x in batch for s in range(S)) / S
    return h_joint - cond


def brute_greedy(value_fn, N, B):
    """Greedy maximisation of a set function evaluated by brute force (ties: lowest index)."""
    chosen, values = [], []
    for _ in range(B):
        best, best_v = None, -math.inf
        for n in range(N):
            if n in chosen:
                continue
            v = value_fn(chosen + [n])
            if v > best_v + 1e-12:
                best, best_v = n, v
        chosen.append(best)
        values.append(best_v)
    return chosen, values
