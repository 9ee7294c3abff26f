"""Stacks of same-shaped MLPs in NumPy, evaluated together, with hand-written gradients.

``fast_sac`` holds its actor (a stack of one) and its twin critics (a stack of two) here: the
members of a stack share their widths, so every layer is one batched matrix product over the
member axis (``np.matmul`` on ``(K, B, in) @ (K, in, out)``) instead of K small ones. Why NumPy
and not torch: the arithmetic of SAC's 256 x 256 networks at batch 256 is a few milliseconds,
and on this stack's CPUs torch's dispatch and autograd bookkeeping per op cost about as much
again (``benchmarks/RESULTS.md``, the SB3 SAC profile); the gradients of an MLP are a few lines.
``tests/test_fast_sac.py`` checks them against torch autograd.

Every parameter is a view into one float32 vector (``flat``, its gradient ``grad``), so Adam,
Polyak averaging and checkpoints act on one array. Initialization is torch's ``nn.Linear``
default (weights and biases uniform in +-1/sqrt(fan_in)), which SB3's off-policy networks keep.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agents.numpy_policy import _act, _act_grad


class MLPStack:
    """K MLPs of widths ``widths`` (input first, output last) with ``activation`` between layers."""

    def __init__(self, widths: list[int], members: int, activation: str, rng: np.random.Generator) -> None:
        self.widths, self.members, self.activation = list(widths), members, activation
        self.n_layers = len(widths) - 1
        shapes = [s for k in range(self.n_layers)
                  for s in ((members, widths[k], widths[k + 1]), (members, 1, widths[k + 1]))]
        self.flat = np.zeros(sum(int(np.prod(s)) for s in shapes), np.float32)
        self.grad = np.zeros_like(self.flat)
        self.w: list[np.ndarray] = []
        self.b: list[np.ndarray] = []
        self.gw: list[np.ndarray] = []
        self.gb: list[np.ndarray] = []
        offset = 0
        for k, shape in enumerate(shapes):
            size = int(np.prod(shape))
            view, gview = self.flat[offset : offset + size].reshape(shape), self.grad[offset : offset + size].reshape(shape)
            offset += size
            bound = 1 / math.sqrt(widths[k // 2])
            view[:] = rng.uniform(-bound, bound, shape)
            (self.w if k % 2 == 0 else self.b).append(view)
            (self.gw if k % 2 == 0 else self.gb).append(gview)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Outputs ``(K, B, out)`` at ``x`` ``(B, in)`` (the same rows for every member) or ``(K, B, in)``,
        and the activations ``backward`` needs."""
        hs = [x if x.ndim == 3 else np.broadcast_to(x, (self.members, *x.shape))]
        for k in range(self.n_layers):
            z = np.matmul(hs[-1], self.w[k])
            z += self.b[k]
            if k < self.n_layers - 1:
                z = np.maximum(z, 0, out=z) if self.activation == "relu" else _act(self.activation, z)
            hs.append(z)
        return hs[-1], hs

    def backward(self, hs: list[np.ndarray], d_out: np.ndarray, weights: bool = True,
                 inputs: bool = False) -> np.ndarray | None:
        """Back-propagate ``d_out`` (the loss's gradient at the outputs, ``(K, B, out)``): fill ``grad``
        when ``weights`` (overwriting it), and return the gradient at the inputs ``(K, B, in)`` when
        ``inputs``."""
        d = d_out.astype(np.float32, copy=False)
        for k in range(self.n_layers - 1, -1, -1):
            if weights:
                np.matmul(hs[k].transpose(0, 2, 1), d, out=self.gw[k])
                self.gb[k][:] = d.sum(axis=1, keepdims=True)
            if k or inputs:
                wt = self.w[k].transpose(0, 2, 1)
                d = d * wt if wt.shape[1] == 1 else np.matmul(d, wt)  # an outer product: matmul's slow path
                if k:
                    d *= hs[k] > 0 if self.activation == "relu" else _act_grad(self.activation, hs[k])
        return d if inputs else None

    def backward_selected(self, hs: list[np.ndarray], d_sel: np.ndarray, pick: np.ndarray) -> np.ndarray:
        """The gradient at the inputs ``(B, in)`` of ``sum_i d_sel[i] . out[pick[i], i]``: a loss that reads,
        for each row, one member's output (SAC's ``min`` over critics), so each row is back-propagated
        through that member alone - half the products of ``backward(..., inputs=True)`` for two members,
        the same gradient. Weights' gradients are not touched."""
        d_in = np.empty((d_sel.shape[0], self.widths[0]), np.float32)
        for m in range(self.members):
            rows = np.flatnonzero(pick == m)
            if not len(rows):
                continue
            d = d_sel[rows].astype(np.float32, copy=False)
            for k in range(self.n_layers - 1, -1, -1):
                w = self.w[k][m]
                d = d * w[:, 0] if w.shape[1] == 1 else d @ w.T
                if k:
                    h = hs[k][m, rows]
                    d *= h > 0 if self.activation == "relu" else _act_grad(self.activation, h)
            d_in[rows] = d
        return d_in

    def torch_forward(self, x: Any, member: int = 0) -> Any:
        """Member ``member``'s output at a torch tensor ``x`` (B, in), differentiable in ``x``."""
        import torch

        fn = {"tanh": torch.tanh, "relu": torch.relu, "elu": torch.nn.functional.elu,
              "leaky_relu": lambda h: torch.nn.functional.leaky_relu(h, 0.01)}[self.activation]
        h = x
        for k in range(self.n_layers):
            h = h @ torch.from_numpy(self.w[k][member]) + torch.from_numpy(self.b[k][member])
            if k < self.n_layers - 1:
                h = fn(h)
        return h


class FusedAdam:
    """torch's fused Adam (one kernel per step) over a flat float32 parameter vector and its gradient
    held in NumPy: the two arrays are shared with torch, never copied. On these vectors (10^5
    parameters) it takes 0.15 ms a step where the same update in NumPy operations takes 0.37 ms.

    Subnormal numbers are flushed to zero during the step (and only then, on this thread): the first
    moments of weights whose gradient has been zero for a while (dead ReLU units; 14-20% of SAC's on
    Hopper after 2k steps) decay below 1.2e-38, where every operation on them is ~6x slower on these
    CPUs (0.92 vs 0.15 ms a step measured). An update of that size is below a float32 parameter's
    resolution, so the flush does not change the parameters."""

    def __init__(self, flat: np.ndarray, grad: np.ndarray, eps: float = 1e-8) -> None:
        import torch

        self.param = torch.from_numpy(flat)
        self.param.grad = torch.from_numpy(grad)
        self.opt = torch.optim.Adam([self.param], lr=1e-3, eps=eps, fused=True)

    def step(self, lr: float) -> None:
        """One update of the parameters in place, at learning rate ``lr``."""
        import torch

        self.opt.param_groups[0]["lr"] = lr
        flushed = torch.set_flush_denormal(True)  # this thread only, restored below
        try:
            self.opt.step()
        finally:
            if flushed:
                torch.set_flush_denormal(False)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The moments and step count as arrays (empty before the first step)."""
        state = self.opt.state.get(self.param)
        if not state:
            return {}
        return {"m": state["exp_avg"].numpy().copy(), "v": state["exp_avg_sq"].numpy().copy(),
                "t": np.array(float(state["step"]))}

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore ``state_arrays``' output."""
        import torch

        if arrays:
            self.opt.state[self.param] = {"step": torch.tensor(float(arrays["t"])),
                                          "exp_avg": torch.from_numpy(np.array(arrays["m"], np.float32)),
                                          "exp_avg_sq": torch.from_numpy(np.array(arrays["v"], np.float32))}
