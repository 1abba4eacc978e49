r"""Data augmentation for batches of images: whole-pixel shifts, small rotations, Gaussian noise.

Every function takes a batch ``x`` of shape (N, C, H, W) (floating point, any device) and gives
each image its own random transformation, drawn from ``generator`` (a ``torch.Generator``, on
the CPU or on x's device; None: torch's global generator). The same generator state gives the
same transformations on every run and every device (the random numbers are drawn on the
generator's device and only then moved to x's). Pixels that a shift or a rotation uncovers get
the value ``fill``: 0 for [0, 1] images, ``(0 - mean) / std`` for standardised ones.

Augmentation is called on every training step, so each function is a few batched tensor ops
(one gather for a shift, one ``grid_sample`` for a rotation), no Python loop over images.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _checks


def _images(x) -> Tensor:
    x = _checks.tensor("x", x)
    if x.dim() != 4:
        raise ValueError(f"x must be a batch of images of shape (N, C, H, W); got shape {tuple(x.shape)} "
                         f"(a flat MNIST batch: x.view(-1, 1, 28, 28))")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor; got {x.dtype}")
    return x


def _generator(generator):
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None; got {type(generator).__name__}")
    return generator


def _on(t: Tensor, x: Tensor) -> Tensor:
    return t.to(x.device)


def shift(x: Tensor, dy: Tensor, dx: Tensor, *, fill: float = 0.0) -> Tensor:
    r"""Move image n down by ``dy[n]`` and right by ``dx[n]`` whole pixels (negative: up, left).

    out[n, :, i, j] = x[n, :, i - dy[n], j - dx[n]], and ``fill`` where that is outside the image.
    dy, dx: integer tensors of shape (N,).
    """
    x = _images(x)
    fill = _checks.number("fill", fill)
    N, C, H, W = x.shape
    for name, d in (("dy", dy), ("dx", dx)):
        _checks.tensor(name, d)
        if d.shape != (N,) or d.is_floating_point() or d.is_complex() or d.dtype == torch.bool:
            raise ValueError(f"{name} must be an integer tensor of shape ({N},); got {d.dtype} {tuple(d.shape)}")
    dy, dx = _on(dy, x).long(), _on(dx, x).long()
    s = int(max(dy.abs().max(), dx.abs().max()).item()) if N else 0      # the padding needed
    return _shift(x, dy, dx, fill, s)


def _shift(x: Tensor, dy: Tensor, dx: Tensor, fill: float, s: int) -> Tensor:
    """shift() with |dy|, |dx| <= s known (no device sync to find it)."""
    N, C, H, W = x.shape
    if s == 0:
        return x.clone()
    s = min(s, max(H, W))                        # a shift past the edge leaves only fill anyway
    dy, dx = dy.clamp(-s, s), dx.clamp(-s, s)
    p = F.pad(x, (s, s, s, s), value=fill)       # (N, C, H + 2s, W + 2s)
    # output pixel (i, j) reads padded pixel (i - dy + s, j - dx + s): one gather on the
    # flattened images (~3x faster on a CPU than a gather per axis or advanced indexing)
    rows = (s - dy)[:, None, None] + torch.arange(H, device=x.device)[:, None]      # (N, H, 1)
    cols = (s - dx)[:, None, None] + torch.arange(W, device=x.device)               # (N, 1, W)
    idx = (rows * (W + 2 * s) + cols).view(N, 1, H * W).expand(N, C, H * W)
    return p.view(N, C, -1).gather(2, idx).view(N, C, H, W)


def random_shift(x: Tensor, max_shift: int, *, fill: float = 0.0,
                 generator: torch.Generator | None = None) -> Tensor:
    """:func:`shift` each image by dy, dx drawn uniformly from {-max_shift, ..., max_shift}."""
    x = _images(x)
    max_shift = _checks.integer("max_shift", max_shift, low=0, high=min(x.shape[2:]) - 1)
    fill = _checks.number("fill", fill)
    generator = _generator(generator)
    if max_shift == 0:
        return x.clone()
    gdev = generator.device if generator is not None else x.device
    d = _on(torch.randint(-max_shift, max_shift + 1, (2, x.shape[0]), generator=generator, device=gdev), x)
    return _shift(x, d[0], d[1], fill, max_shift)


def rotate(x: Tensor, degrees: Tensor | float, *, fill: float = 0.0) -> Tensor:
    r"""Turn image n by ``degrees[n]`` about its centre, counter-clockwise as displayed (rows
    downwards), as torchvision's rotate; bilinear interpolation.

    ``rotate(x, 90)`` equals ``torch.rot90(x, 1, dims=(2, 3))``. degrees: a number or shape (N,).
    The sampling grid in normalised coordinates (u across, v down, both in [-1, 1]) is
    u_in = cos(a) u - sin(a) (H/W) v, v_in = sin(a) (W/H) u + cos(a) v (the factors H/W and W/H
    keep non-square images from shearing).
    """
    x = _images(x)
    fill = _checks.number("fill", fill)
    N, _, H, W = x.shape
    if not isinstance(degrees, Tensor):
        degrees = torch.full((N,), _checks.number("degrees", degrees))
    elif degrees.dim() == 0:
        degrees = degrees.expand(N)
    if degrees.shape != (N,):
        raise ValueError(f"degrees must be a number or a tensor of shape ({N},); got shape {tuple(degrees.shape)}")
    # cast on the tensor's own device, then move: a float64 degrees tensor cannot go to MPS as is
    a = (_on(degrees.to(x.dtype), x) * (math.pi / 180))[:, None, None]     # (N, 1, 1)
    cos, sin = a.cos(), a.sin()
    # pixel centres in normalised coordinates (align_corners=False): u across, v down
    u = (2 * torch.arange(W, device=x.device, dtype=x.dtype) + 1) / W - 1     # (W,)
    v = ((2 * torch.arange(H, device=x.device, dtype=x.dtype) + 1) / H - 1)[:, None]  # (H, 1)
    # where each output pixel reads the input: the output turned back by -a. Written out, the
    # products are (N, 1, W) and (N, H, 1) and only the sums full size: ~3x cheaper on a CPU
    # than F.affine_grid's batched matmul
    grid = torch.stack([cos * u - sin * (H / W) * v,
                        sin * (W / H) * u + cos * v], dim=-1)               # (N, H, W, 2)
    out = F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out + fill


def random_rotation(x: Tensor, max_degrees: float, *, fill: float = 0.0,
                    generator: torch.Generator | None = None) -> Tensor:
    """:func:`rotate` each image by an angle drawn uniformly from [-max_degrees, max_degrees]."""
    x = _images(x)
    max_degrees = _checks.number("max_degrees", max_degrees, low=0.0, high=180.0)
    generator = _generator(generator)
    if max_degrees == 0:
        return x.clone()
    gdev = generator.device if generator is not None else x.device
    u = torch.rand(x.shape[0], generator=generator, device=gdev, dtype=x.dtype)
    return rotate(x, (2 * u - 1) * max_degrees, fill=fill)


def gaussian_noise(x: Tensor, std: float, *, generator: torch.Generator | None = None) -> Tensor:
    """x + std * N(0, 1), independently for every pixel of every image."""
    x = _images(x)
    std = _checks.number("std", std, low=0.0)
    generator = _generator(generator)
    if std == 0:
        return x.clone()
    gdev = generator.device if generator is not None else x.device
    return x + std * _on(torch.randn(x.shape, generator=generator, device=gdev, dtype=x.dtype), x)


def augment(x: Tensor, *, max_shift: int = 0, max_degrees: float = 0.0, noise_std: float = 0.0,
            fill: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
    """A random rotation, then a random whole-pixel shift, then Gaussian noise (each skipped
    when its size is 0): a fresh variant of every image of the batch, per training step."""
    x = _images(x)
    max_shift = _checks.integer("max_shift", max_shift, low=0, high=min(x.shape[2:]) - 1)
    max_degrees = _checks.number("max_degrees", max_degrees, low=0.0, high=180.0)
    noise_std = _checks.number("noise_std", noise_std, low=0.0)
    fill = _checks.number("fill", fill)
    generator = _generator(generator)
    if max_degrees == max_shift == noise_std == 0:
        return x.clone()                         # like the others: never the input itself
    if max_degrees > 0:
        x = random_rotation(x, max_degrees, fill=fill, generator=generator)
    if max_shift > 0:
        x = random_shift(x, max_shift, fill=fill, generator=generator)
    if noise_std > 0:
        x = gaussian_noise(x, noise_std, generator=generator)
    return x


__all__ = ["shift", "random_shift", "rotate", "random_rotation", "gaussian_noise", "augment"]
