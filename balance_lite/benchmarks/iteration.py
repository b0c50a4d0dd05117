r"""Seconds per active-learning iteration of a preset: train, evaluate, predict, acquire.

Chapter: *The active learning loop in 30 lines* (what one iteration costs).

Run::

    python -m balance_lite.benchmarks.iteration                       # mnist, Batch-BALanCe, B = 10
    python -m balance_lite.benchmarks.iteration --device cuda --iterations 3
    python -m balance_lite.benchmarks.iteration --preset digits --method batchbald

It runs the same code as ``balance-lite run`` (:func:`balance_lite.loop.run_active_learning` on
the preset's full splits, network, training settings and strategy, whole pool scored) for a few
iterations and prints one row per iteration with the wall time of each phase, as recorded in the
results files. ``predict`` is the MC-dropout pass over the pool (for the BALanCe methods: two
sets of K masks over the pool and D̄pool); ``acquire`` is the acquisition function on those
predictions. The last iteration only trains and evaluates (the budget is reached), so it has no
predict or acquire time.

After each iteration the script also trains a *plain* copy of the network for the same number of
epochs on the same labeled set and times it (``plain train s``): ``plain_network`` (an
``nn.Sequential`` of the same layers with torch's ``nn.Dropout2d`` / ``nn.Dropout``), trained by
``plain_train`` (Adam, the same epoch size, minibatch size, class weights and validation
every epoch in chunks of 4,096 with dropout off), the loop anyone would write. ``train / plain`` is
the ratio of the two: it measures the library's training code against plain PyTorch on the same
machine at the same moment, so it varies much less with the machine's load than the seconds do.
Each row also gives the 1-minute load average (``os.getloadavg``) when it was printed.
"""

from __future__ import annotations

import argparse
import copy
import functools
import os
import platform
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from balance_lite import data
from balance_lite import loop as loop_module
from balance_lite.experiments.presets import get_preset
from balance_lite.loop import run_active_learning
from balance_lite.models import ConsistentDropout, ConsistentDropout2d, build_model
from balance_lite.train import TrainConfig, class_weights, cpu_threads, default_threads, train_model

print = functools.partial(print, flush=True)  # noqa: A001  (stream rows when output is a file)

PHASES = ("train", "evaluate", "predict", "acquire")


class _ProcessClock:
    """Stands in for the ``time`` module in :mod:`balance_lite.loop` with ``--clock process``."""

    perf_counter = staticmethod(time.process_time)


def plain_network(model: nn.Module) -> nn.Sequential:
    """The layers of an :class:`~balance_lite.models.MCDropoutNet` as a plain ``nn.Sequential``.

    Consistent dropout layers become ``nn.Dropout2d`` / ``nn.Dropout`` with the same ``p``; every
    other layer is copied with its weights.
    """
    layers = []
    for layer in model.layers:
        if isinstance(layer, ConsistentDropout2d):
            layers.append(nn.Dropout2d(layer.p))
        elif isinstance(layer, ConsistentDropout):
            layers.append(nn.Dropout(layer.p))
        else:
            layers.append(copy.deepcopy(layer))
    return nn.Sequential(*layers)


def plain_train(net: nn.Module, x: Tensor, y: Tensor, val_x: Tensor, val_y: Tensor, *, config: TrainConfig,
                epochs: int, num_classes: int) -> float:
    """Train ``net`` for ``epochs`` epochs with a textbook PyTorch loop; returns the best validation accuracy.

    The same steps as :func:`balance_lite.train.train_model`: per epoch, ``config.epoch_size``
    examples drawn with replacement from ``x`` ``[n, ...]`` in minibatches of ``config.batch_size``,
    class-weighted cross-entropy, Adam, then the accuracy on ``val_x`` ``[V, ...]`` with dropout
    off (chunks of 4,096), keeping a copy of the best state, which is restored at the end.
    """
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    weight = class_weights(y, num_classes) if config.class_weighted else None
    best, best_state = -1.0, None
    for _ in range(epochs):
        net.train()
        draws = torch.randint(x.shape[0], (config.epoch_size,))
        for i in range(0, config.epoch_size, config.batch_size):
            batch = draws[i:i + config.batch_size]
            loss = F.cross_entropy(net(x[batch]), y[batch], weight=weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            correct = sum(int((net(val_x[i:i + 4096]).argmax(-1) == val_y[i:i + 4096]).sum())
                          for i in range(0, val_x.shape[0], 4096))
        accuracy = correct / max(1, val_x.shape[0])
        if accuracy > best:
            best, best_state = accuracy, copy.deepcopy(net.state_dict())
    if best_state is not None:
        net.load_state_dict(best_state)
    return best


def _warm_up(factory, splits, config: TrainConfig, device, threads) -> None:
    """One tiny run of both training loops, so that first-call costs (imports, kernels) hit neither."""
    tiny = TrainConfig(lr=config.lr, epoch_size=config.batch_size, batch_size=config.batch_size, max_epochs=1)
    x, y = splits.pool.x[:8].to(device), splits.pool.y[:8].to(device).long()
    vx, vy = splits.val.x[:8].to(device), splits.val.y[:8].to(device).long()
    model = factory().to(device)
    train_model(model, x, y, vx, vy, config=tiny, seed=0, num_threads=threads)
    plain_train(plain_network(model), x, y, vx, vy, config=tiny, epochs=1, num_classes=splits.num_classes)


def compare_training(splits, factory, config: TrainConfig, *, epochs: int, repeats: int, threads: int | None,
                     clock) -> dict[str, float]:
    """Seconds of ``epochs`` training epochs on the initial labeled set: fast routes, plain layers, plain loop.

    ``fast``: :func:`~balance_lite.train.train_model` as the loop runs it; ``plain layers``: the same
    with ``model.fast_paths = False`` (the library's code before the fast routes); ``plain loop``:
    :func:`plain_train`. The three run in turn, ``repeats`` times; the best time of each is returned.
    """
    idx = torch.as_tensor([int(i) for i in splits.initial])
    x, y = splits.pool.x[idx], splits.pool.y[idx].long()
    vx, vy = splits.val.x, splits.val.y.long()
    fixed = TrainConfig(**{**config.__dict__, "max_epochs": epochs, "patience": epochs})
    best: dict[str, float] = {}
    for _ in range(repeats):
        for kind in ("fast", "plain layers", "plain loop"):
            torch.manual_seed(0)
            model = factory()
            with cpu_threads(threads if threads is not None else default_threads(model)):
                start = clock()
                if kind == "plain loop":
                    plain_train(plain_network(model), x, y, vx, vy, config=fixed, epochs=epochs,
                                num_classes=splits.num_classes)
                else:
                    model.fast_paths = kind == "fast"
                    train_model(model, x, y, vx, vy, config=fixed, seed=0, num_threads=threads)
                seconds = clock() - start
            best[kind] = min(best.get(kind, float("inf")), seconds)
    return best


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
    parser.add_argument("--no-plain", action="store_true", help="skip the plain PyTorch training reference")
    parser.add_argument("--clock", choices=("wall", "process"), default="wall",
                        help="wall: seconds on the wall clock; process: CPU seconds of this process (summed over "
                             "its threads; with --threads 1 nearly independent of other processes' load)")
    parser.add_argument("--compare-training", type=int, default=0, metavar="EPOCHS",
                        help="instead of the iterations: time EPOCHS epochs of training on the initial labels with "
                             "the fast routes, with the plain layers and with the plain loop, in turn (twice)")
    args = parser.parse_args(argv)
    if args.iterations < 1:
        parser.error(f"--iterations must be >= 1, got {args.iterations}")

    preset = get_preset(args.preset)
    strategy = preset.strategy(args.method)
    config = preset.train_config()
    splits = data.load(preset.dataset, root=args.data_root, seed=args.seed)
    factory = functools.partial(build_model, preset.dataset, splits.input_shape, splits.num_classes)
    budget = len(splits.initial) + args.iterations * args.batch_size
    device = torch.device(args.device or "cpu")
    print(f"# {preset.name}: {strategy.name} {strategy.params()}, B = {args.batch_size}, "
          f"pool {len(splits.pool)}, D̄pool {len(splits.holdout)}, val {len(splits.val)}, test {len(splits.test)}")
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    cpu = platform.processor() or platform.machine()
    print(f"# device {device}{f' ({gpu})' if gpu else ''}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads available, {os.cpu_count()} CPUs, {cpu}")
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    if args.clock == "process":
        loop_module.time = _ProcessClock  # the loop times its phases with time.perf_counter
    print(f"# clock {args.clock}, torch threads {args.threads or 'default'}, load average "
          + " ".join(f"{v:.1f}" for v in os.getloadavg()))
    if args.compare_training:
        best = compare_training(splits, factory, config, epochs=args.compare_training, repeats=2,
                                threads=args.threads, clock=clock)
        print(f"# training, {args.compare_training} epochs on {len(splits.initial)} labels (best of 2): "
              + ", ".join(f"{k} {v:.2f} s" for k, v in best.items()))
        print(f"# fast / plain loop {best['fast'] / best['plain loop']:.2f}, plain layers / plain loop "
              f"{best['plain layers'] / best['plain loop']:.2f}, fast / plain layers "
              f"{best['fast'] / best['plain layers']:.2f}; load average "
              + " ".join(f"{v:.1f}" for v in os.getloadavg()))
        loop_module.time = time
        return 0
    columns = [f"{p} s" for p in PHASES] + ["total s", "accuracy", "plain train s", "train / plain", "load"]
    print("| iteration | labels | epochs | " + " | ".join(columns) + " |")
    print("| --- " * (len(columns) + 3) + "|")

    labeled = [int(i) for i in splits.initial]
    ratios: list[float] = []
    rows: list[dict] = []

    def row(record):
        total = sum(record.seconds[p] for p in PHASES)
        plain_s, ratio = float("nan"), float("nan")
        if not args.no_plain and record.epochs:
            idx = torch.as_tensor(labeled)
            torch.manual_seed(args.seed)
            net = plain_network(factory()).to(device)
            threads = args.threads if args.threads is not None else default_threads(net)
            with cpu_threads(threads):
                start = clock()
                plain_train(net, splits.pool.x[idx].to(device), splits.pool.y[idx].to(device).long(),
                            splits.val.x.to(device), splits.val.y.to(device).long(), config=config,
                            epochs=record.epochs, num_classes=splits.num_classes)
                plain_s = clock() - start
            ratio = record.seconds["train"] / plain_s
            ratios.append(ratio)
        labeled.extend(record.selected)
        rows.append(dict(record.seconds, total=total))
        print(f"| {record.iteration} | {record.labels} | {record.epochs} | "
              + " | ".join(f"{record.seconds[p]:.2f}" for p in PHASES)
              + f" | {total:.2f} | {record.accuracy:.3f} | {plain_s:.2f} | {ratio:.2f} | {os.getloadavg()[0]:.1f} |")

    _warm_up(factory, splits, config, device, args.threads)
    start = time.perf_counter()
    try:
        run_active_learning(splits, factory, strategy, batch_size=args.batch_size, budget=budget,
                            train_config=config, eval_samples=preset.eval_samples, seed=args.seed,
                            device=device, on_iteration=row, num_threads=args.threads)
    finally:
        loop_module.time = time
    acquiring = rows[:-1]
    means = {k: sum(r[k] for r in acquiring) / len(acquiring) for k in (*PHASES, "total")}
    print(f"# mean of the {len(acquiring)} acquiring iterations: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in means.items())
          + (f"; train / plain {sum(ratios) / len(ratios):.2f} (all {len(ratios)} iterations)" if ratios else ""))
    print(f"# wall {time.perf_counter() - start:.1f} s for {args.iterations} acquisitions (plain runs included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
