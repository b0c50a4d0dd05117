"""Tests for balance_lite.train: the paper's training protocol."""

import pytest
import torch

from balance_lite import data
from balance_lite.models import build_model
from balance_lite.train import TrainConfig, class_weights, cpu_threads, train_config_for, train_model, val_accuracy


def fresh(seed=0):
    torch.manual_seed(seed)
    return build_model("digits", (64,), 10)


def test_all_labels_reach_over_90_percent_in_seconds(digits):
    model = fresh()
    config = train_config_for("digits")
    result = train_model(model, digits.pool.x, digits.pool.y, digits.val.x, digits.val.y, config=config, seed=0)
    test_acc = val_accuracy(model, digits.test.x, digits.test.y)
    assert test_acc > 0.9, test_acc
    assert result.seconds < 20
    assert 1 <= result.best_epoch <= result.epochs <= config.max_epochs
    assert result.best_val_accuracy == max(result.val_accuracies)
    # the restored model is the best epoch's: its validation accuracy is the recorded best
    assert val_accuracy(model, digits.val.x, digits.val.y) == pytest.approx(result.best_val_accuracy)


def test_early_stopping_with_a_scripted_validation_sequence(digits):
    script = [0.2, 0.5, 0.4, 0.5, 0.45, 0.99, 0.99]  # best at epoch 2; 3 epochs without improvement
    snapshots = []

    def evaluate(model):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return script[len(snapshots) - 1]

    model = fresh()
    x, y = digits.pool.x[:40], digits.pool.y[:40]
    result = train_model(model, x, y, evaluate=evaluate, config=TrainConfig(epoch_size=128, patience=3), seed=0)
    assert result.epochs == 5 and result.val_accuracies == script[:5]
    assert result.best_epoch == 2 and result.best_val_accuracy == 0.5 and result.stopped_early
    final = model.state_dict()
    assert all(torch.equal(final[k], snapshots[1][k]) for k in final)  # epoch 2 restored ...
    assert not all(torch.equal(final[k], snapshots[4][k]) for k in final)  # ... not the last epoch


def test_no_early_stop_when_accuracy_keeps_improving(digits):
    script = iter([0.1, 0.2, 0.3, 0.4])
    result = train_model(fresh(), digits.pool.x[:20], digits.pool.y[:20], evaluate=lambda m: next(script),
                         config=TrainConfig(epoch_size=64, max_epochs=4), seed=0)
    assert result.epochs == 4 and result.best_epoch == 4 and not result.stopped_early


def test_class_weights_with_a_missing_class():
    weights = class_weights(torch.tensor([0, 0, 0, 1, 3, 3]), 5)
    torch.testing.assert_close(weights, torch.tensor([1 / 3, 1.0, 0.0, 0.5, 0.0]))
    assert class_weights(torch.tensor([], dtype=torch.long), 3).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="labels must lie in"):
        class_weights(torch.tensor([0, 7]), 5)


def test_training_with_missing_classes_does_not_crash_and_uses_weights(digits):
    keep = (digits.pool.y < 3).nonzero().squeeze(1)[:30]  # classes 0, 1, 2 only, out of 10
    model = fresh()
    result = train_model(model, digits.pool.x[keep], digits.pool.y[keep], digits.val.x, digits.val.y,
                         config=TrainConfig(epoch_size=256, max_epochs=3), seed=0)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert 0 < result.best_val_accuracy <= 0.4  # it can only ever get (about) three classes of ten right


def test_class_weighting_changes_training_on_an_imbalanced_set(digits):
    y = digits.pool.y
    idx = torch.cat([(y == 0).nonzero().squeeze(1)[:40], (y == 1).nonzero().squeeze(1)[:2]])
    runs = {}
    for weighted in (True, False):
        model = fresh()
        train_model(model, digits.pool.x[idx], y[idx], evaluate=lambda m: 0.0,
                    config=TrainConfig(lr=1e-2, epoch_size=1024, max_epochs=2, class_weighted=weighted), seed=0)
        ones = digits.val.x[digits.val.y == 1]
        runs[weighted] = model(ones).softmax(-1)[:, 1].mean().item()
    assert runs[True] > runs[False] + 0.1  # weighting the rare class makes the network predict it more


def test_same_seed_same_weights_and_caller_rng_untouched(digits):
    x, y = digits.pool.x[:50], digits.pool.y[:50]
    config = TrainConfig(epoch_size=256, max_epochs=3)
    a, b, c = fresh(), fresh(), fresh()
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    train_model(a, x, y, digits.val.x, digits.val.y, config=config, seed=7)
    assert torch.equal(torch.rand(3), before)  # training with a seed left the global RNG where it was
    train_model(b, x, y, digits.val.x, digits.val.y, config=config, seed=7)
    train_model(c, x, y, digits.val.x, digits.val.y, config=config, seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_paper_settings_per_dataset():
    assert train_config_for("mnist") == TrainConfig(lr=1e-3, epoch_size=4096)
    assert train_config_for("dry-bean").epoch_size == 8192 and train_config_for("dry-bean").lr == 1e-2
    assert train_config_for("digits") == TrainConfig(lr=1e-2, epoch_size=1024)
    assert train_config_for("repeated-digits") == train_config_for("digits")
    assert train_config_for("har").lr == 1e-2 and train_config_for("emnist-balanced").lr == 1e-3
    assert train_config_for("mnist", patience=5).patience == 5


def test_cpu_threads_restores_the_setting():
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="num_threads"):
        with cpu_threads(0):
            pass


def test_bad_arguments_raise_naming_them(digits):
    x, y = digits.pool.x[:10], digits.pool.y[:10]
    with pytest.raises(ValueError, match="x must hold at least one"):
        train_model(fresh(), x[:0], y[:0], digits.val.x, digits.val.y)
    with pytest.raises(ValueError, match="y must have shape"):
        train_model(fresh(), x, y[:5], digits.val.x, digits.val.y)
    with pytest.raises(ValueError, match="val_x and val_y"):
        train_model(fresh(), x, y)
    with pytest.raises(ValueError, match="val_y must have shape"):
        train_model(fresh(), x, y, digits.val.x, digits.val.y[:3])
    for field, value in [("epoch_size", 0), ("patience", 0), ("batch_size", -1)]:
        with pytest.raises(ValueError, match=f"{field} must be a positive integer"):
            TrainConfig(**{field: value})
    for field, value in [("max_epochs", 1.5), ("epoch_size", True)]:
        with pytest.raises(TypeError, match=f"{field} must be a positive integer"):
            TrainConfig(**{field: value})
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=0)
