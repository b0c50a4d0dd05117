r"""The ``balance-lite`` command: run a preset, plot its learning curves, print its table.

Chapter: *The active learning loop in 30 lines* (the last section: one command with the CLI).

Examples::

    balance-lite presets
    balance-lite run mnist --quick --methods batch-balance,batchbald,random --trials 6 --seed 0
    balance-lite run mnist --methods batch-balance,random --trials 6 --device cuda --out results/mnist
    balance-lite run mnist --trials 6 --executor slurm --slurm-partition gpu --slurm-gpus 1
    balance-lite plot results/mnist [--metric accuracy] [--output curves.png]
    balance-lite table results/mnist [--at 130]
    balance-lite claims results/mnist

Re-running a ``run`` command resumes it: finished iterations and trials are kept.
"""

from __future__ import annotations

import argparse
import sys

from .experiments.claims import format_claims
from .experiments.presets import PRESETS, PROTOCOLS
from .experiments.report import plot_results, write_table
from .experiments.results import atomic_write_text
from .experiments.runner import EXECUTORS, run_experiment
from .metrics import METRICS


def _csv(kind):
    def parse(text: str):
        try:
            return [kind(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from None
    return parse


def build_parser():
    """The ``argparse.ArgumentParser`` of ``balance-lite``."""
    parser = argparse.ArgumentParser(prog="balance-lite", description="Deep Bayesian active learning experiments "
                                     "(BALanCe, Batch-BALanCe, BatchBALD, BALD, ...).")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("presets", help="list the presets and their settings")

    run = sub.add_parser("run", help="run (or resume) a preset's experiment")
    run.add_argument("preset")
    run.add_argument("--quick", action="store_true", help="the preset's small variant (CI, book build)")
    run.add_argument("--protocol", choices=PROTOCOLS, default="paper",
                     help="paper: the paper's settings; cpu: the preset's stated reduction for a CPU")
    run.add_argument("--methods", type=_csv(str), default=None,
                     help="comma-separated strategy names (default: batch-balance,batchbald,random)")
    run.add_argument("--trials", type=int, default=None, help="default: the preset's (6 for the paper protocol)")
    run.add_argument("--seed", type=int, default=0, help="trial t uses seed + t")
    run.add_argument("--batch-sizes", type=_csv(int), default=None, help="a subset of the preset's batch sizes")
    run.add_argument("--device", default=None, help="e.g. cpu, cuda, cuda:1 (default cpu)")
    run.add_argument("--out", default=None, help="results folder (default results/PRESET[-quick])")
    run.add_argument("--jobs", type=int, default=1, help="units run in parallel processes (local executor)")
    run.add_argument("--executor", choices=EXECUTORS, default="local")
    run.add_argument("--data-root", default=None, help="dataset folder (default $BALANCE_LITE_DATA)")
    run.add_argument("--no-progress", action="store_true")
    run.add_argument("--no-wait", action="store_true", help="slurm: return once the jobs are submitted")
    run.add_argument("--slurm-partition", default=None)
    run.add_argument("--slurm-time", type=int, default=24 * 60, help="minutes per job")
    run.add_argument("--slurm-gpus", type=int, default=None, help="GPUs per job")
    run.add_argument("--slurm-cpus", type=int, default=None, help="CPUs per job")

    plot = sub.add_parser("plot", help="draw the learning curves of a results folder")
    plot.add_argument("folder")
    plot.add_argument("--metric", choices=METRICS, default="accuracy")
    plot.add_argument("--output", default=None, help="image file (default FOLDER/METRIC.png)")

    table = sub.add_parser("table", help="median and IQR of each metric at one label count")
    table.add_argument("folder")
    table.add_argument("--at", type=int, default=None,
                       help="label count (default: the largest that every method reached)")
    table.add_argument("--output", default=None, help="also write the table to this file")

    claims = sub.add_parser("claims", help="each claim of the paper about a results folder's preset, with our evidence")
    claims.add_argument("folder")
    claims.add_argument("--output", default=None, help="also write the report to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``balance-lite`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "presets":
            for p in PRESETS.values():
                print(f"{p.name:18s} dataset={p.dataset} B={list(p.batch_sizes)} budget={p.budget} "
                      f"S={p.num_samples} K={p.num_pairs} M={p.num_configurations} divisor={p.divisor} trials={p.trials}")
            return 0
        if args.command == "run":
            slurm = {"timeout_min": args.slurm_time}
            if args.slurm_partition:
                slurm["slurm_partition"] = args.slurm_partition
            if args.slurm_gpus is not None:
                slurm["gpus_per_node"] = args.slurm_gpus
            if args.slurm_cpus is not None:
                slurm["cpus_per_task"] = args.slurm_cpus
            run_experiment(args.preset, out=args.out, methods=args.methods, trials=args.trials, seed=args.seed,
                           quick=args.quick, protocol=args.protocol, batch_sizes=args.batch_sizes, device=args.device,
                           jobs=args.jobs,
                           executor=args.executor, data_root=args.data_root, progress=not args.no_progress,
                           slurm=slurm, wait=not args.no_wait)
            return 0
        if args.command == "plot":
            print(plot_results(args.folder, metric=args.metric, output=args.output))
            return 0
        if args.command == "table":
            print(write_table(args.folder, at=args.at, output=args.output), end="")
            return 0
        if args.command == "claims":
            text = format_claims(args.folder)
            if args.output:
                atomic_write_text(args.output, text)
            print(text, end="")
            return 0
    except (ValueError, FileNotFoundError, ImportError) as err:
        print(f"balance-lite {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 1  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
