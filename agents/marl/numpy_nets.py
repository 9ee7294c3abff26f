"""MAPPO's and IPPO's feed-forward networks evaluated and differentiated in NumPy, over the torch
modules' own storage.

Why: the networks are 64 x 64 MLPs on ~1,200-row batches, where a torch op's dispatch and
autograd's bookkeeping cost more than the arithmetic: in a profile of MAPPO on the batched
particle worlds the update's ``backward`` alone took 0.76 s of 3.1 s and ``nn.Linear`` 0.35 s,
where the products themselves are ~1 ms an epoch (``benchmarks/RESULTS.md``, "MAPPO training
throughput"). ``agents.numpy_policy`` made the same move for single-agent PPO.

The torch modules stay what the rest of the code sees: ``NumpyGroup`` moves a group's parameters
into one float32 vector and leaves each ``nn.Parameter`` a view of its slice, so checkpoints,
``load_state_dict``, the training state, ``act`` and the differentiable views for attacks read and
write the same numbers this module trains; the gradients go into a flat vector beside it, clipped
as one vector and stepped by torch's fused Adam (``agents.numpy_mlp.FusedAdam``). Only feed-forward torsos (no GRU, no LayerNorm) with ``tanh`` or ``relu`` are covered
(``supported``); the learner keeps autograd for the others. ``tests/test_marl_numpy_nets.py``
checks values and gradients against autograd.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from agents.activations import Tanh
from agents.numpy_mlp import FusedAdam
from agents.numpy_policy import LOG_2PI


def supported(actor: Any, critic: Any) -> bool:
    """True when both torsos are plain MLPs (linear layers, tanh or ReLU, no GRU) this module can evaluate."""
    plain = all(isinstance(m, (nn.Linear, nn.ReLU, Tanh)) for t in (actor, critic) for m in t.body)
    return plain and actor.gru is None and critic.gru is None


def linears(*modules: Any) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of ``modules`` in order (a torso's ``body``, a head layer, a Sequential)."""
    out: list[nn.Linear] = []
    for m in modules:
        out += [m] if isinstance(m, nn.Linear) else [x for x in m.modules() if isinstance(x, nn.Linear)]
    return out


def one_vector(params: list[nn.Parameter]) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """Move ``params`` into one float32 vector, values unchanged: each ``nn.Parameter`` becomes a view of
    its slice. Returns the vector, a gradient vector beside it, and each parameter's gradient slot (a view
    of the gradient vector shaped like the parameter) by ``id``."""
    flat = np.zeros(sum(p.numel() for p in params), np.float32)
    grad = np.zeros_like(flat)
    grads: dict[int, np.ndarray] = {}
    offset = 0
    for p in params:
        size = p.numel()
        flat[offset : offset + size] = p.detach().numpy().reshape(-1)
        p.data = torch.from_numpy(flat[offset : offset + size]).view_as(p)
        grads[id(p)] = grad[offset : offset + size].reshape(tuple(p.shape))
        offset += size
    return flat, grad, grads


def rows(x: np.ndarray) -> np.ndarray:
    """``x`` (..., d) as contiguous float32 rows (N, d): per-agent inputs (B, k, d) flattened for a network."""
    return np.ascontiguousarray(x.reshape(-1, x.shape[-1]), dtype=np.float32)


def clip_and_step(grad: np.ndarray, adam: FusedAdam, lr: float, max_norm: float | None) -> None:
    """Clip the gradient vector's norm to ``max_norm`` (torch's factor ``max_norm / (norm + 1e-6)``; None:
    no clipping) and take one Adam step at ``lr``."""
    if max_norm is not None:
        norm = float(np.sqrt(np.dot(grad, grad)))
        if norm > max_norm:
            grad *= max_norm / (norm + 1e-6)
    adam.step(lr)


class NumpyMLP:
    """A network's linear layers as NumPy views of the torch parameters and of their gradients' slots in
    a flat gradient vector."""

    def __init__(self, linears: list[nn.Linear], activation: str, grads: dict[int, np.ndarray] | None) -> None:
        """``linears``: the layers in order (the activation between them, none after the last); ``grads``:
        each parameter's gradient slot by ``id`` (``one_vector``), None for a network that is only evaluated
        (a target network)."""
        self.activation = activation
        # views of the parameters' storage: optimizer steps and load_state_dict write in place
        self.w = [lin.weight.detach().numpy() for lin in linears]
        self.b = [lin.bias.detach().numpy() for lin in linears]
        self.gw = [grads[id(lin.weight)] for lin in linears] if grads is not None else []
        self.gb = [grads[id(lin.bias)] for lin in linears] if grads is not None else []

    def forward(self, x: np.ndarray, shared: np.ndarray | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Output (B, out) at ``x`` (B, in) float32, and the activations ``backward`` needs.

        With ``shared`` (B / k, s), the input of row ``i`` is ``shared[i // k]`` followed by ``x[i]``
        (B, in - s): a centralized critic's state, the same for the k agents of a copy, goes through
        the first layer once per copy instead of once per agent."""
        hs = [x]
        last = len(self.w) - 1
        for k in range(last + 1):
            if k == 0 and shared is not None:
                z = self._first_layer(x, shared)
            else:
                z = hs[-1] @ self.w[k].T
            z += self.b[k]
            if k < last:
                z = np.tanh(z, out=z) if self.activation == "tanh" else np.maximum(z, 0, out=z)
            hs.append(z)
        return hs[-1], hs

    def _first_layer(self, x: np.ndarray, shared: np.ndarray) -> np.ndarray:
        w, s = self.w[0], shared.shape[1]
        z = (shared @ w[:, :s].T)[:, None, :]  # (B / k, 1, width)
        part = (x @ w[:, s:].T).reshape(len(shared), -1, w.shape[0])  # (B / k, k, width)
        part += z
        return part.reshape(len(x), -1)

    def backward(self, hs: list[np.ndarray], d: np.ndarray, shared: np.ndarray | None = None) -> None:
        """Write the gradients of a loss whose gradient at the output is ``d`` (B, out) into every
        layer's gradient slot (overwriting it); ``shared`` as given to ``forward``."""
        d = d.astype(np.float32, copy=False)
        for k in range(len(self.w) - 1, -1, -1):
            if k == 0 and shared is not None:
                s = shared.shape[1]
                per_copy = d.reshape(len(shared), -1, d.shape[1]).sum(axis=1)  # (B / k, width)
                np.matmul(per_copy.T, shared, out=self.gw[0][:, :s])
                np.matmul(d.T, hs[0], out=self.gw[0][:, s:])
                np.matmul(_ones(len(d)), d, out=self.gb[0][None])
                break
            np.matmul(d.T, hs[k], out=self.gw[k])
            np.matmul(_ones(len(d)), d, out=self.gb[k][None])  # the column sums: 5x np.sum's speed here
            if k:
                d = self._below(k, hs, d)

    def input_gradient(self, hs: list[np.ndarray], d: np.ndarray) -> np.ndarray:
        """The gradient at the input (B, in) of a loss whose gradient at the output is ``d`` (B, out);
        no weight gradient is written (the network is a fixed function here, e.g. a critic the actor's
        loss goes through)."""
        d = d.astype(np.float32, copy=False)
        for k in range(len(self.w) - 1, 0, -1):
            d = self._below(k, hs, d)
        w = self.w[0]
        return d * w[0] if w.shape[0] == 1 else d @ w

    def _below(self, k: int, hs: list[np.ndarray], d: np.ndarray) -> np.ndarray:
        """The gradient at layer ``k``'s pre-activation input ``z_{k-1}`` from the gradient ``d`` at its output."""
        w = self.w[k]
        d = d * w[0] if w.shape[0] == 1 else d @ w  # one output: an outer product
        h = hs[k]
        if self.activation == "tanh":
            slope = h * h
            np.subtract(1, slope, out=slope)
            d *= slope
        else:
            d *= h > 0
        return d


class NumpyGroup:
    """Actor (torso + policy head) and critic (torso + value layer) of one ``GroupNets``, over one flat
    parameter vector.

    Construction moves the group's parameters into one float32 vector (each ``nn.Parameter`` becomes a
    view of its slice, values unchanged), so gradient clipping is one norm and Adam one fused kernel
    (``agents.numpy_mlp.FusedAdam``, torch's Adam), ~0.1 ms an epoch less than torch's Adam over the
    separate tensors."""

    def __init__(self, net: Any, activation: str, eps: float = 1e-5) -> None:
        self.flat, self.grad, grads = one_vector(list(net.parameters()))
        self.actor = NumpyMLP(linears(net.actor.body, net.head.linear), activation, grads)
        self.critic = NumpyMLP(linears(net.critic.body, net.value), activation, grads)
        self.discrete = net.head.discrete
        self.log_std = None if self.discrete else net.head.log_std.detach().numpy()
        self.log_std_grad = None if self.discrete else grads[id(net.head.log_std)]
        self.adam = FusedAdam(self.flat, self.grad, eps)

    def step(self, lr: float, max_norm: float | None) -> None:
        """Clip the gradient's global norm to ``max_norm`` and take one Adam step at ``lr`` (``clip_and_step``)."""
        clip_and_step(self.grad, self.adam, lr, max_norm)

    def policy(self, x: np.ndarray) -> np.ndarray:
        """Logits (discrete) or Gaussian means at actor inputs ``x`` (B, in)."""
        return self.actor.forward(x)[0]

    def values(self, c: np.ndarray) -> np.ndarray:
        """Raw critic outputs (B,) at critic inputs ``c``."""
        return self.critic.forward(c)[0][:, 0]

    def sample(self, out: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Actions drawn from the policy at outputs ``out`` (B, d) with ``rng`` and their log-probabilities
        (discrete: inverse CDF of one uniform draw per row)."""
        if self.discrete:
            shifted = out - out.max(axis=1, keepdims=True)
            e = np.exp(shifted)
            cdf = np.cumsum(e, axis=1)
            u = rng.random((len(out), 1), np.float32) * cdf[:, -1:]
            a = np.minimum((cdf < u).sum(axis=1), out.shape[1] - 1)
            rows = np.arange(len(a))
            return a, shifted[rows, a] - np.log(cdf[:, -1])
        log_std = self.log_std
        z = rng.standard_normal(out.shape, np.float32)
        a = out + np.exp(log_std) * z
        return a, (-0.5 * z * z - log_std - 0.5 * LOG_2PI).sum(-1)


_ONES: dict[int, np.ndarray] = {}


def _ones(rows: int) -> np.ndarray:
    """A (1, rows) row of float32 ones, kept between calls."""
    if rows not in _ONES:
        _ONES[rows] = np.ones((1, rows), np.float32)
    return _ONES[rows]


def _slope(err: np.ndarray, huber: bool, delta: float) -> np.ndarray:
    """d loss / d err of the per-sample value loss (Huber, or squared error / 2)."""
    return np.clip(err, -delta, delta) if huber else err


def _per_sample(err: np.ndarray, huber: bool, delta: float) -> np.ndarray:
    if not huber:
        return 0.5 * err * err
    a = np.abs(err)
    return np.where(a <= delta, 0.5 * err * err, delta * (a - 0.5 * delta))


def ppo_gradients(group: NumpyGroup, x: np.ndarray, c: np.ndarray, actions: np.ndarray, old_logp: np.ndarray,
                  old_v: np.ndarray, target: np.ndarray, adv: np.ndarray, mask: np.ndarray,
                  h: dict[str, Any], loss: bool = False, shared: np.ndarray | None = None) -> float | None:
    """Write the gradients of MAPPO's minibatch loss into the group's gradient vector; return the loss
    when ``loss`` (it costs a few more operations).

    Rows are samples (the rollout's time and copy axes flattened): actor inputs ``x``, critic inputs
    ``c``, ``actions``, the rollout's log-probabilities and raw values, value targets (normalized when
    value normalization is on), advantages and the live mask; ``shared``: the critic inputs' common
    prefix, one row per k consecutive rows, with ``c`` the rest (``NumpyMLP.forward``). The loss is ``MultiAgentPPO``'s: the
    mask-weighted mean of the clipped surrogate, ``vf_coef`` times the value loss (``value_clip``,
    ``huber_loss``, ``huber_delta``) and minus ``ent_coef`` times the entropy. Where the two sides of
    the surrogate's ``min`` or the value loss's ``max`` tie, they have the same gradient (a tie with
    different gradients needs an advantage of 0, or errors of equal size and opposite sign)."""
    w = (mask / max(float(mask.sum()), 1.0)).astype(np.float32, copy=False)
    clip, ent_coef, vf_coef = h["clip_range"], h["ent_coef"], h["vf_coef"]
    out, hs_pi = group.actor.forward(x)
    if group.discrete:
        shifted = out - out.max(axis=1, keepdims=True)
        prob = np.exp(shifted)
        total = prob @ _ones(out.shape[1]).T  # row sums as a product: faster than sum(axis=1) here
        prob /= total
        logp_all = shifted - np.log(total)
        rows, a = np.arange(len(actions)), actions.astype(np.int64)
        logp = logp_all[rows, a]
        plogp = prob * logp_all
        ent = -(plogp @ _ones(out.shape[1]).T)[:, 0]
    else:
        log_std = group.log_std
        inv = np.exp(-log_std)
        z = (actions - out) * inv
        logp = (-0.5 * z * z - log_std - 0.5 * LOG_2PI).sum(-1)
        ent = np.full(len(out), float((0.5 + 0.5 * LOG_2PI + log_std).sum()), np.float32)
    ratio = np.exp(logp - old_logp)
    unclipped, clipped = ratio * adv, np.clip(ratio, 1 - clip, 1 + clip) * adv
    # d(-min(u, c))/d ratio = -A where the unclipped side is the smaller, or the clip does not bind
    live = (unclipped <= clipped) | ((ratio >= 1 - clip) & (ratio <= 1 + clip))
    d_logp = -(w * adv * ratio) * live
    if group.discrete:  # d logp / d logits = onehot - prob; d entropy / d logits = -prob (logp + entropy)
        d_out = prob * (ent_coef * w)[:, None]
        d_out *= logp_all + ent[:, None]
        d_out -= prob * d_logp[:, None]
        d_out[rows, a] += d_logp
    else:
        d_out = d_logp[:, None] * z * inv
        group.log_std_grad[:] = (d_logp[:, None] * (z * z - 1)).sum(0) - ent_coef * w.sum()
    group.actor.backward(hs_pi, d_out)

    pred_out, hs_vf = group.critic.forward(c, shared)
    pred = pred_out[:, 0]
    huber, delta = h["huber_loss"], h["huber_delta"]
    err = target - pred
    d_pred = -_slope(err, huber, delta)
    if h["value_clip"]:
        moved = pred - old_v
        err2 = target - (old_v + np.clip(moved, -clip, clip))
        # both losses grow with |error|: the larger loss is the larger error; the clipped one moves
        # with the prediction only inside the clip range
        d2 = -_slope(err2, huber, delta) * ((moved >= -clip) & (moved <= clip))
        d_pred = np.where(np.abs(err2) > np.abs(err), d2, d_pred)
    group.critic.backward(hs_vf, (vf_coef * w * d_pred)[:, None], shared)
    if not loss:
        return None
    vloss = _per_sample(err, huber, delta)
    if h["value_clip"]:
        vloss = np.maximum(vloss, _per_sample(err2, huber, delta))
    pg = -np.minimum(unclipped, clipped)
    return float(((pg + vf_coef * vloss - ent_coef * ent) * w).sum())
