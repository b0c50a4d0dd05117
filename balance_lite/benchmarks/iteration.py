r"""Seconds per active-learning iteration of a preset: train, evaluate, predict, acquire.

Chapter: *The active learning loop in 30 lines* (what one iteration costs).

Run::

    python -m balance_lite.benchmarks.iteration                       # mnist, Batch-BALanCe, B = 10
    python -m balance_lite.benchmarks.iteration --device cuda --iterations 3
    python -m balance_lite.benchmarks.iteration --preset digits --method batchbald

It runs the same code as ``balance-lite run`` (:func:`balance_lite.loop.run_active_learning` on
the preset's full splits, network, training settings and strategy) for a few iterations and
prints one row per iteration with the wall time of each phase, as recorded in the results
files. ``predict`` is the MC-dropout pass over the pool (for the BALanCe methods: two sets of K
masks over the pool and D̄pool); ``acquire`` is the acquisition function on those predictions.
The last iteration only trains and evaluates (the budget is reached), so it has no predict or
acquire time.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import time

import torch

from balance_lite import data
from balance_lite.experiments.presets import get_preset
from balance_lite.loop import run_active_learning
from balance_lite.models import build_model

print = functools.partial(print, flush=True)  # noqa: A001  (stream rows when output is a file)

PHASES = ("train", "evaluate", "predict", "acquire")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="mnist")
    parser.add_argument("--method", default="batch-balance")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=2, help="acquisitions to time (>= 1)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default cpu)")
    parser.add_argument("--data-root", default=None, help="dataset folder (default $BALANCE_LITE_DATA)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the loop's choice)")
    args = parser.parse_args(argv)
    if args.iterations < 1:
        parser.error(f"--iterations must be >= 1, got {args.iterations}")

    preset = get_preset(args.preset)
    strategy = preset.strategy(args.method)
    splits = data.load(preset.dataset, root=args.data_root, seed=args.seed)
    factory = functools.partial(build_model, preset.dataset, splits.input_shape, splits.num_classes)
    budget = len(splits.initial) + args.iterations * args.batch_size
    device = args.device or "cpu"
    print(f"# {preset.name}: {strategy.name} {strategy.params()}, B = {args.batch_size}, "
          f"pool {len(splits.pool)}, D̄pool {len(splits.holdout)}, test {len(splits.test)}")
    gpu = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else None
    cpu = platform.processor() or platform.machine()
    print(f"# device {device}{f' ({gpu})' if gpu else ''}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads available, {os.cpu_count()} CPUs, {cpu}")
    print("| iteration | labels | epochs | " + " | ".join(f"{p} s" for p in PHASES) + " | total s | accuracy |")
    print("| --- " * (len(PHASES) + 5) + "|")

    def row(record):
        total = sum(record.seconds[p] for p in PHASES)
        print(f"| {record.iteration} | {record.labels} | {record.epochs} | "
              + " | ".join(f"{record.seconds[p]:.2f}" for p in PHASES) + f" | {total:.2f} | {record.accuracy:.3f} |")

    start = time.perf_counter()
    run_active_learning(splits, factory, strategy, batch_size=args.batch_size, budget=budget,
                        train_config=preset.train_config(), eval_samples=preset.eval_samples, seed=args.seed,
                        device=device, on_iteration=row, num_threads=args.threads)
    print(f"# wall {time.perf_counter() - start:.1f} s for {args.iterations} acquisitions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
