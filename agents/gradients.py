"""Global gradient-norm clipping in two fused kernels, shared by our torch learners.

torch's ``clip_grad_norm_`` launches several kernels per parameter and was a visible share of
the small-network updates here (the DQN family's and the MARL learners' profiles); this does the
same arithmetic with one ``_foreach_norm`` and one ``_foreach_mul_``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def clip_gradients(params: Iterable[torch.Tensor], max_norm: float | None) -> None:
    """Scale every gradient by ``max_norm / (norm + 1e-6)`` when the global norm exceeds ``max_norm``
    (torch's factor; below it torch multiplies by 1, a no-op). ``max_norm=None`` (the catalog's
    ``max_grad_norm: null``) is no clipping."""
    if max_norm is None:
        return
    grads = [p.grad for p in params if p.grad is not None]
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    if total > max_norm:
        torch._foreach_mul_(grads, max_norm / (float(total) + 1e-6))
