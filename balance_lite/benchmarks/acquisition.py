r"""Wall time and peak memory of every acquisition route at the paper's scales.

Chapter: *Exact Batch-BALanCe at any batch size (beyond the paper)* (the stored run and its speed ratio).

Run::

    python -m balance_lite.benchmarks.acquisition            # both scales, CPU
    python -m balance_lite.benchmarks.acquisition --device cuda --scale mnist

For MNIST scale (N = 40,000 pool points, K = 100 pairs, C = 10 classes, B = 10) and EMNIST
scale (N = 20,000, K = 10, C = 47, B = 5) it builds one set of inputs and times, on those
same tensors:

- ``batch_balance`` with ``route="factorized"``;
- ``route="importance"`` with M = 10,000 on a pool subset (``--importance-pool``), its time
  extrapolated linearly to the full pool (its cost is linear in N; the table says so);
- ``route="enumerate"`` at b = 3;
- ``batchbald`` and ``bald_scores`` + ``top_b`` on the 2K hypotheses ``[N, 2K, C]``;
- beyond the paper: PowerBALD (``bald_scores`` + :func:`~balance_lite.acquisition.stochastic_batch`
  on the same ``[N, 2K, C]``), PowerBALanCe (``balance_scores`` (Eq. 3) of the K pairs +
  ``stochastic_batch``) and EPIG (:func:`~balance_lite.acquisition.epig_scores` of the 2K hypotheses
  about T = ``--num-targets`` simulated held-out inputs ``[T, 2K, C]`` under the same masks, + ``top_b``;
  PowerEPIG costs the same plus one ``stochastic_batch``);
- BADGE (k-means++ seeding on gradient embeddings) and Core-Set (greedy k-centre) on synthetic
  embeddings ``[N, D]`` of the width D of the dataset CNN's penultimate layer (128 for the MNIST CNN,
  512 for the EMNIST CNN), Core-Set with L labeled points (the preset's label budget, its largest
  labeled set), BADGE with C-class log-probabilities: selection only, as for the rows above; and,
  as a separate row, the dropout-off forward pass :meth:`~balance_lite.models.MCDropoutNet.embed`
  that both need instead of MC-dropout samples, on N random images through the untrained CNN
  (``--skip-embed`` leaves it out);
- when installed (``pip install balance_lite[bench]``), the peer implementation
  ``batchbald_redux.batchbald.get_batchbald_batch`` with the same M;

then prints the ratios importance / factorized and batchbald_redux / ours.

Inputs are realistic rather than independent noise: every pool point has a base prediction
shared by all dropout masks, and each mask adds its own noise (independent random pairs
saturate Eq. 4 after a few picks and make every later value tie). Edges come from
:func:`~balance_lite.acquisition.hamming_edges` on simulated held-out predictions, with tau the 30% quantile of the pair
distances so that about 70% of the pairs are cut.

Peak memory on CPU is the rise of the process's resident set size during the call (freed
heap memory is first returned to the OS with glibc's ``malloc_trim``, then the kernel's
high-water mark is reset through ``/proc/self/clear_refs``); the inputs themselves are not
counted. On CUDA it is ``torch.cuda.max_memory_allocated`` above what was allocated before.
"""

from __future__ import annotations

import argparse
import functools
import os

os.environ.setdefault("TQDM_DISABLE", "1")  # before tqdm is imported: batchbald_redux draws progress bars
import platform
import sys
import time
from dataclasses import dataclass

import torch

from balance_lite.acquisition import (
    badge,
    balance_scores,
    bald_scores,
    batch_balance,
    batch_balance_value,
    batchbald,
    coreset,
    epig_scores,
    hamming_edges,
    joint_mutual_information,
    stochastic_batch,
    top_b,
)

print = functools.partial(print, flush=True)  # noqa: A001  (stream the tables when output is a file)

SCALES = {
    "mnist": dict(N=40_000, K=100, C=10, B=10, D=128, L=260),
    "emnist": dict(N=20_000, K=10, C=47, B=5, D=512, L=300),
}

#: The network whose embedding (``D`` above) the BADGE and Core-Set rows stand for.
SCALE_NETWORK = {"mnist": "mnist", "emnist": "emnist-balanced"}


@dataclass
class Row:
    name: str
    seconds: float
    peak_mib: float
    note: str = ""

    def __post_init__(self):
        print(f"  measured {self.name}: {self.seconds:.2f} s, {self.peak_mib:.0f} MiB", file=sys.stderr)


def make_inputs(N: int, K: int, C: int, *, seed: int, device: str, U: int = 2_000, T: int = 100):
    """Pairs sharing a per-point base prediction plus per-mask noise; edges from simulated D̄pool predictions.

    Returns ``(log_probs_a, log_probs_b, edges, tau, target_log_probs)``, the last ``[min(T, U), 2K, C]``:
    the first T simulated held-out inputs under both mask sets (EPIG's targets).
    """
    g = torch.Generator().manual_seed(seed)

    def masks(base):
        noise = torch.randn(base.shape[0], K, C, generator=g)
        return (base + noise).log_softmax(-1)

    base = 3.0 * torch.randn(N, 1, C, generator=g)
    log_probs_a, log_probs_b = masks(base), masks(base)
    held_out = 3.0 * torch.randn(U, 1, C, generator=g)
    held_a, held_b = masks(held_out), masks(held_out)  # [U, K, C] each
    preds_a = held_a.argmax(-1).T  # [K, U]
    preds_b = held_b.argmax(-1).T
    targets = torch.cat([held_a[:T], held_b[:T]], 1)  # [T, 2K, C]
    distances = (preds_a != preds_b).double().mean(1)
    tau = float(torch.quantile(distances, 0.3))
    edges = hamming_edges(preds_a, preds_b, tau)
    return log_probs_a.to(device), log_probs_b.to(device), edges.to(device), tau, targets.to(device)


def make_embeddings(N: int, L: int, D: int, C: int, *, seed: int, device: str):
    """Synthetic dropout-off outputs: ReLU features ``[N, D]`` and ``[L, D]``, log-probabilities ``[N, C]``.

    The selection cost of BADGE and Core-Set depends on the shapes only, not on the values.
    """
    g = torch.Generator().manual_seed(seed + 1)
    features = torch.randn(N, D, generator=g).relu_()
    labeled = torch.randn(L, D, generator=g).relu_()
    log_probs = (3.0 * torch.randn(N, C, generator=g)).log_softmax(-1)
    return features.to(device), labeled.to(device), log_probs.to(device)


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _release_free_memory() -> None:
    """Return freed heap memory to the OS (glibc), so the next call's growth is seen in full."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measure(fn, device: str):
    """Run ``fn()``; return (result, seconds, peak MiB above the memory in use before)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        t = time.perf_counter()
        out = fn()
        torch.cuda.synchronize()
        seconds = time.perf_counter() - t
        return out, seconds, (torch.cuda.max_memory_allocated() - before) / 2**20
    _release_free_memory()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak resident set size to the current one
        before = _rss_kib("VmRSS")
        tracked = True
    except OSError:
        tracked = False
    t = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t
    peak = (_rss_kib("VmHWM") - before) / 1024 if tracked else float("nan")
    return out, seconds, peak


def run_scale(name: str, args) -> None:
    cfg = SCALES[name]
    N, K, C, B = cfg["N"], cfg["K"], cfg["C"], cfg["B"]
    M = args.num_configurations
    device = args.device
    log_probs_a, log_probs_b, edges, tau, targets = make_inputs(N, K, C, seed=args.seed, device=device,
                                                                T=args.num_targets)
    log_probs = torch.cat([log_probs_a, log_probs_b], 1)  # [N, 2K, C]: the same 2K hypotheses
    print(f"\n## {name.upper()} scale: N = {N}, K = {K} pairs (2K = {2 * K} hypotheses), C = {C}, B = {B}, M = {M}, "
          f"D = {cfg['D']}, L = {cfg['L']}")
    print(f"tau = {tau:.4f}, {int(edges.sum())} of {K} pairs cut, float32 inputs on {device}")
    gen = lambda: torch.Generator().manual_seed(args.seed)  # noqa: E731
    rows: list[Row] = []
    values: dict[str, list[float]] = {}
    picks: dict[str, list[int]] = {}

    sel, s, m = measure(lambda: batch_balance(log_probs_a, log_probs_b, edges, B, generator=gen()), device)
    rows.append(Row("Batch-BALanCe factorized", s, m))
    values["factorized"], picks["factorized"], tied = sel.scores, sel.indices, sel.num_tied

    n_sub = min(N, args.importance_pool)
    sub_a, sub_b = log_probs_a[:n_sub].contiguous(), log_probs_b[:n_sub].contiguous()
    sel, s, m = measure(
        lambda: batch_balance(sub_a, sub_b, edges, B, route="importance", num_configurations=M, generator=gen()), device
    )
    picks["importance"] = sel.indices
    scale = N / n_sub
    note = f"measured on {n_sub} points: {s:.1f} s, x{scale:.0f}" if n_sub < N else ""
    rows.append(Row(f"Batch-BALanCe importance (M = {M})", s * scale, m, note))
    fac_sub = batch_balance(sub_a, sub_b, edges, B, generator=gen())

    b_enum = min(B, 3)
    sel, s, m = measure(
        lambda: batch_balance(log_probs_a, log_probs_b, edges, b_enum, route="enumerate", generator=gen()), device
    )
    rows.append(Row(f"Batch-BALanCe enumerate (b = {b_enum})", s, m, f"C^b = {C ** b_enum} configurations"))
    values["enumerate"], picks["enumerate"] = sel.scores, sel.indices

    batchbald_row = None
    if not args.skip_batchbald:
        sel, s, m = measure(lambda: batchbald(log_probs, B, num_configurations=M, generator=gen()), device)
        batchbald_row = Row(f"BatchBALD (ours, M = {M})", s, m)
        rows.append(batchbald_row)
        picks["batchbald"], values["batchbald"] = sel.indices, sel.scores

    sel, s, m = measure(lambda: top_b(bald_scores(log_probs), B, generator=gen()), device)
    rows.append(Row("BALD (scores + top-B)", s, m))

    # beyond the paper: stochastic batches (Kirsch et al., TMLR 2023) and EPIG (Bickford Smith et al., 2023)
    sel, s, m = measure(lambda: stochastic_batch(bald_scores(log_probs), B, generator=gen()), device)
    rows.append(Row("PowerBALD (BALD scores + power sampling)", s, m))
    sel, s, m = measure(
        lambda: stochastic_batch(balance_scores(log_probs_a, log_probs_b, edges), B, generator=gen()), device
    )
    rows.append(Row("PowerBALanCe (Eq. 3 scores + power sampling)", s, m))
    T = targets.shape[0]
    sel, s, m = measure(lambda: top_b(epig_scores(log_probs, targets), B, generator=gen()), device)
    rows.append(Row(f"EPIG (T = {T} targets, scores + top-B)", s, m, "PowerEPIG: the same + power sampling"))

    # ---- BADGE and Core-Set: diversity in the dropout-off embedding (beyond the paper) ----
    D, L = cfg["D"], cfg["L"]
    features, labeled, logits = make_embeddings(N, L, D, C, seed=args.seed, device=device)
    sel, s, m = measure(lambda: badge(features, logits, B, generator=gen()), device)
    rows.append(Row(f"BADGE (k-means++ on gradients, D = {D})", s, m, f"synthetic [N, {D}] embeddings"))
    sel, s, m = measure(lambda: coreset(features, labeled, B, generator=gen()), device)
    rows.append(Row(f"Core-Set (greedy k-centre, D = {D}, L = {L})", s, m, f"synthetic [N, {D}] embeddings"))
    if not args.skip_embed:
        from balance_lite.models import build_model

        torch.manual_seed(args.seed)
        model = build_model(SCALE_NETWORK[name], (1, 28, 28), C).to(device)
        images = torch.rand(N, 1, 28, 28, generator=torch.Generator().manual_seed(args.seed))
        _, s, m = measure(lambda: model.embed(images), device)
        rows.append(Row(f"{model.name}.embed, dropout off (BADGE, Core-Set input)", s, m,
                        f"forward pass of {N} images, not a selection"))
        del images, model
    del features, labeled, logits

    redux_row = None
    if not args.skip_redux and not args.skip_batchbald:
        try:
            from batchbald_redux.batchbald import get_batchbald_batch
        except ImportError:
            print("batchbald_redux not installed (pip install balance_lite[bench]): peer comparison skipped")
        else:
            dtype = {"float32": torch.float, "float64": torch.double}[args.redux_dtype]
            torch.manual_seed(args.seed)
            cand, s, m = measure(lambda: get_batchbald_batch(log_probs, B, M, dtype=dtype, device=device), device)
            redux_row = Row(f"batchbald_redux get_batchbald_batch (M = {M}, {args.redux_dtype})", s, m)
            rows.append(redux_row)
            picks["redux"], values["redux"] = cand.indices, cand.scores

    print()
    print(f"| {'method':<58} | {'wall time (s)':>13} | {'peak memory (MiB)':>17} | note")
    print(f"|{'-' * 60}|{'-' * 15}|{'-' * 19}|------")
    for r in rows:
        print(f"| {r.name:<58} | {r.seconds:>13.2f} | {r.peak_mib:>17.0f} | {r.note}")
    fac = rows[0].seconds
    print(f"\nratio importance / factorized: {rows[1].seconds / fac:.0f}x")
    if redux_row is not None:
        print(f"ratio batchbald_redux / ours (BatchBALD): {redux_row.seconds / batchbald_row.seconds:.1f}x")

    # agreement checks on the same tensors
    print("\nchecks:")
    same = picks["factorized"][:b_enum] == picks["enumerate"]
    diff = max(abs(a - b) for a, b in zip(values["factorized"][:b_enum], values["enumerate"]))
    print(f"- factorized and enumerate pick the same first {b_enum} points: {same}; largest value difference {diff:.2e}")
    imp_true = batch_balance_value(sub_a, sub_b, edges, picks["importance"])
    print(
        f"- on the {n_sub}-point subset, Eq. 4 of the batch: factorized {fac_sub.scores[-1]:.6f}, "
        f"importance's batch (exact value) {imp_true:.6f}"
    )
    print(f"- factorized Eq. 4 after each pick: {' '.join(f'{v:.6f}' for v in values['factorized'])}")
    print(f"- candidates tied at each factorized pick (ranked by the uncut weight): {tied}")
    if "redux" in picks:
        overlap = len(set(picks["redux"]) & set(picks["batchbald"]))
        print(
            f"- BatchBALD: ours and batchbald_redux share {overlap} of {B} points; first pick equal: "
            f"{picks['redux'][0] == picks['batchbald'][0]}; joint MI estimates ours {values['batchbald'][-1]:.4f}, "
            f"redux {values['redux'][-1]:.4f} nats"
        )
        if C ** min(B, 3) * 2 * K <= 2**26:
            ours3 = joint_mutual_information(log_probs, picks["batchbald"][:3])
            theirs3 = joint_mutual_information(log_probs, picks["redux"][:3])
            print(f"- exact joint MI of the first 3 picks: ours {ours3:.6f}, redux {theirs3:.6f} nats")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=["mnist", "emnist", "both"], default="both")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--num-configurations", "--num-samples", dest="num_configurations", type=int, default=10_000,
                        help="M, label configurations for importance sampling and BatchBALD "
                             "(--num-samples: the old name, still accepted)")
    parser.add_argument("--importance-pool", type=int, default=2_000,
                        help="pool subset for the importance route (time extrapolated linearly)")
    parser.add_argument("--redux-dtype", choices=["float32", "float64"], default="float32",
                        help="dtype passed to batchbald_redux (ours computes in the inputs' float32)")
    parser.add_argument("--skip-redux", action="store_true", help="skip batchbald_redux")
    parser.add_argument("--skip-batchbald", action="store_true", help="skip both BatchBALD implementations")
    parser.add_argument("--num-targets", type=int, default=100,
                        help="T, EPIG's target inputs (simulated held-out points)")
    parser.add_argument("--skip-embed", action="store_true",
                        help="skip the dropout-off forward pass of the CNN (the BADGE and Core-Set input)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"# balance_lite acquisition benchmark")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs" + (f", load average {load[0]:.1f} at start" if load else ""))
    if args.device.startswith("cuda"):
        print(f"GPU: {torch.cuda.get_device_name()}")
    for name in (["mnist", "emnist"] if args.scale == "both" else [args.scale]):
        run_scale(name, args)
    if load:
        print(f"\nload average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
