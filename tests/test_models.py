"""Tests for balance_lite.models: consistent MC dropout and the paper's architectures."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_lite.models import (
    CPU_CHUNK_ELEMENTS,
    ConsistentDropout,
    MCDropoutNet,
    MaskSet,
    NETWORKS,
    build_model,
    emnist_cnn,
    mnist_cnn,
    tabular_mlp,
)

IMAGE = (1, 28, 28)


def make(name, input_shape, num_classes, seed=0):
    torch.manual_seed(seed)
    return build_model(name, input_shape, num_classes)


def reference_mnist(model, x, masks):
    """The paper's MNIST CNN written plainly, one sample at a time, dropout right after each conv
    (conv -> dropout -> max-pool -> relu, as in Kirsch et al.) and before the fc1 relu."""
    conv1, conv2, fc1, fc2 = [m for m in model.layers if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    m1, m2, m3 = [m.double() / 0.5 for m in masks.masks]
    x = x.double()
    out = []
    for s in range(masks.num_samples):
        h = F.conv2d(x, conv1.weight.double(), conv1.bias.double()) * m1[s][None, :, None, None]
        h = F.relu(F.max_pool2d(h, 2))
        h = F.conv2d(h, conv2.weight.double(), conv2.bias.double()) * m2[s][None, :, None, None]
        h = F.relu(F.max_pool2d(h, 2)).flatten(1)
        h = F.relu(F.linear(h, fc1.weight.double(), fc1.bias.double()) * m3[s])
        out.append(F.log_softmax(F.linear(h, fc2.weight.double(), fc2.bias.double()), -1))
    return torch.stack(out, 1)


def reference_generic(model, x, masks):
    """Any MCDropoutNet, one sample at a time through its own layers, masks applied in place of dropout."""
    out = []
    with torch.no_grad():
        for s in range(masks.num_samples):
            h, it = x, iter(masks.masks)
            for layer in model.layers:
                if hasattr(layer, "apply_mask"):
                    mask = next(it)[s].float() / (1 - layer.p)
                    h = h * mask.view(1, -1, *([1] * (h.dim() - 2)))
                else:
                    h = layer.eval()(h)
            out.append(F.log_softmax(h, -1))
    return torch.stack(out, 1)


@pytest.mark.parametrize("fuse", [True, False])
def test_mnist_cnn_matches_paper_forward_written_out(fuse):
    model = make("mnist", IMAGE, 10)
    x = torch.randn(6, *IMAGE)
    masks = model.draw_masks(5, generator=torch.Generator().manual_seed(3))
    got = model.sample_log_probs(x, masks=masks, fuse=fuse)
    assert got.shape == (6, 5, 10)
    torch.testing.assert_close(got.double(), reference_mnist(model, x, masks), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("name,input_shape,num_classes", [
    ("emnist-balanced", IMAGE, 47), ("emnist-byclass", IMAGE, 62), ("fashion-mnist", IMAGE, 10),
    ("digits", (64,), 10), ("har", (561,), 6), ("drift", (128,), 6), ("dry-bean", (16,), 7),
])
def test_every_architecture_matches_sample_by_sample_reference(name, input_shape, num_classes):
    model = make(name, input_shape, num_classes)
    x = torch.randn(5, *input_shape)
    masks = model.draw_masks(4, generator=torch.Generator().manual_seed(1))
    got = model.sample_log_probs(x, masks=masks)
    assert got.shape == (5, 4, num_classes)
    torch.testing.assert_close(got, reference_generic(model, x, masks), atol=2e-5, rtol=1e-5)
    assert torch.allclose(got.exp().sum(-1), torch.ones(5, 4))


@pytest.mark.parametrize("fuse", [True, False])
def test_same_masks_give_same_outputs_across_batches_and_chunks(fuse):
    model = make("mnist", IMAGE, 10)
    x = torch.randn(23, *IMAGE)
    masks = model.draw_masks(7, generator=torch.Generator().manual_seed(0))
    whole = model.sample_log_probs(x, masks=masks, chunk_size=23, fuse=fuse)
    for chunk_size in (1, 4, 10):
        torch.testing.assert_close(model.sample_log_probs(x, masks=masks, chunk_size=chunk_size, fuse=fuse), whole,
                                   atol=1e-6, rtol=0)
    # the same point inside a different batch (here: the D̄pool-like batch of a few points)
    part = model.sample_log_probs(x[[5, 17, 2]], masks=masks, fuse=fuse)
    torch.testing.assert_close(part, whole[[5, 17, 2]], atol=1e-6, rtol=0)


def test_default_chunks_bound_the_widest_repeated_activation():
    model = make("mnist", IMAGE, 10)
    # from the first channel dropout on, the widest activation is conv 1's pooled output, 32 x 12 x 12
    assert model.sample_width() == 32 * 12 * 12
    assert model.default_chunk_size(200) == CPU_CHUNK_ELEMENTS // (200 * 4608) == 2
    assert model.default_chunk_size(10**6) == 1
    mlp = make("digits", (64,), 10)
    assert mlp.sample_width() == max(layer.out_features for layer in mlp.layers if isinstance(layer, torch.nn.Linear))
    x = torch.randn(9, *IMAGE)
    masks = model.draw_masks(300, generator=torch.Generator().manual_seed(0))  # default: one point per chunk
    torch.testing.assert_close(model.sample_log_probs(x, masks=masks),
                               model.sample_log_probs(x, masks=masks, chunk_size=9), atol=1e-6, rtol=0)


@settings(deadline=None, max_examples=25)
@given(n=st.integers(1, 12), chunk=st.integers(1, 12), s=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_mlp_rows_do_not_depend_on_their_company(n, chunk, s, seed):
    model = make("digits", (64,), 10, seed=seed % 7)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 64, generator=g)
    masks = model.draw_masks(s, generator=g)
    whole = model.sample_log_probs(x, masks=masks)
    chunked = model.sample_log_probs(x, masks=masks, chunk_size=chunk)
    torch.testing.assert_close(chunked, whole, atol=1e-6, rtol=0)
    perm = torch.randperm(n, generator=g)
    torch.testing.assert_close(model.sample_log_probs(x[perm], masks=masks), whole[perm], atol=1e-6, rtol=0)


def test_two_mask_sets_are_different_hypotheses():
    model = make("digits", (64,), 10)
    g = torch.Generator().manual_seed(0)
    a, b = model.draw_masks(10, generator=g), model.draw_masks(10, generator=g)
    assert not all(torch.equal(ma, mb) for ma, mb in zip(a.masks, b.masks))
    x = torch.rand(30, 64)
    lp_a, lp_b = model.sample_log_probs(x, masks=a), model.sample_log_probs(x, masks=b)
    assert not torch.allclose(lp_a, lp_b)
    # within a set, different sample indices are different hypotheses too
    assert not torch.allclose(lp_a[:, 0], lp_a[:, 1])
    # the same generator seed gives the same hypotheses
    again = model.draw_masks(10, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(m1, m2) for m1, m2 in zip(a.masks, again.masks))


def test_masks_keep_about_one_minus_p():
    model = mnist_cnn(p=0.25)
    masks = model.draw_masks(400, generator=torch.Generator().manual_seed(0))
    kept = torch.cat([m.float().flatten() for m in masks.masks]).mean().item()
    assert abs(kept - 0.75) < 0.01
    assert [tuple(m.shape) for m in masks.masks] == [(400, 32), (400, 64), (400, 128)]


def test_mask_subset_selects_the_same_hypotheses():
    model = make("digits", (64,), 10)
    masks = model.draw_masks(6, generator=torch.Generator().manual_seed(2))
    x = torch.rand(9, 64)
    full = model.sample_log_probs(x, masks=masks)
    torch.testing.assert_close(model.sample_log_probs(x, masks=masks[2:5]), full[:, 2:5], atol=1e-6, rtol=0)
    torch.testing.assert_close(model.sample_log_probs(x, masks=masks[-1]), full[:, -1:], atol=1e-6, rtol=0)


def test_training_mode_uses_a_fresh_mask_per_example_and_eval_turns_dropout_off():
    model = make("digits", (64,), 10).train()
    x = torch.rand(1, 64).expand(50, 64)
    torch.manual_seed(0)
    out = model(x)
    assert out.shape == (50, 10)
    assert torch.unique(out.round(decimals=5), dim=0).shape[0] > 40  # 50 copies, (almost) all different
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    torch.testing.assert_close(model.predict_log_probs(x), F.log_softmax(model(x), -1))
    # sampling does not change the train/eval flag
    model.train()
    model.sample_log_probs(x[:2], 3)
    assert model.training


def test_channel_dropout_in_training_drops_whole_channels():
    model = mnist_cnn().train()
    first_dropout = model.layers[3]
    torch.manual_seed(0)
    h = first_dropout(torch.ones(8, 32, 12, 12))
    per_channel = h.flatten(2)
    assert torch.all(per_channel.amax(-1) == per_channel.amin(-1))  # constant within each channel
    assert set(per_channel.unique().tolist()) == {0.0, 2.0}


def test_factory_knows_every_dataset_and_builds_fresh_networks():
    expected = {"digits", "repeated-digits", "mnist", "repeated-mnist", *(f"repeated-mnist-{r}" for r in range(4)),
                "imbalanced-mnist", "fashion-mnist", "emnist-balanced",
                "emnist-bymerge", "emnist-byclass", "har", "drift", "dry-bean"}
    from balance_lite import data

    assert set(data.available()) == expected
    for name in expected:  # every dataset names a network that exists, declared in one place
        assert data.dataset_spec(name).network in NETWORKS
    assert build_model("fashion-mnist", (1, 28, 28), 10).name == "emnist_cnn"
    torch.manual_seed(0)
    a = build_model("dry-bean", (16,), 7)
    b = build_model("dry-bean", (16,), 7)
    assert [layer.out_features for layer in a.layers if isinstance(layer, torch.nn.Linear)] == [8, 8, 7]
    assert not torch.equal(a.layers[0].weight, b.layers[0].weight)
    torch.manual_seed(0)
    assert torch.equal(build_model("dry-bean", (16,), 7).layers[0].weight, a.layers[0].weight)
    for name in ("har", "drift"):
        widths = [m.out_features for m in build_model(name, (20,), 6).layers if isinstance(m, torch.nn.Linear)]
        assert widths == ([64, 64, 6] if name == "har" else [32, 32, 6])
    assert emnist_cnn(num_classes=62)(torch.zeros(2, *IMAGE)).shape == (2, 62)


def test_bad_arguments_raise_naming_them():
    model = make("digits", (64,), 10)
    x = torch.rand(3, 64)
    with pytest.raises(ValueError, match="name must be one of"):
        build_model("cifar", (3, 32, 32), 10)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("digits", (64,), 1)
    with pytest.raises(ValueError, match="p must be"):
        build_model("digits", (64,), 10, p=1.0)
    with pytest.raises(ValueError, match="input_shape"):
        build_model("mnist", (784,), 10)
    with pytest.raises(ValueError, match="input_shape"):
        build_model("har", (1, 28, 28), 6)
    with pytest.raises(ValueError, match="num_samples must be given"):
        model.sample_log_probs(x)
    with pytest.raises(ValueError, match="num_samples must be a positive integer"):
        model.draw_masks(0)
    with pytest.raises(ValueError, match="num_samples must equal"):
        model.sample_log_probs(x, 4, masks=model.draw_masks(3))
    with pytest.raises(ValueError, match="chunk_size"):
        model.sample_log_probs(x, 2, chunk_size=0)
    with pytest.raises(ValueError, match=r"x must have shape \[N, 64\]"):
        model.sample_log_probs(torch.rand(3, 65), 2)
    other = tabular_mlp((64,), 10, (32,))
    with pytest.raises(ValueError, match="masks.masks"):
        model.sample_log_probs(x, masks=other.draw_masks(2))
    with pytest.raises(ValueError, match="one mask per dropout layer"):
        model.sample_log_probs(x, masks=MaskSet(()))
    with pytest.raises(TypeError, match="ConsistentDropout"):
        MCDropoutNet([torch.nn.Linear(2, 2), torch.nn.Dropout()], input_shape=(2,), num_classes=2)
    with pytest.raises(ValueError, match="hidden"):
        tabular_mlp((4,), 2, ())
    with pytest.raises(ValueError, match="num_features"):
        ConsistentDropout(0)


def test_outputs_live_on_the_model_device_and_empty_input_works():
    model = make("digits", (64,), 10)
    out = model.sample_log_probs(torch.rand(0, 64), 3)
    assert out.shape == (0, 3, 10) and out.device == model.device
    assert model.predict_log_probs(torch.rand(0, 64)).shape == (0, 10)


@pytest.mark.parametrize("name, input_shape, num_classes", [("mnist", IMAGE, 10), ("fashion-mnist", IMAGE, 10),
                                                            ("digits", (64,), 10)])
def test_fast_paths_give_the_plain_layers_numbers(name, input_shape, num_classes):
    fast = make(name, input_shape, num_classes)
    plain = make(name, input_shape, num_classes)
    plain.fast_paths = False
    x = torch.randn(37, *input_shape)
    x[:5] = 0.0  # constant inputs: ties in every pooling window
    fast.eval(), plain.eval()
    with torch.no_grad():
        assert torch.allclose(fast(x), plain(x), atol=1e-5, rtol=1e-5)
    assert torch.allclose(fast.predict_log_probs(x, chunk_size=8), plain.predict_log_probs(x), atol=1e-5, rtol=1e-5)
    # with a gradient (training): the same loss and the same gradients up to rounding
    fast.train(), plain.train()
    grads = []
    for model in (fast, plain):
        torch.manual_seed(3)
        model.zero_grad()
        F.cross_entropy(model(x), torch.arange(37) % num_classes).backward()
        grads.append([p.grad for p in model.parameters()])
    for g_fast, g_plain in zip(*grads):
        assert torch.allclose(g_fast, g_plain, atol=1e-5, rtol=1e-4)


def test_fast_max_pool_is_exact_on_odd_sizes_and_ties():
    from balance_lite.models import _max_pool_2x2

    h = torch.randint(0, 3, (4, 3, 9, 11)).float()
    assert torch.equal(_max_pool_2x2(h), F.max_pool2d(h, 2))


# ---- the dropout-off penultimate embedding (BADGE, Core-Set) ----------------------------------


@pytest.mark.parametrize("name,input_shape,num_classes,width", [
    ("mnist", IMAGE, 10, 128), ("emnist-balanced", IMAGE, 47, 512), ("fashion-mnist", IMAGE, 10, 512),
    ("digits", (64,), 10, 128), ("har", (561,), 6, 64), ("drift", (128,), 6, 32), ("dry-bean", (16,), 7, 8),
])
def test_embed_is_the_last_layer_input_with_dropout_off_for_every_architecture(name, input_shape, num_classes, width):
    model = make(name, input_shape, num_classes)
    model.train()  # embed turns dropout off by itself and restores the mode
    x = torch.randn(11, *input_shape)
    features, logits = model.embed(x, chunk_size=4)
    assert model.training and features.shape == (11, width) == (11, model.embedding_dim)
    assert logits.shape == (11, num_classes)
    with torch.no_grad():
        plain = model.layers[:-1].eval()(x)  # every layer but the last, dropout off, no fast route
        model.eval()
        torch.testing.assert_close(logits, model(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(features, plain, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits, model.layers[-1](features), atol=0, rtol=0)
    assert bool((features >= 0).all())  # after the last hidden ReLU
    for chunk in (1, 11, 4096):  # the same rows whatever the chunking
        torch.testing.assert_close(model.embed(x, chunk_size=chunk).features, features, atol=1e-6, rtol=0)
    assert model.embed(x[:0]).features.shape == (0, width)


def test_embed_does_not_touch_the_mc_dropout_path():
    model = make("mnist", IMAGE, 10)
    x = torch.randn(6, *IMAGE)
    masks = model.draw_masks(5, generator=torch.Generator().manual_seed(2))
    before = model.sample_log_probs(x, masks=masks)
    model.embed(x)
    assert torch.equal(model.sample_log_probs(x, masks=masks), before)


def test_embed_raises_naming_the_argument():
    model = make("digits", (64,), 10)
    with pytest.raises(ValueError, match=r"x must have shape \[N, 64\]"):
        model.embed(torch.rand(3, 65))
    with pytest.raises(ValueError, match="chunk_size"):
        model.embed(torch.rand(3, 64), chunk_size=0)
    odd = MCDropoutNet([torch.nn.Linear(4, 3), torch.nn.LogSoftmax(-1)], input_shape=(4,), num_classes=3)
    with pytest.raises(TypeError, match="last layer is nn.Linear"):
        odd.embed(torch.rand(2, 4))
