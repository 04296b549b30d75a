"""Stateless, counter-based random numbers: value = hash(seed, stream, index, field).

Why not ``torch.Generator``: a generator's output depends on how many numbers were drawn
before, so sample *i* would change with the batch it is drawn in or the data-set size. Hashing
the coordinates instead makes every sample a pure function of (world seed, index), which gives
nested training subsets, disjoint validation/test streams and identical results on any device.

All arithmetic stays inside int64 without overflow: values are 32-bit and products are split
into 16-bit halves, so the results are bit-identical on CPU and GPU.
"""

from __future__ import annotations

import math

import torch

_MASK32 = 0xFFFFFFFF
_MASK16 = 0xFFFF
_GOLDEN = 0x9E3779B9
_TWO_POW_24 = float(1 << 24)


def _mul32(x: torch.Tensor, constant: int) -> torch.Tensor:
    """(x * constant) mod 2**32 for 32-bit x, computed without int64 overflow."""
    low = x * (constant & _MASK16)
    high = ((x * (constant >> 16)) & _MASK16) << 16
    return (low + high) & _MASK32


def hash32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer finaliser with good avalanche (the 'lowbias32' constants)."""
    x = x & _MASK32
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def hash_keys(*keys: torch.Tensor | int) -> torch.Tensor:
    """Hash a sequence of keys (ints or int64 tensors, broadcast together) into 32 bits."""
    state: torch.Tensor | None = None
    for position, key in enumerate(keys):
        key_t = key if isinstance(key, torch.Tensor) else torch.tensor(key, dtype=torch.int64)
        mixed = hash32((key_t.to(torch.int64) & _MASK32) + (position + 1) * _GOLDEN)
        state = mixed if state is None else hash32(state ^ mixed)
    if state is None:
        raise ValueError("hash_keys needs at least one key")
    return state


def uniform(*keys: torch.Tensor | int) -> torch.Tensor:
    """Uniform float32 in [0, 1) with 24 random bits, a pure function of the keys."""
    return (hash_keys(*keys) >> 8).to(torch.float32) / _TWO_POW_24


def normal(*keys: torch.Tensor | int) -> torch.Tensor:
    """Standard normal float32 via Box-Muller on two decorrelated uniforms of the same keys."""
    u1 = uniform(*keys, 0x5EED0001)
    u2 = uniform(*keys, 0x5EED0002)
    radius = torch.sqrt(-2.0 * torch.log1p(-u1))  # log1p(-u) is finite for u in [0, 1)
    return radius * torch.cos(2.0 * torch.pi * u2)


def _hash32_int(x: int) -> int:
    """``hash32`` on a Python int, bit-identical to the tensor version."""
    x &= _MASK32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & _MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & _MASK32
    return x ^ (x >> 16)


def _field_key(fields: tuple[int, ...]) -> int:
    key = 0x2545F491
    for position, field in enumerate(fields):
        key = _hash32_int(key ^ _hash32_int((field & _MASK32) + (position + 1) * _GOLDEN))
    return key


class SampleRandomness:
    """Random quantities of a batch of samples, keyed by named integer fields.

    Hashing (seed, stream, index) once per sample and deriving each field with two rounds
    of ``hash32`` costs a few tensor ops per field instead of a dozen per key.
    """

    def __init__(self, seed: int, stream: int, index: torch.Tensor) -> None:
        self.base = hash_keys(seed, stream, index.to(torch.int64))

    def bits(self, *fields: int) -> torch.Tensor:
        """32 random bits per sample for the given field coordinates."""
        return hash32(hash32(self.base ^ _field_key(fields)))

    def uniform(self, *fields: int) -> torch.Tensor:
        """Uniform float32 in [0, 1) per sample."""
        return (self.bits(*fields) >> 8).to(torch.float32) / _TWO_POW_24

    def normal(self, *fields: int) -> torch.Tensor:
        """Standard normal float32 per sample (Box-Muller on two derived uniforms)."""
        u1, u2 = self.uniform(*fields, 0), self.uniform(*fields, 1)
        return torch.sqrt(-2.0 * torch.log1p(-u1)) * torch.cos(2.0 * torch.pi * u2)

    def pixel_noise(self, field: int, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
        """Zero-mean uniform noise of unit variance and ``shape`` (B, ...); each 32-bit hash
        feeds two pixels, so a whole image costs one hash per two pixels."""
        per_image = self.bits(field).view(-1, 1)
        n_pixels = math.prod(shape[1:])
        counter = torch.arange((n_pixels + 1) // 2, device=per_image.device).view(1, -1)
        bits = hash32(per_image ^ ((counter * 0x9E3779B1) & 0xFFFFFFFF))
        halves = torch.cat([bits & 0xFFFF, bits >> 16], dim=1)[:, :n_pixels]
        uniform01 = (halves.to(torch.float32) + 0.5) / 65536.0
        return ((uniform01 - 0.5) * 12.0**0.5).view(shape)
