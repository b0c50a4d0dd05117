r"""The paper's training protocol (Sec. 4.1 and App. B.1): one network, trained from scratch each iteration.

Chapter: *The active learning loop in 30 lines*.

At every active-learning iteration the network is re-initialised and trained on the labeled set:

- Adam (learning rate 1e-3 for images, 1e-2 for tabular data);
- class-weighted cross-entropy, with weight ``1 / count`` for each class of the labeled set (a
  class with no label yet gets weight 0: it never appears as a target anyway);
- an "epoch" is a fixed number of examples (4,096 for MNIST, 8,192 for Dry Bean) drawn with
  replacement from the small labeled set, in minibatches;
- after each epoch the validation accuracy is measured with dropout off; training stops when it
  has not improved for ``patience`` (3) epochs, and the best validation state is restored.

Example:
    >>> from balance_lite import data
    >>> from balance_lite.models import build_model
    >>> splits = data.load("digits", seed=0)
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = build_model("digits", splits.input_shape, splits.num_classes)
    >>> result = train_model(model, splits.pool.x, splits.pool.y, splits.val.x, splits.val.y,
    ...                      config=train_config_for("digits"), seed=0)
    >>> result.best_val_accuracy > 0.9
    True
"""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .checks import check_positive_int
from .data.registry import dataset_spec

__all__ = ["TrainConfig", "TrainResult", "class_weights", "cpu_threads", "default_threads", "train_config_for", "train_model", "val_accuracy"]


@dataclass(frozen=True)
class TrainConfig:
    """How to train the network at one active-learning iteration.

    Attributes:
        lr: Adam's learning rate (1e-3 images, 1e-2 tabular data in the paper).
        epoch_size: examples drawn with replacement from the labeled set per epoch.
        batch_size: minibatch size.
        max_epochs: the most epochs, even if validation accuracy keeps improving.
        patience: stop after this many epochs without a better validation accuracy.
        weight_decay: Adam's L2 penalty (0 in the paper).
        class_weighted: weight the cross-entropy by ``1 / count`` of each class.
    """

    lr: float = 1e-3
    epoch_size: int = 4096
    batch_size: int = 64
    max_epochs: int = 50
    patience: int = 3
    weight_decay: float = 0.0
    class_weighted: bool = True

    def __post_init__(self):
        for name in ("epoch_size", "batch_size", "max_epochs", "patience"):
            check_positive_int(getattr(self, name), name)
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")


def train_config_for(name: str, **overrides) -> TrainConfig:
    """The paper's training settings for dataset ``name`` (App. B.1), with optional overrides.

    Images: Adam lr 1e-3, epochs of 4,096 examples. Tabular data (HAR, DRIFT, Dry Bean): lr 1e-2,
    with 8,192-example epochs for Dry Bean. The embedded digits (not in the paper) are treated as
    tabular data (lr 1e-2) with 1,024-example epochs, our choice: the set is small and converges
    in a few epochs. Repeated-digits trains like the digits.

    The settings are declared with the dataset (:class:`balance_lite.data.DatasetSpec`).

    Args:
        name: a dataset name (see :func:`balance_lite.data.available`).
        overrides: any :class:`TrainConfig` field, e.g. ``max_epochs=5``.

    Raises:
        ValueError: ``name`` is not a known dataset.

    Example:
        >>> train_config_for("dry-bean").epoch_size, train_config_for("har").lr
        (8192, 0.01)
    """
    return TrainConfig(**{**dataset_spec(name).training, **overrides})


@dataclass
class TrainResult:
    """What happened during one training run.

    Attributes:
        epochs: epochs run.
        best_epoch: the epoch (1-based) whose state was restored; 0 if no epoch ran.
        best_val_accuracy: its validation accuracy.
        val_accuracies: validation accuracy after each epoch.
        stopped_early: True if patience ran out before ``max_epochs``.
        seconds: wall time.
    """

    epochs: int
    best_epoch: int
    best_val_accuracy: float
    val_accuracies: list[float] = field(default_factory=list)
    stopped_early: bool = False
    seconds: float = 0.0


def class_weights(labels: Tensor, num_classes: int) -> Tensor:
    """Cross-entropy weights ``1 / count`` per class; 0 for a class with no label.

    Args:
        labels: ``[n]`` int class labels of the labeled set.
        num_classes: C.

    Returns:
        ``[C]`` float weights on ``labels``' device.

    Raises:
        ValueError: a label outside ``[0, C)``.

    Example:
        >>> class_weights(torch.tensor([0, 0, 2, 2, 2, 2]), 4)
        tensor([0.5000, 0.0000, 0.2500, 0.0000])
    """
    labels = labels.long()
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"labels must lie in [0, num_classes={num_classes}), got range "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    counts = torch.bincount(labels, minlength=num_classes).float()
    return torch.where(counts > 0, 1.0 / counts.clamp(min=1.0), torch.zeros_like(counts))


@torch.no_grad()
def val_accuracy(model: torch.nn.Module, x: Tensor, y: Tensor, *, chunk_size: int = 4096) -> float:
    """Accuracy of the network with dropout off on ``x`` ``[n, ...]``, ``y`` ``[n]``."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        correct = 0
        for i in range(0, x.shape[0], chunk_size):
            pred = model(x[i:i + chunk_size].to(device)).argmax(-1)
            correct += int((pred == y[i:i + chunk_size].to(device)).sum())
    finally:
        model.train(was_training)
    return correct / max(1, x.shape[0])


def train_model(
    model: torch.nn.Module,
    x: Tensor,
    y: Tensor,
    val_x: Tensor | None = None,
    val_y: Tensor | None = None,
    *,
    config: TrainConfig = TrainConfig(),
    num_classes: int | None = None,
    seed: int | None = None,
    evaluate: Callable[[torch.nn.Module], float] | None = None,
    progress: bool = False,
    num_threads: int | None = None,
) -> TrainResult:
    """Train ``model`` in place on a labeled set with the paper's protocol, restoring the best state.

    Args:
        model: a network returning logits ``[n, C]`` (e.g. from :func:`balance_lite.models.build_model`),
            already initialised; it is trained on its own device.
        x: ``[n, ...]`` labeled inputs (n >= 1).
        y: ``[n]`` labels.
        val_x: ``[V, ...]`` validation inputs for early stopping.
        val_y: ``[V]`` validation labels.
        config: optimiser, epoch size, patience, ...
        num_classes: C (default: ``model.num_classes``).
        seed: makes the run reproducible (minibatches and dropout), without touching the caller's
            random state; None uses the global random state.
        evaluate: replaces the validation accuracy: called with the model after each epoch, returns
            the number to maximise. Either ``evaluate`` or ``val_x`` and ``val_y`` must be given.
        progress: show a tqdm bar over epochs.
        num_threads: CPU threads for torch while training; None: :func:`default_threads`.

    Returns:
        A :class:`TrainResult`; the model holds the weights of the best validation epoch.

    Raises:
        ValueError: an empty labeled set, mismatched lengths, or no way to validate.
    """
    if x.shape[0] == 0:
        raise ValueError("x must hold at least one labeled example, got 0 (skip training instead)")
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape [{x.shape[0]}] to match x, got {tuple(y.shape)}")
    if evaluate is None:
        if val_x is None or val_y is None:
            raise ValueError("val_x and val_y must be given when evaluate is None")
        if val_y.shape != (val_x.shape[0],):
            raise ValueError(f"val_y must have shape [{val_x.shape[0]}] to match val_x, got {tuple(val_y.shape)}")
        evaluate = lambda m: val_accuracy(m, val_x, val_y)  # noqa: E731
    if num_classes is None:
        num_classes = getattr(model, "num_classes", None)
        if num_classes is None:
            raise ValueError("num_classes must be given for a model without a num_classes attribute")
    device = next(model.parameters()).device
    devices = [device.index or 0] if device.type == "cuda" else []
    start = time.perf_counter()
    if num_threads is None:
        num_threads = default_threads(model)
    with torch.random.fork_rng(devices=devices, enabled=seed is not None), cpu_threads(num_threads):
        if seed is not None:
            torch.manual_seed(seed)
        result = _train(model, x.to(device), y.to(device).long(), config, num_classes, evaluate, progress)
    result.seconds = time.perf_counter() - start
    return result


def default_threads(model: torch.nn.Module) -> int | None:
    """1 for a network with fewer than 100,000 parameters on the CPU, else None (torch's setting).

    Such a network's operations are too small to gain from several threads, and idle threads
    spinning on a busy machine made training the digits MLP ten times slower in our measurements.
    """
    params = list(model.parameters())
    small = sum(p.numel() for p in params) < 100_000
    return 1 if small and params and params[0].device.type == "cpu" else None


@contextlib.contextmanager
def cpu_threads(num_threads: int | None):
    """Run the body with ``torch.set_num_threads(num_threads)`` (None: leave it), then restore."""
    if num_threads is None:
        yield
        return
    check_positive_int(num_threads, "num_threads")
    before = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train(model, x, y, config: TrainConfig, num_classes: int, evaluate, progress: bool) -> TrainResult:
    from tqdm.auto import tqdm

    weight = class_weights(y, num_classes) if config.class_weighted else None
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    n = x.shape[0]
    best_acc, best_epoch, best_state = float("-inf"), 0, None
    history: list[float] = []
    since_best = 0
    stopped_early = False
    bar = tqdm(range(1, config.max_epochs + 1), desc="train", leave=False, disable=not progress)
    for epoch in bar:
        model.train()
        draws = torch.randint(n, (config.epoch_size,), device=x.device)
        for i in range(0, config.epoch_size, config.batch_size):
            batch = draws[i:i + config.batch_size]
            loss = F.cross_entropy(model(x[batch]), y[batch], weight=weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        acc = float(evaluate(model))
        history.append(acc)
        bar.set_postfix(val_acc=f"{acc:.3f}")
        if acc > best_acc:
            best_acc, best_epoch, since_best = acc, epoch, 0
            best_state = copy.deepcopy(model.state_dict())  # a real copy, not views of live weights
        else:
            since_best += 1
            if since_best >= config.patience:
                stopped_early = epoch < config.max_epochs
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainResult(epochs=len(history), best_epoch=best_epoch, best_val_accuracy=best_acc,
                       val_accuracies=history, stopped_early=stopped_early)
