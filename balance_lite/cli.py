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
    balance-lite compare results/digits [--batch-size 10] [--alpha 0.05]

Re-running a ``run`` command resumes it: finished iterations and trials are kept.

Every mistake ends in one line on stderr, ``balance-lite COMMAND: error: ...``, and exit status 2
(argparse's own errors too); Ctrl-C ends a run with one line saying how to resume it (status 130).
A closed stdout (``balance-lite run ... | head -1``) does not stop a run: its progress lines are
dropped.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys


def _csv(kind):
    def parse(text: str):
        try:
            items = [kind(x.strip()) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from None
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of at least one item, got {text!r}")
        return items
    return parse


def _print(text: str = "", end: str = "\n") -> None:
    """Print to stdout; when the reader has gone (a closed pipe), drop this and later output."""
    try:
        print(text, end=end, flush=True)
    except BrokenPipeError:
        # point stdout at /dev/null so that later prints and the final flush at exit stay silent
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _check_output(output, kind: str) -> None:
    """``--output`` must be a file name (not a folder); for images, with a format's extension."""
    from pathlib import Path

    if output is None:
        return
    path = Path(output)
    if path.is_dir() or str(output).endswith(os.sep):
        raise ValueError(f"output {str(output)!r} is a folder, expected a file name")
    if kind == "image":
        from matplotlib.figure import Figure

        formats = sorted(Figure().canvas.get_supported_filetypes())
        if path.suffix.lstrip(".").lower() not in formats:
            raise ValueError(f"output must be an image file name ending in one of "
                             f"{', '.join('.' + f for f in formats)}, got {str(output)!r}")


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (no usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    """The ``argparse.ArgumentParser`` of ``balance-lite``."""
    from .experiments.presets import PROTOCOLS
    from .experiments.runner import EXECUTORS
    from .metrics import METRICS

    parser = _Parser(prog="balance-lite", description="Deep Bayesian active learning experiments "
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

    compare = sub.add_parser("compare", help="AUBC of each method (quartiles over trials) and the pairwise "
                             "penalty matrix (paired t-tests by seed)")
    compare.add_argument("folder")
    compare.add_argument("--batch-size", type=int, default=None, help="one batch size (default: each)")
    compare.add_argument("--metric", choices=METRICS, default="accuracy")
    compare.add_argument("--alpha", type=float, default=0.05, help="level of the paired t-tests")
    compare.add_argument("--output", default=None, help="also write the report to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``balance-lite`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except KeyboardInterrupt:
        hint = " (finished iterations are saved: run the same command again to resume)" if args.command == "run" else ""
        print(f"balance-lite {args.command}: interrupted{hint}", file=sys.stderr)
        return 130
    except (ValueError, LookupError, ImportError) as err:
        print(f"balance-lite {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        hint = "; free some space" if err.errno == errno.ENOSPC else ""
        if args.command == "run":
            hint += f"{', then' if hint else ';'} run the same command again to resume (finished iterations are kept)"
        print(f"balance-lite {args.command}: error: {where}{err.strerror or err}{hint}", file=sys.stderr)
        return 2


def _one_line(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, KeyError) and err.args:
        text = str(err.args[0])
    return " / ".join(line.strip() for line in text.splitlines() if line.strip())


def _main(args) -> int:
    """Run one command; errors propagate to :func:`main`, which turns them into one line."""
    if args.command == "presets":
        from .experiments.presets import PRESETS

        for p in PRESETS.values():
            _print(f"{p.name:18s} dataset={p.dataset} B={list(p.batch_sizes)} budget={p.budget} "
                   f"S={p.num_samples} K={p.num_pairs} M={p.num_configurations} divisor={p.divisor} trials={p.trials}")
        return 0
    if args.command == "run":
        from .experiments.runner import run_experiment

        slurm = {"timeout_min": args.slurm_time}
        if args.slurm_partition:
            slurm["slurm_partition"] = args.slurm_partition
        if args.slurm_gpus is not None:
            slurm["gpus_per_node"] = args.slurm_gpus
        if args.slurm_cpus is not None:
            slurm["cpus_per_task"] = args.slurm_cpus
        run_experiment(args.preset, out=args.out, methods=args.methods, trials=args.trials, seed=args.seed,
                       quick=args.quick, protocol=args.protocol, batch_sizes=args.batch_sizes, device=args.device, jobs=args.jobs,
                       executor=args.executor, data_root=args.data_root, progress=not args.no_progress,
                       slurm=slurm, wait=not args.no_wait, log=_print)
        return 0
    if args.command == "plot":
        from .experiments.report import plot_results

        _check_output(args.output, "image")
        _print(plot_results(args.folder, metric=args.metric, output=args.output))
        return 0
    if args.command == "table":
        from .experiments.report import write_table

        _check_output(args.output, "text")
        _print(write_table(args.folder, at=args.at, output=args.output), end="")
        return 0
    if args.command == "claims":
        from .experiments.claims import format_claims
        from .experiments.results import atomic_write_text

        _check_output(args.output, "text")
        text = format_claims(args.folder)
        if args.output:
            atomic_write_text(args.output, text)
        _print(text, end="")
        return 0
    if args.command == "compare":
        from .experiments.compare import compare_report
        from .experiments.results import atomic_write_text

        _check_output(args.output, "text")
        text = compare_report(args.folder, batch_size=args.batch_size, metric=args.metric, alpha=args.alpha)
        if args.output:
            atomic_write_text(args.output, text)
        _print(text, end="")
        return 0
    return 1  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
