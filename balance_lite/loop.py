r"""The pool-based active-learning loop (Sec. 4.1 of the paper): train, evaluate, acquire, reveal.

Chapter: *The active learning loop in 30 lines*.

Each iteration t, with the labeled set L_t (positions in the pool):

1. build a fresh network (re-initialised every iteration, as in the paper) and train it on L_t
   (skipped while L_t is empty: the first batch is then chosen by the untrained network);
2. evaluate it on the test set (accuracy, macro AUC, macro F1, NLL of the MC-averaged
   predictive) and measure the dropout-off validation error epsilon (which anneals tau);
3. unless the label budget is reached, let the acquisition strategy choose a batch of B
   unlabeled pool points, and reveal their labels: L_{t+1} = L_t + batch. The strategy gets the
   candidates' inputs, D̄pool's if it declares ``uses_holdout``, and the labeled inputs (as
   ``labeled_x``) if it declares ``uses_labeled`` (Core-Set).

Every random choice of iteration t is seeded from ``(seed, t)`` alone (see :func:`iteration_seeds`),
so a run can stop after any iteration and resume with the very same selections.

Example:
    >>> from functools import partial
    >>> from balance_lite import data
    >>> from balance_lite.models import build_model
    >>> splits = data.load("digits", seed=0)
    >>> factory = partial(build_model, "digits", splits.input_shape, splits.num_classes)
    >>> result = run_active_learning(splits, factory, "random", batch_size=10, budget=40, seed=0)
    >>> [r.labels for r in result.records]
    [20, 30, 40]
    >>> len(result.records[0].selected), result.records[-1].selected
    (10, [])
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable, NamedTuple, Sequence

import numpy as np
import torch

from .checks import check_int, check_positive_int
from .data import Splits
from .metrics import evaluate_predictions
from .strategies import Strategy, get_strategy
from .train import (TrainConfig, TrainResult, cpu_threads, default_threads, train_config_for, train_model,
                    val_accuracy)

__all__ = ["ActiveLearningResult", "IterationRecord", "IterationSeeds", "candidate_subset", "iteration_seeds",
           "run_active_learning"]

_PURPOSES = {"init": 0, "train": 1, "evaluate": 2, "acquire": 3}


class IterationSeeds(NamedTuple):
    """The seeds of one iteration: network initialisation, training, test-set masks, acquisition."""

    init: int
    train: int
    evaluate: int
    acquire: int


def iteration_seeds(seed: int, iteration: int) -> IterationSeeds:
    """Independent seeds for iteration ``iteration`` of a run seeded by ``seed``.

    They depend on ``(seed, iteration)`` only, through numpy's ``SeedSequence``, so iteration t is
    reproducible without replaying iterations 0..t-1.

    Example:
        >>> iteration_seeds(0, 3) == iteration_seeds(0, 3), iteration_seeds(0, 3) == iteration_seeds(1, 3)
        (True, False)
    """
    states = [np.random.SeedSequence([int(seed), int(iteration), code]).generate_state(1, np.uint64)[0]
              for code in _PURPOSES.values()]
    return IterationSeeds(*(int(s % (2**63 - 1)) for s in states))


@dataclass
class IterationRecord:
    """What one iteration measured: one line of a results file.

    Attributes:
        iteration: t, from 0.
        labels: size of the labeled set the network was trained on.
        accuracy: test accuracy of the MC-averaged predictive.
        macro_auc: macro one-vs-rest AUC (NaN if a class is missing from the test set).
        macro_f1: macro F1.
        nll: test negative log-likelihood (nats per point).
        val_accuracy: validation accuracy with dropout off (1 - epsilon).
        tau: the Hamming threshold used to acquire (BALanCe methods), else None.
        num_edges: cut hypothesis pairs among the K (BALanCe methods), else None.
        random_fallback: the strategy found nothing to go on and acquired at random.
        fallback_reason: why it did (see :func:`balance_lite.acquisition.no_edge_fallback`), else None.
        selected: pool positions acquired after this evaluation, in pick order ([] at the end).
        scores: the strategy's value after each pick.
        num_tied: how many candidates tied for each pick (the pick was drawn among them).
        epochs: training epochs run (0 when there was nothing to train on).
        seconds: wall time of ``train``, ``evaluate``, ``predict`` and ``acquire``.
    """

    iteration: int
    labels: int
    accuracy: float
    macro_auc: float
    macro_f1: float
    nll: float
    val_accuracy: float
    tau: float | None = None
    num_edges: int | None = None
    random_fallback: bool = False
    fallback_reason: str | None = None
    selected: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    num_tied: list[int] = field(default_factory=list)
    epochs: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-ready dict (NaN stays NaN; the results writer stores it as ``NaN``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict) -> "IterationRecord":
        """Rebuild a record from :meth:`to_dict`'s output (extra keys are ignored, missing ones take
        their defaults: records written before ``fallback_reason`` and ``num_tied`` existed load)."""
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in record.items() if k in names})


@dataclass
class ActiveLearningResult:
    """A whole run: one record per iteration, and the final labeled set.

    Attributes:
        records: the iterations, in order.
        labeled: pool positions of the labeled set at the end (initial set first, then acquisitions).
    """

    records: list[IterationRecord]
    labeled: list[int]

    def curve(self, metric: str = "accuracy") -> tuple[list[int], list[float]]:
        """``(labels, values)`` of one metric: the learning curve."""
        return [r.labels for r in self.records], [getattr(r, metric) for r in self.records]


def _resolve_device(device) -> torch.device:
    if device is None:
        return torch.device("cpu")
    return torch.device(device)


def run_active_learning(
    dataset: Splits,
    model_factory: Callable[[], torch.nn.Module],
    acquisition: Strategy | str,
    *,
    batch_size: int,
    budget: int,
    initial: Sequence[int] | None = None,
    train_config: TrainConfig | None = None,
    eval_samples: int = 20,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = False,
    resume: Sequence[IterationRecord | dict] = (),
    on_iteration: Callable[[IterationRecord], None] | None = None,
    num_threads: int | None = None,
    candidates: int | None = None,
) -> ActiveLearningResult:
    """Run pool-based active learning from an initial labeled set until ``budget`` labels.

    Args:
        dataset: the splits (pool, D̄pool, val, test) from :func:`balance_lite.data.load`.
        model_factory: builds a freshly initialised network (e.g.
            ``functools.partial(build_model, "digits", splits.input_shape, splits.num_classes)``);
            called once per iteration under the iteration's ``init`` seed.
        acquisition: a :class:`~balance_lite.strategies.Strategy`, or a registered name with default
            parameters (see :func:`balance_lite.strategies.get_strategy`).
        batch_size: B, labels acquired per iteration (the last batch is smaller if the budget or the
            pool runs out).
        budget: stop once the labeled set holds this many labels.
        initial: pool positions labeled at the start; default ``dataset.initial`` (2 per class);
            ``[]`` starts from nothing (the first batch comes from the untrained network).
        train_config: training settings; default ``train_config_for(dataset.name)``.
        eval_samples: S for the test-set MC average.
        seed: seeds everything (see :func:`iteration_seeds`).
        device: where the network, and so every prediction, lives (default CPU).
        progress: one tqdm bar over the iterations of this run.
        resume: the records of an interrupted run with the same arguments; its iterations are
            kept, not recomputed, and the run continues after the last one.
        on_iteration: called with each new record as soon as it is complete (e.g. to append it to
            a file).
        num_threads: CPU threads for torch during each iteration; None: one thread for small networks
            on the CPU, torch's setting otherwise (see :func:`balance_lite.train.default_threads`).
        candidates: if set, each iteration scores only a random subset of this many unlabeled pool
            points (drawn from the iteration's acquisition seed), as Gal et al. (2017) did to save
            compute; for a repeated pool (``dataset.origin`` set), every unlabeled copy of this many
            random original images instead (see :func:`candidate_subset`). None scores the whole pool.

    Returns:
        An :class:`ActiveLearningResult` holding ``resume``'s records followed by the new ones.

    Raises:
        TypeError: ``batch_size``, ``budget`` or ``eval_samples`` is not an integer.
        ValueError: bad ``batch_size``, ``budget``, ``initial``, ``eval_samples``, or ``resume``
            records that do not continue ``initial``.
    """
    pool = dataset.pool
    N = len(pool)
    check_positive_int(batch_size, "batch_size")
    check_positive_int(eval_samples, "eval_samples")
    if candidates is not None:
        check_positive_int(candidates, "candidates")
    initial = list(dataset.initial if initial is None else initial)
    initial = [int(i) for i in initial]
    if len(set(initial)) != len(initial) or any(not 0 <= i < N for i in initial):
        raise ValueError(f"initial must hold distinct pool positions in [0, {N}), got {initial}")
    budget = check_int(budget, "budget")
    if not len(initial) <= budget <= N:
        raise ValueError(f"budget must be an integer between len(initial) = {len(initial)} and the pool size {N}, "
                         f"got {budget!r}")
    strategy = get_strategy(acquisition) if isinstance(acquisition, str) else acquisition
    config = train_config or train_config_for(dataset.name)
    device = _resolve_device(device)

    records = [r if isinstance(r, IterationRecord) else IterationRecord.from_dict(r) for r in resume]
    labeled = list(initial)
    for t, record in enumerate(records):
        if record.iteration != t or record.labels != len(labeled):
            raise ValueError(f"resume record {t} must be iteration {t} with {len(labeled)} labels, "
                             f"got iteration {record.iteration} with {record.labels}")
        labeled.extend(int(i) for i in record.selected)
    if records and not records[-1].selected:
        return ActiveLearningResult(records, labeled)
    if len(set(labeled)) != len(labeled):
        raise ValueError("resume records must not acquire a pool position twice")

    from tqdm.auto import tqdm

    total = 1 + max(0, -(-(budget - len(initial)) // batch_size))
    bar = tqdm(total=total, initial=len(records), desc=f"{strategy.name} seed {seed}", disable=not progress)
    t = len(records)
    while True:
        record = _iteration(t, dataset, model_factory, strategy, labeled, batch_size=batch_size, budget=budget,
                            config=config, eval_samples=eval_samples, seed=seed, device=device,
                            num_threads=num_threads, num_candidates=candidates)
        records.append(record)
        if on_iteration is not None:
            on_iteration(record)
        bar.update(1)
        bar.set_postfix(labels=record.labels, acc=f"{record.accuracy:.3f}")
        if not record.selected:
            break
        labeled.extend(record.selected)  # reveal their labels: the next network trains on them
        t += 1
    bar.close()
    return ActiveLearningResult(records, labeled)


def candidate_subset(candidates: list[int], size: int, origin: np.ndarray | None,
                     generator: torch.Generator) -> list[int]:
    """The unlabeled pool positions one iteration scores when it scores a random subset.

    Args:
        candidates: the unlabeled pool positions, ascending.
        size: without ``origin``, keep this many of them; with it (a repeated pool), keep every
            unlabeled copy of this many original images, drawn among those with an unlabeled copy,
            so that the duplicates stay among the candidates.
        origin: ``[len(pool)]`` the original image of each pool position (``origin`` of
            :class:`~balance_lite.data.Splits`), or None.
        generator: draws the subset (nothing is drawn when every candidate is kept).

    Returns:
        The kept positions, ascending.
    """
    if origin is None:
        if size >= len(candidates):
            return candidates
        subset = torch.randperm(len(candidates), generator=generator)[:size].sort().values
        return [candidates[i] for i in subset.tolist()]
    images_of = origin[np.asarray(candidates, dtype=np.int64)]
    images = np.unique(images_of)
    if size >= len(images):
        return candidates
    chosen = images[torch.randperm(len(images), generator=generator)[:size].numpy()]
    keep = np.isin(images_of, chosen)
    return [c for c, k in zip(candidates, keep.tolist()) if k]


def _iteration(t, dataset: Splits, model_factory, strategy: Strategy, labeled: list[int], *, batch_size, budget,
               config, eval_samples, seed, device, num_threads, num_candidates=None) -> IterationRecord:
    seeds = iteration_seeds(seed, t)
    seconds = {"train": 0.0, "evaluate": 0.0, "predict": 0.0, "acquire": 0.0}
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(seeds.init)
        model = model_factory().to(device)

    threads = num_threads if num_threads is not None else default_threads(model)
    start = time.perf_counter()
    trained: TrainResult | None = None
    if labeled:
        idx = torch.as_tensor(labeled)
        trained = train_model(model, dataset.pool.x[idx], dataset.pool.y[idx], dataset.val.x, dataset.val.y,
                              config=config, seed=seeds.train, num_threads=threads)
    seconds["train"] = time.perf_counter() - start

    start = time.perf_counter()
    model.eval()
    with cpu_threads(threads):
        g_eval = torch.Generator().manual_seed(seeds.evaluate)
        test_lp = model.sample_log_probs(dataset.test.x, eval_samples, generator=g_eval)
        metrics = evaluate_predictions(test_lp, dataset.test.y)
        del test_lp
        val_acc = trained.best_val_accuracy if trained else val_accuracy(model, dataset.val.x, dataset.val.y)
    seconds["evaluate"] = time.perf_counter() - start

    record = IterationRecord(iteration=t, labels=len(labeled), val_accuracy=float(val_acc),
                             epochs=trained.epochs if trained else 0, seconds=seconds, **metrics)
    labeled_set = set(labeled)
    candidates = [i for i in range(len(dataset.pool)) if i not in labeled_set]
    b = min(batch_size, budget - len(labeled), len(candidates))
    if b <= 0:
        return record

    generator = torch.Generator().manual_seed(seeds.acquire)
    if num_candidates is not None:
        candidates = candidate_subset(candidates, num_candidates, dataset.origin, generator)
    pool_x = dataset.pool.x[torch.as_tensor(candidates)]
    holdout_x = dataset.holdout.x if strategy.uses_holdout else None
    extra = {}
    if strategy.uses_labeled:
        extra["labeled_x"] = dataset.pool.x[torch.as_tensor(labeled, dtype=torch.long)]
    with cpu_threads(threads):
        start = time.perf_counter()
        predictions = strategy.predict(model, pool_x, holdout_x, generator=generator, **extra)
        seconds["predict"] = time.perf_counter() - start
        start = time.perf_counter()
        chosen = strategy.select(predictions, b, val_error=1.0 - float(val_acc), generator=generator)
        seconds["acquire"] = time.perf_counter() - start
    del predictions
    if len(chosen.indices) != b or len(set(chosen.indices)) != b:
        raise RuntimeError(f"strategy {strategy.name!r} must return {b} distinct positions, got {chosen.indices}")
    record.selected = [candidates[i] for i in chosen.indices]
    record.scores = [float(s) for s in chosen.scores]
    record.num_tied = [int(n) for n in chosen.num_tied]
    record.tau = chosen.tau
    record.num_edges = chosen.num_edges
    record.random_fallback = bool(chosen.random_fallback)
    record.fallback_reason = chosen.fallback_reason
    return record
