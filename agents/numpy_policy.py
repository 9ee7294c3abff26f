"""SB3's PPO ``MlpPolicy`` in NumPy: policy and value MLPs with hand-written gradients, and Adam.

Why not torch: on this stack's CPUs a torch op on a 64-row minibatch costs 3-15 us of dispatch
(``nn.Linear`` forward on 64 x 11 -> 64: 14.7 us, where the matrix product is 3.3 us in
NumPy), and autograd adds a node per op; a PPO minibatch (forward, backward, clipping, Adam)
measured 1.47-1.69 ms in torch against 0.29 ms for the same arithmetic in NumPy
(``benchmarks/RESULTS.md``). The networks here are small enough that the gradients are a few
lines each; ``tests/test_fast_ppo.py`` checks them against torch autograd.

Layout: every parameter is a view into one float32 vector (``flat``), so gradient clipping
and Adam are a handful of vector operations. Each MLP is SB3's: ``net_arch`` hidden layers
with an activation, then a linear head; orthogonal initialization with gain sqrt(2) for
hidden layers, 0.01 for the policy head and 1 for the value head, zero biases; a
state-independent log std for Gaussian policies. ``torch_views`` rebuilds the same
function in torch for attacks that need gradients with respect to observations.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

LOG_2PI = math.log(2 * math.pi)


def _act(name: str, x: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return np.tanh(x)
    if name == "relu":
        return np.maximum(x, 0)
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    return np.where(x > 0, x, 0.01 * x)  # leaky_relu


def _act_grad(name: str, h: np.ndarray) -> np.ndarray:
    """d activation / d input, from the activation's output ``h``."""
    if name == "tanh":
        return 1 - h * h
    if name == "relu":
        return (h > 0).astype(h.dtype)
    if name == "elu":
        return np.where(h > 0, 1, h + 1).astype(h.dtype)
    return np.where(h > 0, 1, 0.01).astype(h.dtype)


ACTIVATIONS = ("tanh", "relu", "elu", "leaky_relu")


def orthogonal(rows: int, cols: int, gain: float, rng: np.random.Generator) -> np.ndarray:
    """A (rows, cols) matrix with orthonormal rows or columns times ``gain`` (torch's ``orthogonal_``)."""
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q[:rows, :cols]).astype(np.float32)


class NumpyPolicy:
    """Policy MLP (logits or Gaussian mean, plus log std) and value MLP over one flat float32 vector."""

    def __init__(self, n_in: int, n_out: int, discrete: bool, pi_arch: list[int], vf_arch: list[int], activation: str,
                 log_std_init: float, ortho: bool, rng: np.random.Generator) -> None:
        self.discrete, self.activation, self.n_out = discrete, activation, n_out
        shapes: list[tuple[str, tuple[int, ...], float]] = []
        for net, arch, head, gain in (("pi", pi_arch, n_out, 0.01), ("vf", vf_arch, 1, 1.0)):
            widths = [n_in, *arch, head]
            for k in range(len(widths) - 1):
                last = k == len(widths) - 2
                shapes += [(f"{net}.w{k}", (widths[k], widths[k + 1]), gain if last else math.sqrt(2)),
                           (f"{net}.b{k}", (widths[k + 1],), 0.0)]
        if not discrete:
            shapes.append(("log_std", (n_out,), 0.0))
        self.flat = np.zeros(sum(int(np.prod(s)) for _, s, _ in shapes), np.float32)
        self.grad = np.zeros_like(self.flat)
        self.p: dict[str, np.ndarray] = {}
        self.g: dict[str, np.ndarray] = {}
        offset = 0
        for name, shape, gain in shapes:
            size = int(np.prod(shape))
            self.p[name] = self.flat[offset : offset + size].reshape(shape)
            self.g[name] = self.grad[offset : offset + size].reshape(shape)
            offset += size
            if name.startswith(("pi.w", "vf.w")):
                if ortho:  # torch's orthogonal_ on an (out, in) weight; we store (in, out)
                    self.p[name][:] = orthogonal(shape[1], shape[0], gain, rng).T
                else:
                    bound = 1 / math.sqrt(shape[0])
                    self.p[name][:] = rng.uniform(-bound, bound, shape)
        if not discrete:
            self.p["log_std"][:] = log_std_init
        self.layers = {net: len(arch) + 1 for net, arch in (("pi", pi_arch), ("vf", vf_arch))}

    # -- forward ----------------------------------------------------------
    def _mlp(self, net: str, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        hs = [x]
        n = self.layers[net]
        for k in range(n):
            z = hs[-1] @ self.p[f"{net}.w{k}"] + self.p[f"{net}.b{k}"]
            hs.append(z if k == n - 1 else _act(self.activation, z))
        return hs[-1], hs

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
        """(policy output, value (B,), cache for ``backward``) at ``x`` (B, n_in) float32."""
        out, hs_pi = self._mlp("pi", x)
        v, hs_vf = self._mlp("vf", x)
        return out, v[:, 0], (hs_pi, hs_vf)

    def log_prob(self, out: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, Any]:
        """log pi(a | s) and what its gradient needs."""
        if self.discrete:
            shifted = out - out.max(axis=1, keepdims=True)
            logp_all = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            a = actions.astype(np.int64)
            return logp_all[np.arange(len(a)), a], (logp_all, a)
        log_std = self.p["log_std"]
        inv = np.exp(-log_std)
        z = (actions - out) * inv
        return -(0.5 * z * z).sum(axis=1) - log_std.sum() - 0.5 * LOG_2PI * self.n_out, (z, inv)

    def entropy(self, aux: Any, rows: int) -> np.ndarray:
        """The entropy per row (``aux`` from ``log_prob``)."""
        if self.discrete:
            logp_all = aux[0]
            return -(np.exp(logp_all) * logp_all).sum(axis=1)
        return np.full(rows, float((0.5 + 0.5 * LOG_2PI + self.p["log_std"]).sum()), np.float32)

    def sample(self, out: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Actions drawn from the policy."""
        if self.discrete:
            p = np.exp(out - out.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            u = rng.random((len(p), 1))
            return np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)
        return (out + np.exp(self.p["log_std"]) * rng.standard_normal(out.shape)).astype(np.float32)

    def mode(self, out: np.ndarray) -> np.ndarray:
        """The most likely action."""
        return out.argmax(axis=1) if self.discrete else out

    # -- backward ---------------------------------------------------------
    def _back(self, net: str, hs: list[np.ndarray], d: np.ndarray) -> None:
        for k in range(self.layers[net] - 1, -1, -1):
            np.matmul(hs[k].T, d, out=self.g[f"{net}.w{k}"])
            self.g[f"{net}.b{k}"][:] = d.sum(axis=0)
            if k:
                d = (d @ self.p[f"{net}.w{k}"].T) * _act_grad(self.activation, hs[k])

    def backward(self, cache: Any, aux: Any, d_logp: np.ndarray, d_entropy: float, d_value: np.ndarray) -> None:
        """Fill ``grad`` for the loss whose gradients with respect to each row's log-probability (``d_logp``),
        the mean entropy (``d_entropy``, a scalar) and each row's value (``d_value``) are given."""
        hs_pi, hs_vf = cache
        rows = len(d_logp)
        if self.discrete:
            logp_all, a = aux
            prob = np.exp(logp_all)
            d_out = -prob * d_logp[:, None]
            d_out[np.arange(rows), a] += d_logp
            if d_entropy:
                ent = -(prob * logp_all).sum(axis=1, keepdims=True)
                d_out += (d_entropy / rows) * (-prob * (logp_all + ent))
        else:
            z, inv = aux
            d_out = d_logp[:, None] * z * inv
            self.g["log_std"][:] = (d_logp[:, None] * (z * z - 1)).sum(axis=0) + d_entropy
        self._back("pi", hs_pi, d_out.astype(np.float32))
        self._back("vf", hs_vf, d_value[:, None].astype(np.float32))

    # -- torch views (attacks) -------------------------------------------
    def torch_forward(self, x: Any) -> tuple[Any, Any]:
        """(policy output, value) at a torch tensor ``x``, differentiable in ``x``."""
        import torch

        def mlp(net: str, h: Any) -> Any:
            n = self.layers[net]
            for k in range(n):
                h = h @ torch.from_numpy(self.p[f"{net}.w{k}"]) + torch.from_numpy(self.p[f"{net}.b{k}"])
                if k < n - 1:
                    h = {"tanh": torch.tanh, "relu": torch.relu, "elu": torch.nn.functional.elu,
                         "leaky_relu": torch.nn.functional.leaky_relu}[self.activation](h)
            return h

        return mlp("pi", x), mlp("vf", x)[:, 0]

    def torch_distribution(self, out: Any) -> Any:
        """A torch distribution of a policy output."""
        import torch

        if self.discrete:
            return torch.distributions.Categorical(logits=out)
        std = torch.from_numpy(np.exp(self.p["log_std"]))
        return torch.distributions.Independent(torch.distributions.Normal(out, std), 1)


class Adam:
    """torch's Adam on one flat vector (bias-corrected; eps added to the corrected root)."""

    def __init__(self, size: int, eps: float = 1e-5, betas: tuple[float, float] = (0.9, 0.999)) -> None:
        self.m, self.v = np.zeros(size, np.float32), np.zeros(size, np.float32)
        self.t, self.eps, self.betas = 0, eps, betas

    def step(self, params: np.ndarray, grad: np.ndarray, lr: float) -> None:
        """One update of ``params`` in place."""
        b1, b2 = self.betas
        self.t += 1
        self.m *= b1
        self.m += (1 - b1) * grad
        self.v *= b2
        self.v += (1 - b2) * grad * grad
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        params -= (lr / c1) * self.m / (np.sqrt(self.v) / math.sqrt(c2) + self.eps)


def clip_grad_norm(grad: np.ndarray, max_norm: float | None) -> float:
    """torch's ``clip_grad_norm_`` on one vector; returns the norm before clipping. ``max_norm=None``
    (``max_grad_norm: null``) is no clipping."""
    norm = float(np.sqrt(np.dot(grad, grad)))
    if max_norm is None:
        return norm
    coef = max_norm / (norm + 1e-6)
    if coef < 1:
        grad *= coef
    return norm
