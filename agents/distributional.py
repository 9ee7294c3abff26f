"""The categorical (C51) return distribution of Bellemare et al. 2017: a fixed support of
``atoms`` values from ``v_min`` to ``v_max`` and the projection of a Bellman-updated
distribution back onto it.

The projection of ``r + d z_j`` (``d`` the bootstrap discount, 0 after a termination), clipped
to ``[v_min, v_max]``, splits each atom's mass between its two neighbouring support points in
proportion to closeness; written as the triangular kernel
``m_i = sum_j p_j max(0, 1 - |b_j - i|)`` with ``b_j = (Tz_j - v_min) / dz``, which keeps the
whole mass when ``b_j`` falls exactly on a support point (the ``floor == ceil`` case that the
paper's Algorithm 1 loses unless patched).

>>> import torch
>>> z = support(3, 0.0, 2.0)
>>> project(torch.tensor([[0.0, 1.0, 0.0]]), torch.tensor([0.5]), torch.tensor([1.0]), z)
tensor([[0.0000, 0.5000, 0.5000]])
"""

from __future__ import annotations

import torch


def support(atoms: int, v_min: float, v_max: float) -> torch.Tensor:
    """The ``atoms`` evenly spaced return values from ``v_min`` to ``v_max``."""
    return torch.linspace(v_min, v_max, atoms)


def project(probs: torch.Tensor, rewards: torch.Tensor, discounts: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Project the distributions ``probs`` (B, atoms) on ``z`` shifted to ``rewards + discounts * z``
    back onto ``z``; returns (B, atoms), each row summing to its input's mass."""
    v_min, v_max, atoms = float(z[0]), float(z[-1]), len(z)
    dz = (v_max - v_min) / (atoms - 1)
    tz = (rewards[:, None] + discounts[:, None] * z[None, :]).clamp(v_min, v_max)
    b = (tz - v_min) / dz  # (B, atoms): fractional index of each shifted atom
    kernel = (1.0 - (b[:, None, :] - torch.arange(atoms, dtype=b.dtype)[None, :, None]).abs()).clamp(min=0.0)
    return (kernel * probs[:, None, :]).sum(dim=2)
