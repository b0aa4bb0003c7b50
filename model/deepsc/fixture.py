"""The parity fixture's deterministic inputs, in PyTorch alone.

Value i of a tensor is ((i * HASH_MUL + seed) mod 2^32) / 2^32, a float in [0, 1] (float32 rounds the top values to 1) that TypeScript reproduces
bit for bit (bench/tile-timing.ts, the parity json's 'generator'). Written with torch, not numpy, so that the
GPU check's bench/torch_tile.py runs on a machine whose Python has PyTorch and nothing else.
"""

from __future__ import annotations

import math

import torch

#: Knuth's multiplicative hash constant.
HASH_MUL = 2654435761


def hash_tensor(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """float32 tensor of `shape`. int64 is exact here: i * HASH_MUL stays under 2^63 for any i < 2^31."""
    n = math.prod(shape)
    if n >= 2**31:
        raise ValueError(f"hash_tensor: {n} values is beyond the exact int64 range")
    i = torch.arange(n, dtype=torch.int64)
    u = (i * HASH_MUL + seed) & 0xFFFFFFFF
    return (u.to(torch.float64) / 2.0**32).to(torch.float32).reshape(shape)
