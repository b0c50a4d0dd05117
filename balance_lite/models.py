r"""MC-dropout networks with consistent masks: the hypotheses of the paper (Sec. 3.1).

Chapter: *The active learning loop in 30 lines* (and *Hypotheses from MC dropout*).

A dropout network defines a distribution over hypotheses: each dropout mask ``w`` gives one
deterministic network ``p(y | x, w)``. BALanCe compares hypotheses across the whole pool and the
held-out set D̄pool, so mask ``s`` must be the *same* hypothesis for every input ("consistent MC
dropout"). Every network here therefore has two stochastic modes:

- training (``model.train()``): ordinary dropout, a fresh mask for every example;
- sampling (:meth:`MCDropoutNet.sample_log_probs`): a :class:`MaskSet` holds one mask per sample
  index and per dropout layer, drawn once by :meth:`MCDropoutNet.draw_masks`, and sample ``s`` uses
  mask ``s`` for every input. Drawing a second :class:`MaskSet` gives an independent set of
  hypotheses, e.g. the two sets of K masks whose pairs ``(ω_k, ω'_k)`` BALanCe needs.

With dropout off (``model.eval()`` and a plain call) the network gives the deterministic
predictions used for validation.

Example:
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = build_model("digits", input_shape=(64,), num_classes=10)
    >>> masks = model.draw_masks(5, generator=torch.Generator().manual_seed(1))
    >>> x = torch.rand(7, 64)
    >>> log_probs = model.sample_log_probs(x, masks=masks)
    >>> log_probs.shape
    torch.Size([7, 5, 10])
    >>> torch.allclose(log_probs[2:4], model.sample_log_probs(x[2:4], masks=masks))
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import check_positive_int
from .data.registry import dataset_spec

__all__ = [
    "CPU_CHUNK_ELEMENTS",
    "DEFAULT_ROWS_PER_CHUNK",
    "FUSE_MIN_SAMPLES",
    "ConsistentDropout",
    "ConsistentDropout2d",
    "Embeddings",
    "MCDropoutNet",
    "MaskSet",
    "NETWORKS",
    "build_model",
    "digits_mlp",
    "emnist_cnn",
    "mnist_cnn",
    "tabular_mlp",
]

#: Rows (points x samples) per chunk when ``chunk_size`` is not given, on a GPU.
DEFAULT_ROWS_PER_CHUNK = 8192

#: On the CPU, numbers in the widest per-sample activation of one chunk when ``chunk_size`` is not
#: given (8 MiB in float32): the chunk's activations stay in the processor's cache. Measured on a
#: 2-core CPU with S = 20 and 200 samples, this samples 1.6-3x faster than 8,192 rows per chunk for
#: the MNIST and EMNIST CNNs, and as fast for the MLPs.
CPU_CHUNK_ELEMENTS = 2**21

#: With ``fuse=None``, the channel-dropout shortcut is used from this many samples on: it convolves
#: each input channel once per point, which pays off only when amortised over enough samples
#: (measured crossover on a 2-core CPU: about 10 samples for the MNIST CNN, 20 for the EMNIST CNN).
FUSE_MIN_SAMPLES = 16


def _check_p(p: float) -> float:
    if not isinstance(p, (int, float)) or not 0.0 <= float(p) < 1.0:
        raise ValueError(f"p must be a dropout probability in [0, 1), got {p!r}")
    return float(p)


class _ConsistentDropoutBase(nn.Module):
    """Shared part of the two dropout layers: the mask shape and how a mask set is applied."""

    def __init__(self, num_features: int, p: float = 0.5):
        super().__init__()
        check_positive_int(num_features, "num_features")
        self.num_features = num_features
        self.p = _check_p(p)

    def draw_mask(self, num_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """``[S, F]`` bool keep-mask, each entry kept with probability ``1 - p``."""
        keep = torch.full((num_samples, self.num_features), 1.0 - self.p)
        return torch.bernoulli(keep, generator=generator).bool()

    def scaled_mask(self, mask_S_F: Tensor, dtype: torch.dtype) -> Tensor:
        """``[S, F]`` multiplier: 0 where dropped, ``1 / (1 - p)`` where kept (inverted dropout)."""
        return mask_S_F.to(dtype) / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"num_features={self.num_features}, p={self.p}"


class ConsistentDropout(_ConsistentDropoutBase):
    """Element dropout on ``[n, F]`` features (the MLP layers).

    Args:
        num_features: F, the width of the layer's input.
        p: the probability of dropping a unit (0.5 in the paper).

    In training mode it is ``torch.nn.functional.dropout``; in eval mode it is the identity;
    :meth:`MCDropoutNet.sample_log_probs` applies one mask ``[F]`` per sample index instead.
    """

    def forward(self, x: Tensor) -> Tensor:
        """Ordinary dropout in training mode (a fresh mask per example), the identity in eval mode."""
        return F.dropout(x, self.p, self.training)

    def apply_mask(self, x: Tensor, mask_S_F: Tensor, *, inplace: bool = False) -> Tensor:
        """Multiply rows ``[n * S, F]`` (point-major: row ``i * S + s``) by the masks of each sample ``s``."""
        S = mask_S_F.shape[0]
        shaped = x.view(-1, S, self.num_features)
        scale = self.scaled_mask(mask_S_F, x.dtype)
        return shaped.mul_(scale).view_as(x) if inplace else (shaped * scale).view_as(x)


class ConsistentDropout2d(_ConsistentDropoutBase):
    """Channel dropout on ``[n, F, H, W]`` feature maps (Dropout2d-style, the conv blocks).

    Args:
        num_features: F, the number of channels.
        p: the probability of dropping a whole channel.
    """

    def forward(self, x: Tensor) -> Tensor:
        """Channel dropout in training mode (fresh channel masks per example), the identity in eval mode."""
        return F.dropout2d(x, self.p, self.training)

    def apply_mask(self, x: Tensor, mask_S_F: Tensor, *, inplace: bool = False) -> Tensor:
        """Multiply rows ``[n * S, F, H, W]`` (row ``i * S + s``) by the channel masks of sample ``s``."""
        S = mask_S_F.shape[0]
        shaped = x.view(-1, S, *x.shape[1:])
        scale = self.scaled_mask(mask_S_F, x.dtype)[:, :, None, None]
        return shaped.mul_(scale).view_as(x) if inplace else (shaped * scale).view_as(x)


@dataclass(frozen=True)
class MaskSet:
    """S consistent dropout masks: sample ``s`` is one hypothesis ``ω_s`` for every input.

    Attributes:
        masks: one bool tensor ``[S, F_l]`` per dropout layer ``l`` of the network, in module order.
    """

    masks: tuple[Tensor, ...]

    @property
    def num_samples(self) -> int:
        """S, the number of hypotheses in the set."""
        return int(self.masks[0].shape[0]) if self.masks else 0

    def to(self, device: torch.device | str) -> "MaskSet":
        """The same masks on ``device``."""
        return MaskSet(tuple(m.to(device) for m in self.masks))

    def __getitem__(self, index) -> "MaskSet":
        """A subset of the hypotheses, e.g. ``masks[:10]`` (the same masks, not new ones)."""
        if isinstance(index, int):
            index = slice(index, index + 1) if index != -1 else slice(-1, None)
        return MaskSet(tuple(m[index] for m in self.masks))


class Embeddings(NamedTuple):
    """What :meth:`MCDropoutNet.embed` returns: the last layer's inputs and outputs, dropout off."""

    #: ``[N, D]``, the penultimate-layer embedding φ(x) (the input of the last layer).
    features: Tensor
    #: ``[N, C]``, the last layer applied to ``features``: the dropout-off logits.
    logits: Tensor


class MCDropoutNet(nn.Module):
    r"""A feed-forward network of plain layers and consistent dropout layers.

    Calling the network returns logits ``[n, C]`` (dropout as set by ``train()`` / ``eval()``).
    :meth:`sample_log_probs` returns log-probabilities under S consistent masks.

    Args:
        layers: the layers in order; dropout must be :class:`ConsistentDropout` or
            :class:`ConsistentDropout2d`, and the last layer outputs C logits.
        input_shape: the shape of one input, e.g. ``(64,)`` or ``(1, 28, 28)``.
        num_classes: C.
        name: a short name for ``repr`` and manifests.
    """

    def __init__(self, layers: Sequence[torch.nn.Module], *, input_shape: Sequence[int], num_classes: int, name: str = ""):
        super().__init__()
        self.layers = nn.Sequential(*layers)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.num_classes = int(num_classes)
        self.name = name
        #: Run :meth:`forward` by the fast routes (see there); False: the plain layers, for comparisons.
        self.fast_paths = True
        for layer in self.layers:
            if isinstance(layer, (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)):
                raise TypeError(
                    f"layers must use ConsistentDropout / ConsistentDropout2d, got {type(layer).__name__}"
                )

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[n, C]`` of inputs ``[n, ...]``, with dropout as set by ``train()`` / ``eval()``.

        With :attr:`fast_paths` (the default) three layer kinds run by faster routes that give the
        same numbers up to float rounding:

        - on the CPU, a single-channel, stride-1 convolution (the first layer of the image CNNs)
          is one matrix product with the input's patches; its output is laid out channels-last, so the next
          convolution runs oneDNN's channels-last kernels (together 0.74x the time of a training
          step of the MNIST CNN, measured on one thread);
        - with no gradient recorded (validation, :meth:`predict_log_probs`), a 2x2 max-pool is two
          elementwise maxima of strided views (exact, 3-4x faster than the pooling kernel) and
          ReLU runs in place on intermediates; with a gradient, ``F.max_pool2d`` itself.

        ``model.fast_paths = False`` runs the plain layers (and makes
        :func:`balance_lite.train.train_model` use the for-each Adam): the reference the fast
        routes are tested against.
        """
        if not self.fast_paths:
            return self.layers(x)
        return _fast_forward(self.layers, x)

    @property
    def device(self) -> torch.device:
        """The device of the network's parameters."""
        return next(self.parameters()).device

    def dropout_layers(self) -> list:
        """The consistent dropout layers, in module order (the order of :attr:`MaskSet.masks`)."""
        return [m for m in self.layers if isinstance(m, _ConsistentDropoutBase)]

    def draw_masks(self, num_samples: int, *, generator: torch.Generator | None = None) -> MaskSet:
        """Draw S fresh, independent consistent masks: S hypotheses ``ω_1..ω_S``.

        Args:
            num_samples: S >= 1.
            generator: a CPU generator; the masks are drawn on the CPU (so a seed gives the same
                hypotheses on every device) and moved to the network's device.

        Returns:
            A :class:`MaskSet` with one ``[S, F_l]`` bool mask per dropout layer.

        Raises:
            TypeError, ValueError: ``num_samples`` is not a positive integer.
        """
        check_positive_int(num_samples, "num_samples")
        masks = tuple(layer.draw_mask(num_samples, generator) for layer in self.dropout_layers())
        return MaskSet(masks).to(self.device)

    def _check_masks(self, masks: MaskSet) -> None:
        layers = self.dropout_layers()
        if len(masks.masks) != len(layers):
            raise ValueError(
                f"masks must hold one mask per dropout layer ({len(layers)}), got {len(masks.masks)}"
            )
        for i, (layer, mask) in enumerate(zip(layers, masks.masks)):
            if mask.dim() != 2 or mask.shape[1] != layer.num_features or mask.shape[0] != masks.num_samples:
                raise ValueError(
                    f"masks.masks[{i}] must have shape [S, {layer.num_features}] with "
                    f"S = {masks.num_samples}, got {tuple(mask.shape)}"
                )

    def _sample_chunk(self, x: Tensor, masks: MaskSet, fuse: bool) -> Tensor:
        """Log-probabilities ``[n, S, C]`` of one chunk ``[n, ...]`` under every mask of the set."""
        n, S = x.shape[0], masks.num_samples
        layers = list(self.layers)
        mask_iter = iter(masks.masks)
        h = x
        expanded = False
        i = 0
        while i < len(layers):
            layer = layers[i]
            if isinstance(layer, _ConsistentDropoutBase):
                mask = next(mask_iter)
                nxt = layers[i + 1] if i + 1 < len(layers) else None
                if not expanded and fuse and isinstance(layer, ConsistentDropout2d) and _fusable_conv(nxt):
                    after = layers[i + 2] if i + 2 < len(layers) else None
                    pool = isinstance(after, nn.MaxPool2d) and _is_plain_2x2(after)
                    h = _masked_conv(h, layer.scaled_mask(mask, h.dtype), nxt, pool)
                    expanded = True
                    i += 3 if pool else 2
                    continue
                if not expanded:
                    # Every layer before the first dropout is deterministic: run it once per input,
                    # then repeat each input's features S times (row i * S + s).
                    h = h.repeat_interleave(S, dim=0)
                    expanded = True
                h = layer.apply_mask(h, mask, inplace=True)  # h is an intermediate of this chunk
            elif expanded and isinstance(layer, nn.ReLU):
                h = h.relu_()  # h is an intermediate of this chunk: no need for a copy
            elif isinstance(layer, nn.MaxPool2d) and _is_plain_2x2(layer):
                h = _max_pool_2x2(h)
            else:
                h = layer(h)
            i += 1
        if not expanded:
            h = h.repeat_interleave(S, dim=0)
        return F.log_softmax(h, dim=-1).view(n, S, -1)

    @torch.no_grad()
    def sample_log_probs(
        self,
        x: Tensor,
        num_samples: int | None = None,
        *,
        masks: MaskSet | None = None,
        chunk_size: int | None = None,
        generator: torch.Generator | None = None,
        fuse: bool | None = None,
    ) -> Tensor:
        r"""Consistent MC-dropout log-probabilities ``log p(y | x_i, ω_s)`` for every input and mask.

        The inputs are processed in chunks of ``chunk_size`` points, and the output is written into
        one preallocated tensor, so memory stays bounded by the chunk (plus the output itself).
        Layers before the first dropout run once per input, not once per sample. When the first
        dropout is a channel dropout followed by a convolution, we use that the convolution is linear
        in its input channels: we convolve each input channel once and mix the results with the S
        channel masks, which gives the same numbers as convolving S masked copies (up to float
        rounding) at a fraction of the cost for many samples (``fuse=None`` uses it from
        :data:`FUSE_MIN_SAMPLES` samples on, ``True`` / ``False`` force it on or off).

        Args:
            x: ``[N, ...]`` inputs; moved chunk by chunk to the network's device.
            num_samples: S, the number of fresh masks to draw when ``masks`` is not given.
            masks: the consistent masks to use (see :meth:`draw_masks`); sample ``s`` of the output
                uses ``masks`` sample ``s`` for every input, whatever the chunking.
            chunk_size: points per chunk (default: :meth:`default_chunk_size`).
            generator: used to draw the masks when ``masks`` is not given.
            fuse: use the channel-dropout + convolution shortcut described above (None: when S is
                at least :data:`FUSE_MIN_SAMPLES`).

        Returns:
            ``[N, S, C]`` float log-probabilities on the network's device.

        Raises:
            ValueError: neither or inconsistent ``num_samples`` / ``masks``, masks that do not fit
                the network, a bad ``chunk_size``, or inputs whose shape is not ``[N, *input_shape]``.
        """
        if masks is None:
            if num_samples is None:
                raise ValueError("num_samples must be given when masks is None")
            masks = self.draw_masks(num_samples, generator=generator)
        elif num_samples is not None and num_samples != masks.num_samples:
            raise ValueError(f"num_samples must equal masks.num_samples {masks.num_samples}, got {num_samples}")
        self._check_masks(masks)
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"x must have shape [N, {', '.join(map(str, self.input_shape))}], got {tuple(x.shape)}")
        S = masks.num_samples
        if fuse is None:
            fuse = S >= FUSE_MIN_SAMPLES
        if chunk_size is None:
            chunk_size = self.default_chunk_size(S)
        check_positive_int(chunk_size, "chunk_size")
        device = self.device
        masks = masks.to(device)
        N = x.shape[0]
        out = torch.empty((N, S, self.num_classes), device=device)
        was_training = self.training
        self.eval()
        try:
            for start in range(0, N, chunk_size):
                chunk = x[start:start + chunk_size].to(device, torch.float32)
                out[start:start + chunk.shape[0]] = self._sample_chunk(chunk, masks, fuse)
        finally:
            self.train(was_training)
        return out

    @torch.no_grad()
    def default_chunk_size(self, num_samples: int) -> int:
        """Points per chunk of :meth:`sample_log_probs` when its ``chunk_size`` is not given.

        On the CPU, the widest activation a chunk repeats for every sample (see
        :meth:`sample_width`) holds at most :data:`CPU_CHUNK_ELEMENTS` numbers; on other devices a
        chunk holds :data:`DEFAULT_ROWS_PER_CHUNK` rows of points x samples. At least 1.
        """
        if self.device.type == "cpu":
            return max(1, CPU_CHUNK_ELEMENTS // (num_samples * self.sample_width()))
        return max(1, DEFAULT_ROWS_PER_CHUNK // num_samples)

    @torch.no_grad()
    def sample_width(self) -> int:
        """The most numbers per (point, sample) in an activation at or after the first dropout layer.

        Layers before the first dropout run once per point; from it on, every activation is held for
        each of the S samples, so the widest of them sets the memory of a chunk.
        """
        h = torch.zeros((1, *self.input_shape), device=self.device)
        widest, repeated = 0, False
        for layer in self.layers:
            if isinstance(layer, _ConsistentDropoutBase):
                repeated = True
            else:
                h = layer(h)
            if repeated:
                widest = max(widest, h.numel())
        return max(widest, 1)

    @property
    def embedding_dim(self) -> int:
        """The width D of the penultimate layer (the number of inputs of the last, linear layer)."""
        return self._last_linear().in_features

    def _last_linear(self) -> nn.Linear:
        last = self.layers[-1]
        if not isinstance(last, nn.Linear):
            raise TypeError(f"embed needs a network whose last layer is nn.Linear, got {type(last).__name__}")
        return last

    @torch.no_grad()
    def embed(self, x: Tensor, *, chunk_size: int | None = None) -> Embeddings:
        r"""The penultimate-layer embedding φ(x) and the logits, with dropout off (eval mode).

        Every layer but the last runs in eval mode (each dropout layer is then the identity), by the
        same routes as :meth:`forward`; the last layer, a linear map ``[D] -> [C]``, is applied to
        the result, so ``logits = features @ W.T + b`` exactly. This is the deterministic trained
        network that BADGE (Ash et al., ICLR 2020) and Core-Set (Sener and Savarese, ICLR 2018)
        embed the pool with; :meth:`sample_log_probs` is separate and unchanged.

        For every network of :func:`build_model` the embedding is the output of the last hidden
        layer after its ReLU (and its dropout, off here): D = 128 for the digits MLP and the MNIST
        CNN, 512 for the EMNIST CNN, the last hidden width for the tabular MLPs.

        Args:
            x: ``[N, ...]`` inputs; moved chunk by chunk to the network's device.
            chunk_size: points per forward pass; None: :meth:`default_chunk_size` for one sample
                (on the CPU, 455 images for the MNIST CNN: measured on 8,000 images on one busy
                thread, 1.2 s against 1.7 s with chunks of 4,096, and a tenth of the memory).

        Returns:
            :class:`Embeddings` ``(features [N, D], logits [N, C])`` on the network's device.

        Raises:
            TypeError: the network's last layer is not ``nn.Linear``.
            ValueError: ``x`` does not have shape ``[N, *input_shape]``, or a bad ``chunk_size``.

        Example:
            >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
            <torch._C.Generator object at ...>
            >>> model = build_model("digits", (64,), 10)
            >>> emb = model.embed(torch.rand(5, 64))
            >>> emb.features.shape, emb.logits.shape, model.embedding_dim
            (torch.Size([5, 128]), torch.Size([5, 10]), 128)
        """
        last = self._last_linear()
        if chunk_size is None:
            chunk_size = self.default_chunk_size(1)
        check_positive_int(chunk_size, "chunk_size")
        if not isinstance(x, Tensor) or tuple(x.shape[1:]) != self.input_shape:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must have shape [N, {', '.join(map(str, self.input_shape))}], got {got}")
        body = self.layers[:-1]
        device = self.device
        N = x.shape[0]
        features = torch.empty((N, last.in_features), device=device)
        logits = torch.empty((N, self.num_classes), device=device)
        was_training = self.training
        self.eval()
        try:
            for start in range(0, N, chunk_size):
                chunk = x[start:start + chunk_size].to(device, torch.float32)
                h = _fast_forward(body, chunk) if self.fast_paths else body(chunk)
                end = start + chunk.shape[0]
                features[start:end] = h.reshape(chunk.shape[0], -1)
                logits[start:end] = last(features[start:end])
        finally:
            self.train(was_training)
        return Embeddings(features, logits)

    @torch.no_grad()
    def predict_log_probs(self, x: Tensor, *, chunk_size: int = 4096) -> Tensor:
        """Log-probabilities ``[N, C]`` with dropout off (the deterministic network used for validation).

        Args:
            x: ``[N, ...]`` inputs.
            chunk_size: points per forward pass.

        Returns:
            ``[N, C]`` on the network's device.
        """
        check_positive_int(chunk_size, "chunk_size")
        device = self.device
        was_training = self.training
        self.eval()
        try:
            parts = [F.log_softmax(self(x[i:i + chunk_size].to(device, torch.float32)), dim=-1)
                     for i in range(0, x.shape[0], chunk_size)]
        finally:
            self.train(was_training)
        if not parts:
            return torch.empty((0, self.num_classes), device=device)
        return torch.cat(parts)


def _fusable_conv(layer: nn.Module | None) -> bool:
    return (
        isinstance(layer, nn.Conv2d)
        and layer.groups == 1
        and isinstance(layer.padding, tuple)
        and layer.padding_mode == "zeros"
    )


def _masked_conv(h: Tensor, scale_S_F: Tensor, conv: nn.Conv2d, pool: bool) -> Tensor:
    """``conv(h * mask_s)`` for every sample s (then a 2x2 max-pool if ``pool``), as rows ``[n * S, ...]``.

    A convolution is linear in its input channels: ``conv(h * m) = b + sum_f m_f conv_f(h_f)``, where
    ``conv_f`` convolves channel f alone. A grouped convolution computes every ``conv_f(h_f)`` once
    (``[n, F, O, H', W']``); one matrix product with the ``[S, F]`` masks (and a column of ones
    for the bias) mixes them. With ``pool``, we first reorder each map so that the four members of
    every 2x2 window lie in four contiguous blocks; the pooling is then a maximum over blocks.
    """
    n, F_in = h.shape[:2]
    O = conv.out_channels
    S = scale_S_F.shape[0]
    # weight [O, F, kh, kw] -> [F * O, 1, kh, kw]: group f convolves channel f into O maps.
    weight = conv.weight.transpose(0, 1).reshape(F_in * O, 1, *conv.weight.shape[2:])
    per_channel = F.conv2d(h, weight, None, conv.stride, conv.padding, conv.dilation, groups=F_in)
    Hp, Wp = per_channel.shape[-2:]
    per_channel = per_channel.view(n, F_in, O, Hp, Wp)
    if pool:
        # The bias is the same over a window, so max(z + b) = max(z) + b: add it after pooling.
        H2, W2 = Hp // 2, Wp // 2
        windows = per_channel[..., : 2 * H2, : 2 * W2].reshape(n, F_in, O, H2, 2, W2, 2)
        windows = windows.permute(0, 1, 4, 6, 2, 3, 5).reshape(n, F_in, 4 * O * H2 * W2)
        mixed = torch.matmul(scale_S_F, windows)  # [n, S, 4 * O * H2 * W2]
        pooled = mixed.view(n * S, 4, O * H2 * W2).amax(dim=1).view(n * S, O, H2, W2)
        return pooled if conv.bias is None else pooled.add_(conv.bias[:, None, None])
    if conv.bias is not None:
        bias_map = conv.bias[None, None, :, None, None].expand(n, 1, O, Hp, Wp)
        per_channel = torch.cat([per_channel, bias_map], dim=1)
        scale_S_F = torch.cat([scale_S_F, scale_S_F.new_ones(S, 1)], dim=1)
    rows = per_channel.shape[1]
    mixed = torch.matmul(scale_S_F, per_channel.reshape(n, rows, O * Hp * Wp))  # [n, S, O * H' * W']
    return mixed.view(n * S, O, Hp, Wp)


def _is_plain_2x2(pool: nn.MaxPool2d) -> bool:
    return (pool.kernel_size in (2, (2, 2)) and pool.stride in (2, (2, 2)) and pool.padding in (0, (0, 0))
            and pool.dilation in (1, (1, 1)) and not pool.ceil_mode and not pool.return_indices)


def _max_pool_2x2(h: Tensor) -> Tensor:
    """``F.max_pool2d(h, 2)`` as two elementwise maxima of strided views (the same values, 3-4x
    faster on a CPU than the pooling kernel, which also computes the indices of the maxima)."""
    B, C, H, W = h.shape
    H2, W2 = H // 2, W // 2
    rows = torch.maximum(h[:, :, 0:2 * H2:2, : 2 * W2], h[:, :, 1:2 * H2:2, : 2 * W2])  # [B, C, H2, 2 * W2]
    return torch.maximum(rows[..., 0::2], rows[..., 1::2])


def _patch_conv(h: Tensor, conv: nn.Conv2d) -> Tensor:
    """A single-channel, stride-1, unpadded convolution as one matrix product with the patches.

    ``[n, 1, H, W]`` -> ``[n, O, H', W']`` (laid out channels-last): each of the ``n * H' * W'``
    patches of ``kh * kw`` pixels times the ``[kh * kw, O]`` weights.
    """
    n, _, H, W = h.shape
    kh, kw = conv.kernel_size
    O = conv.out_channels
    Hp, Wp = H - kh + 1, W - kw + 1
    s = h.stride()
    patches = h.as_strided((n, Hp, Wp, kh, kw), (s[0], s[2], s[3], s[2], s[3])).reshape(n * Hp * Wp, kh * kw)
    weight = conv.weight.view(O, kh * kw).t()
    out = patches @ weight if conv.bias is None else torch.addmm(conv.bias, patches, weight)
    return out.view(n, Hp, Wp, O).permute(0, 3, 1, 2)


def _patchable_conv(layer: nn.Module, h: Tensor) -> bool:
    return (
        isinstance(layer, nn.Conv2d)
        and layer.in_channels == 1
        and layer.groups == 1
        and layer.stride == (1, 1)
        and layer.padding == (0, 0)
        and layer.dilation == (1, 1)
        and h.dim() == 4
        and h.shape[0] > 0
        and h.device.type == "cpu"  # measured on CPUs only; cuDNN has its own kernels
    )


def _fast_forward(layers: nn.Sequential, x: Tensor) -> Tensor:
    """``layers(x)`` with the fast routes of :meth:`MCDropoutNet.forward`."""
    recording = torch.is_grad_enabled()
    h = x
    for layer in layers:
        if isinstance(layer, nn.MaxPool2d) and _is_plain_2x2(layer) and h.dim() == 4:
            h = F.max_pool2d(h, 2) if recording and h.requires_grad else _max_pool_2x2(h)
        elif isinstance(layer, nn.ReLU) and not recording and h is not x:
            h = h.relu_()
        elif _patchable_conv(layer, h):
            h = _patch_conv(h, layer)
        else:
            h = layer(h)
    return h


# ---------------------------------------------------------------------------------------------
# Architectures


def _image_shape(input_shape: Sequence[int], name: str) -> tuple[int, int, int]:
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3:
        raise ValueError(f"input_shape must be [channels, height, width] for {name}, got {shape}")
    return shape  # type: ignore[return-value]


def _conv_out(size: int, kernel: int) -> int:
    return size - kernel + 1


def mnist_cnn(input_shape: Sequence[int] = (1, 28, 28), num_classes: int = 10, *, p: float = 0.5) -> MCDropoutNet:
    """The MNIST / Repeated-MNIST CNN of the paper (App. B.1, after Kirsch et al. 2019).

    Two blocks [conv 5x5 (32, then 64 channels), channel dropout, 2x2 max-pool, ReLU], then a
    fully connected layer to 128 units with ReLU and dropout, then C logits. We apply each block's
    channel dropout after its pooling and ReLU rather than before: a per-channel factor ``>= 0``
    commutes with max-pooling and ReLU, so the outputs are identical, at a quarter of the cost.

    Args:
        input_shape: ``(1, 28, 28)`` for MNIST.
        num_classes: C (10).
        p: dropout probability.
    """
    c, h, w = _image_shape(input_shape, "mnist_cnn")
    for _ in range(2):
        h, w = _conv_out(h, 5) // 2, _conv_out(w, 5) // 2
    if h < 1 or w < 1:
        raise ValueError(f"input_shape {tuple(input_shape)} is too small for mnist_cnn")
    layers = [
        nn.Conv2d(c, 32, 5), nn.MaxPool2d(2), nn.ReLU(), ConsistentDropout2d(32, p),
        nn.Conv2d(32, 64, 5), nn.MaxPool2d(2), nn.ReLU(), ConsistentDropout2d(64, p),
        nn.Flatten(), nn.Linear(64 * h * w, 128), nn.ReLU(), ConsistentDropout(128, p),
        nn.Linear(128, num_classes),
    ]
    return MCDropoutNet(layers, input_shape=input_shape, num_classes=num_classes, name="mnist_cnn")


def emnist_cnn(input_shape: Sequence[int] = (1, 28, 28), num_classes: int = 47, *, p: float = 0.5) -> MCDropoutNet:
    """The Fashion-MNIST / EMNIST CNN of the paper (App. B.1).

    Sec. 4.1: "three blocks of [convolution, dropout, max-pooling, relu], with 32, 64, and 128 3x3
    convolution filters and 2x2 max pooling. We add a two-layer MLP following the three blocks":
    each block here is a 3x3 convolution, a 2x2 max-pool, ReLU and channel dropout (the order of
    dropout, pooling and ReLU does not change the outputs, see :func:`mnist_cnn`), so the sizes go
    28 -> 26 -> 13 -> 11 -> 5 -> 3 -> 1 and the head sees 128 features; then 512 hidden units with
    ReLU and dropout, then C logits. The authors' released code pools in the first two blocks only
    (``model.py`` l.29-31); we follow the paper's text. The head's width, which the text does not
    give, is the released code's 512.

    Args:
        input_shape: ``(1, 28, 28)``.
        num_classes: C (10 for Fashion-MNIST, 47 for EMNIST Balanced / ByMerge, 62 for ByClass).
        p: dropout probability.
    """
    c, h, w = _image_shape(input_shape, "emnist_cnn")
    for _ in range(3):
        h, w = _conv_out(h, 3) // 2, _conv_out(w, 3) // 2
    if h < 1 or w < 1:
        raise ValueError(f"input_shape {tuple(input_shape)} is too small for emnist_cnn")
    layers = [
        nn.Conv2d(c, 32, 3), nn.MaxPool2d(2), nn.ReLU(), ConsistentDropout2d(32, p),
        nn.Conv2d(32, 64, 3), nn.MaxPool2d(2), nn.ReLU(), ConsistentDropout2d(64, p),
        nn.Conv2d(64, 128, 3), nn.MaxPool2d(2), nn.ReLU(), ConsistentDropout2d(128, p),
        nn.Flatten(), nn.Linear(128 * h * w, 512), nn.ReLU(), ConsistentDropout(512, p),
        nn.Linear(512, num_classes),
    ]
    return MCDropoutNet(layers, input_shape=input_shape, num_classes=num_classes, name="emnist_cnn")


def tabular_mlp(
    input_shape: Sequence[int], num_classes: int, hidden: Sequence[int], *, p: float = 0.5, name: str = "mlp"
) -> MCDropoutNet:
    """An MLP with ReLU and element dropout after every hidden layer.

    The paper's tabular networks (App. B.1): HAR (64, 64), DRIFT (32, 32), Dry Bean (8, 8).

    Args:
        input_shape: ``(F,)``, the number of features.
        num_classes: C.
        hidden: the hidden layer widths.
        p: dropout probability.
        name: the name recorded in ``model.name``.
    """
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 1:
        raise ValueError(f"input_shape must be (F,) for an MLP, got {shape}")
    if not hidden or any(int(h) < 1 for h in hidden):
        raise ValueError(f"hidden must be a non-empty sequence of positive widths, got {tuple(hidden)}")
    layers: list[nn.Module] = []
    width = shape[0]
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.ReLU(), ConsistentDropout(int(h), p)]
        width = int(h)
    layers.append(nn.Linear(width, num_classes))
    return MCDropoutNet(layers, input_shape=shape, num_classes=num_classes, name=name)


def digits_mlp(input_shape: Sequence[int] = (64,), num_classes: int = 10, *, p: float = 0.5) -> MCDropoutNet:
    """The small MLP for the embedded 8x8 digits: 64 -> 128 -> ReLU -> dropout -> C."""
    return tabular_mlp(input_shape, num_classes, (128,), p=p, name="digits_mlp")


def _mlp(hidden: tuple[int, ...], name: str) -> Callable[..., MCDropoutNet]:
    def build(input_shape: Sequence[int], num_classes: int, *, p: float = 0.5) -> MCDropoutNet:
        return tabular_mlp(input_shape, num_classes, hidden, p=p, name=name)

    return build


#: The architectures by name; each dataset names its own (:class:`balance_lite.data.DatasetSpec`).
NETWORKS: dict[str, Callable[..., MCDropoutNet]] = {
    "digits_mlp": digits_mlp,
    "mnist_cnn": mnist_cnn,
    "emnist_cnn": emnist_cnn,
    "har_mlp": _mlp((64, 64), "har_mlp"),
    "drift_mlp": _mlp((32, 32), "drift_mlp"),
    "dry_bean_mlp": _mlp((8, 8), "dry_bean_mlp"),
}


def build_model(name: str, input_shape: Sequence[int], num_classes: int, *, p: float = 0.5) -> MCDropoutNet:
    """Build the paper's network for dataset ``name``, freshly initialised (from torch's global RNG).

    Args:
        name: a dataset name such as ``"mnist"`` or ``"digits"`` (its network is declared in
            :func:`balance_lite.data.dataset_spec`).
        input_shape: the shape of one input (``splits.input_shape``).
        num_classes: C (``splits.num_classes``).
        p: dropout probability (0.5 in the paper).

    Returns:
        An :class:`MCDropoutNet` on the CPU.

    Raises:
        ValueError: unknown ``name``, or shapes the architecture cannot take.

    Example:
        >>> build_model("har", (561,), 6).name
        'har_mlp'
    """
    network = NETWORKS[dataset_spec(name).network]
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    return network(input_shape, num_classes, p=_check_p(p))
