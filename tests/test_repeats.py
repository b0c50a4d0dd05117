"""Repeated pools: the copies, their origin array, and the redundancy count of a selected batch."""

from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_lite import data
from balance_lite.data import batch_redundancy, repeat_origin, repeat_pool
from balance_lite.experiments.presets import shrink


def test_repeat_pool_places_copy_r_of_point_i_at_r_n_plus_i():
    x = torch.arange(12.0).view(4, 3)
    y = torch.tensor([0, 1, 2, 1])
    x_rep, y_rep, origin = repeat_pool(x, y, 3, 0.0, torch.Generator().manual_seed(0))
    assert x_rep.shape == (12, 3) and origin.dtype == np.int64
    assert torch.equal(x_rep, x.repeat(3, 1)) and torch.equal(y_rep, y.repeat(3))
    assert origin.tolist() == [0, 1, 2, 3] * 3 == repeat_origin(4, 3).tolist()
    assert torch.equal(x_rep, x[torch.from_numpy(origin)])


def test_repeat_pool_noise_is_per_copy_and_a_prefix_of_more_copies():
    x, y = torch.zeros(500, 4), torch.zeros(500, dtype=torch.long)
    two, _, _ = repeat_pool(x, y, 2, 0.5, torch.Generator().manual_seed(3))
    four, _, _ = repeat_pool(x, y, 4, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(four[:1000], two)  # the first copies do not depend on how many follow
    assert not torch.equal(four[:500], four[500:1000])  # every copy has its own noise
    assert abs(float(four.std()) - 0.5) < 0.02 and abs(float(four.mean())) < 0.02


def test_repeat_pool_rejects_bad_arguments():
    x, y, g = torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), torch.Generator()
    with pytest.raises(ValueError, match="copies must be an integer of at least 1"):
        repeat_pool(x, y, 0, 0.1, g)
    with pytest.raises(ValueError, match="copies must be"):
        repeat_pool(x, y, 2.0, 0.1, g)
    with pytest.raises(ValueError, match="noise_std must be a non-negative number"):
        repeat_pool(x, y, 2, -0.1, g)
    with pytest.raises(ValueError, match="x and y must have the same length"):
        repeat_pool(x, y[:2], 2, 0.1, g)
    with pytest.raises(ValueError, match="n must be an integer"):
        repeat_origin(-1, 2)


def test_batch_redundancy_on_hand_made_batches():
    origin = repeat_origin(5, 3)  # positions i, 5 + i, 10 + i copy image i
    labels = np.array([0, 0, 1, 2, 3] * 3)
    # BALD-like: three copies of image 2 and two of image 0
    r = batch_redundancy([2, 7, 12, 0, 10], origin, labels=labels)
    assert (r.size, r.distinct_images, r.duplicate_picks, r.max_copies) == (5, 2, 3, 3)
    assert r.copies == {0: 2, 2: 3}
    assert r.class_counts == {0: 2, 1: 3} and r.distinct_classes == 2 and r.max_per_class == 3
    assert r.already_labeled == 0
    # no duplicates, but two different images of class 0
    r = batch_redundancy([0, 6, 12, 3], origin, labels=labels)
    assert (r.distinct_images, r.duplicate_picks, r.max_copies, r.copies) == (4, 0, 1, {})
    assert r.class_counts == {0: 2, 1: 1, 2: 1} and r.max_per_class == 2
    # copies of images labeled before the batch, through another copy
    r = batch_redundancy([5, 11, 4], origin, labeled=[0, 14])
    assert r.already_labeled == 2 and r.duplicate_picks == 0
    assert r.class_counts == {} and r.distinct_classes == 0 and r.max_per_class == 0
    # a pool that is not repeated: every position is its own image
    r = batch_redundancy([3, 1], np.arange(4), labels=torch.tensor([0, 1, 1, 1]))
    assert (r.distinct_images, r.duplicate_picks, r.max_copies, r.max_per_class) == (2, 0, 1, 2)


def test_batch_redundancy_rejects_bad_input():
    origin = repeat_origin(3, 2)
    with pytest.raises(ValueError, match="selected must hold distinct pool positions"):
        batch_redundancy([1, 1], origin)
    with pytest.raises(ValueError, match="selected must hold positions in 0..5"):
        batch_redundancy([6], origin)
    with pytest.raises(ValueError, match="selected must hold at least one"):
        batch_redundancy([], origin)
    with pytest.raises(ValueError, match="selected must be a 1-d sequence of integer"):
        batch_redundancy([0.5], origin)
    with pytest.raises(ValueError, match="origin must be a 1-d integer array"):
        batch_redundancy([0], origin.astype(float))
    with pytest.raises(ValueError, match="labels must have one class per pool position"):
        batch_redundancy([0], origin, labels=[0, 1])
    with pytest.raises(ValueError, match="labeled must hold positions"):
        batch_redundancy([0], origin, labeled=[-1])


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 8), copies=st.integers(1, 4), data_=st.data())
def test_batch_redundancy_matches_a_brute_force_count(n, copies, data_):
    origin = repeat_origin(n, copies)
    labels = data_.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    pool_labels = np.array(labels * copies)
    positions = data_.draw(st.permutations(range(n * copies)))
    b = data_.draw(st.integers(1, n * copies))
    selected, rest = positions[:b], positions[b:]
    labeled = rest[: data_.draw(st.integers(0, len(rest)))]
    r = batch_redundancy(selected, origin, labels=pool_labels, labeled=labeled)
    images = Counter(int(origin[i]) for i in selected)
    classes = Counter(int(pool_labels[i]) for i in selected)
    seen = {int(origin[i]) for i in labeled}
    assert r.size == b and r.distinct_images == len(images) and r.duplicate_picks == b - len(images)
    assert r.max_copies == max(images.values()) and r.copies == {i: k for i, k in images.items() if k > 1}
    assert r.class_counts == dict(classes) and r.max_per_class == max(classes.values())
    assert r.already_labeled == sum(int(origin[i]) in seen for i in selected)


def test_a_tiny_repeated_pool_keeps_its_origin_through_a_subset():
    rep = data.load("repeated-digits", seed=0)
    n = len(rep.pool) // 3
    small = shrink(rep, {"pool": 300}, seed=4)
    assert len(small.origin) == 300 and small.initial == sorted(small.initial)
    kept = torch.cat([rep.pool.x[i][None] for i in range(len(rep.pool))])  # positions are kept in order
    chosen = [int(torch.nonzero((kept == small.pool.x[j]).all(1))[0]) for j in range(300)]
    assert small.origin.tolist() == [c % n for c in chosen]
    # a batch of copies of one image, found through the subset's origin
    by_image = Counter(small.origin.tolist())
    image, count = by_image.most_common(1)[0]
    batch = np.flatnonzero(small.origin == image).tolist()
    r = batch_redundancy(batch, small.origin, labels=small.pool.y)
    assert count >= 2 and r.max_copies == count == r.size and r.distinct_images == 1 and r.max_per_class == count


def test_shrink_by_images_keeps_every_copy_of_the_kept_images():
    rep = data.load("repeated-digits", seed=1)
    n = len(rep.pool) // 3
    small = shrink(rep, {"images": 50, "val": 100}, seed=2)
    assert len(small.pool) == 150 and len(small.val) == 100
    kept = np.unique(small.origin)
    assert len(kept) == 50 and set(kept) >= set(rep.origin[rep.initial].tolist())
    assert Counter(small.origin.tolist()) == {int(i): 3 for i in kept}  # all three copies of each
    assert torch.equal(small.pool.x[small.initial], rep.pool.x[rep.initial])
    assert torch.equal(small.pool.y, rep.pool.y[np.flatnonzero(np.isin(rep.origin, kept))])
    assert "every copy of 50 original images" in small.description
    # a pool that is not repeated: images are points
    plain = shrink(data.load("digits", seed=1), {"images": 60}, seed=2)
    assert len(plain.pool) == 60 and plain.origin is None
    assert shrink(rep, {"images": n}, seed=2).pool is rep.pool
    with pytest.raises(ValueError, match="sizes\\['images'\\] must be at least the initial set's size 20"):
        shrink(rep, {"images": 10}, seed=0)
    with pytest.raises(ValueError, match="at most one of 'pool'"):
        shrink(rep, {"images": 50, "pool": 100}, seed=0)


def test_candidate_subset_draws_points_or_whole_images():
    from balance_lite.loop import candidate_subset

    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    candidates = list(range(1, 12))
    points = candidate_subset(candidates, 4, None, g())
    assert len(points) == 4 and points == sorted(points) and set(points) <= set(candidates)
    assert candidate_subset(candidates, 20, None, g()) == candidates
    origin = repeat_origin(4, 3)  # images 0..3 at i, 4 + i, 8 + i; position 0 (image 0) is labeled
    grouped = candidate_subset(candidates, 2, origin, g())
    images = set(origin[grouped].tolist())
    assert len(images) == 2 and grouped == [c for c in candidates if origin[c] in images]
    assert candidate_subset(candidates, 4, origin, g()) == candidates
    assert candidate_subset(candidates, 2, origin, g()) == grouped  # seeded


def test_the_loop_scores_every_copy_of_the_drawn_images():
    from functools import partial

    from balance_lite.experiments import get_preset
    from balance_lite.loop import run_active_learning
    from balance_lite.models import build_model
    from balance_lite.strategies import get_strategy

    rep = data.load("repeated-digits", seed=0)
    factory = partial(build_model, "repeated-digits", rep.input_shape, rep.num_classes)
    seen = []

    class Spy(get_strategy("random").__class__):
        def predict(self, model, pool_x, holdout_x, *, generator):
            seen.append(pool_x.clone())
            return super().predict(model, pool_x, holdout_x, generator=generator)

    result = run_active_learning(rep, factory, Spy(), batch_size=5, budget=30, eval_samples=2, candidates=40,
                                 train_config=get_preset("digits", quick=True).train_config())
    labeled = list(rep.initial)
    for scored, record in zip(seen, result.records):
        # the scored inputs are every unlabeled copy of 40 original images
        rows = {bytes(x.numpy().tobytes()): i for i, x in enumerate(rep.pool.x)}
        positions = [rows[bytes(x.numpy().tobytes())] for x in scored]
        images = set(rep.origin[positions].tolist())
        assert len(images) == 40
        assert positions == [i for i in range(len(rep.pool)) if rep.origin[i] in images and i not in labeled]
        assert set(record.selected) <= set(positions)
        labeled += record.selected
