"""IQL's, VDN's and QMIX's Q-networks and QMIX's mixer evaluated and differentiated in NumPy, over the
torch modules' own storage.

Why: the networks are 64 x 64 MLPs on 384-row batches (128 transitions x 3 agents) and a mixer of
hypernetworks on 128 states, where torch's per-op dispatch and autograd's bookkeeping cost far more
than the arithmetic. A cProfile of QMIX on the batched simple_spread (16,000 team steps, 2,000 updates;
``benchmarks/RESULTS.md``, "QMIX, VDN, IQL and MADDPG training rate") put the update at 69% of training
time, 6.4 ms an update under the profiler, of which autograd's ``backward`` 1.6 ms and 26 ``nn.Linear``
calls 1.3 ms, where the products are ~20 M multiply-adds (~0.5 ms at this core's float32 rate).
``agents.marl.numpy_nets`` made the same move for MAPPO and IPPO and is reused here (``NumpyMLP``,
``one_vector``, ``clip_and_step``).

The torch modules stay what the rest of the code sees (checkpoints, ``load_state_dict``, the training
state, attacks' differentiable views): ``NumpyValueNets`` moves the online Q-networks' and the mixer's
parameters into one float32 vector, each ``nn.Parameter`` a view of its slice, with the gradients in a
flat vector beside it, clipped as one vector and stepped by torch's fused Adam
(``agents.numpy_mlp.FusedAdam``, elementwise the same Adam as over the separate tensors). The target
networks are read through views of their own parameters, which ``load_state_dict`` overwrites in place.
``tests/test_marl_numpy_value_nets.py`` checks the loss and gradients against autograd through
``QMixer.forward`` and the torch Q-networks for every mixer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from agents.marl.numpy_nets import NumpyMLP, clip_and_step, linears, one_vector, rows
from agents.numpy_mlp import FusedAdam


class NumpyMixer:
    """QMIX's mixer (``agents.marl.value_decomposition.QMixer``) in NumPy: the hypernetworks' layers as
    views of the torch parameters (and, when ``grads`` is given, of their gradient slots)."""

    def __init__(self, mixer: Any, grads: dict[int, np.ndarray] | None) -> None:
        self.n, self.embed = mixer.n, mixer.embed
        self.w1 = NumpyMLP(linears(mixer.w1), "relu", grads)
        self.b1 = NumpyMLP(linears(mixer.b1), "relu", grads)
        self.w2 = NumpyMLP(linears(mixer.w2), "relu", grads)
        self.b2 = NumpyMLP(linears(mixer.b2), "relu", grads)

    def forward(self, q: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """Q_tot (B,) from agent values ``q`` (B, n) and states (B, state_dim), and what ``backward`` needs."""
        w1_raw, hs_w1 = self.w1.forward(state)
        b1, hs_b1 = self.b1.forward(state)
        w2_raw, hs_w2 = self.w2.forward(state)
        v, hs_b2 = self.b2.forward(state)
        w1 = np.abs(w1_raw).reshape(len(q), self.n, self.embed)
        pre = np.matmul(q[:, None, :], w1)[:, 0] + b1  # (B, embed)
        hidden = np.where(pre > 0, pre, np.expm1(np.minimum(pre, 0)))  # ELU, alpha 1
        w2 = np.abs(w2_raw)
        q_tot = (hidden * w2).sum(1) + v[:, 0]
        cache = {"q": q, "w1_raw": w1_raw, "w1": w1, "pre": pre, "hidden": hidden, "w2_raw": w2_raw, "w2": w2,
                 "hs": (hs_w1, hs_b1, hs_w2, hs_b2)}
        return q_tot, cache

    def backward(self, cache: dict[str, Any], g: np.ndarray) -> np.ndarray:
        """Write the gradients of a loss with gradient ``g`` (B,) at Q_tot into the mixer's gradient slots
        (overwriting them); return the gradient at the agent values ``q`` (B, n)."""
        hs_w1, hs_b1, hs_w2, hs_b2 = cache["hs"]
        g = g.astype(np.float32, copy=False)[:, None]
        pre = cache["pre"]
        d_pre = g * cache["w2"]
        d_pre *= np.where(pre > 0, np.float32(1.0), cache["hidden"] + 1)  # ELU's slope: exp(pre) below 0
        self.w2.backward(hs_w2, g * cache["hidden"] * np.sign(cache["w2_raw"]))
        self.b2.backward(hs_b2, g)
        self.b1.backward(hs_b1, d_pre)
        d_w1 = cache["q"][:, :, None] * d_pre[:, None, :]  # (B, n, embed)
        self.w1.backward(hs_w1, d_w1.reshape(len(g), -1) * np.sign(cache["w1_raw"]))
        return np.matmul(cache["w1"], d_pre[:, :, None])[:, :, 0]


class NumpyValueNets:
    """A value-decomposition learner's online Q-networks (one per group) and mixer over one flat parameter
    vector with its fused Adam, and its target networks, all in NumPy."""

    def __init__(self, q: nn.ModuleList, mix: Any | None, q_target: nn.ModuleList, mix_target: Any | None) -> None:
        params = list(q.parameters()) + (list(mix.parameters()) if mix is not None else [])
        self.flat, self.grad, grads = one_vector(params)
        self.q = [NumpyMLP(linears(net), "relu", grads) for net in q]
        self.q_target = [NumpyMLP(linears(net), "relu", None) for net in q_target]
        self.mix = NumpyMixer(mix, grads) if mix is not None else None
        self.mix_target = NumpyMixer(mix_target, None) if mix_target is not None else None
        self.adam = FusedAdam(self.flat, self.grad)

    def qvalues(self, gi: int, x: np.ndarray) -> np.ndarray:
        """Group ``gi``'s online Q-values (B, k, A) at inputs ``x`` (B, k, in)."""
        return self.q[gi].forward(rows(x))[0].reshape(*x.shape[:2], -1)

    def step(self, lr: float, max_norm: float | None) -> None:
        """Clip the gradient's global norm and take one Adam step (``clip_and_step``)."""
        clip_and_step(self.grad, self.adam, lr, max_norm)


def team_episode_end(term: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The team's episode end and the agents still live after the step, from per-agent
    terminations ``term`` and liveness ``live`` (B, n_agents; 1 = live before the step).

    The team bootstrap stops only when the episode ends, i.e. every agent that was live
    has terminated (agents removed earlier no longer count); an agent that terminated
    while teammates continue contributes no next-state value."""
    next_live = live * (1 - term)
    return (next_live.sum(1) == 0).astype(np.float32), next_live


def td_gradients(nets: NumpyValueNets, b: dict[str, np.ndarray], mixer: str, gamma: float, shift: float = 0.0,
                 scale: float = 1.0) -> float:
    """Write the gradient of the value-decomposition TD loss on minibatch ``b`` into ``nets.grad``; return
    the loss.

    ``b`` holds per group ``x{gi}``, ``nx{gi}`` (B, k, in) and ``a{gi}`` (B, k), and ``reward``, ``term``,
    ``mask`` (B, n) and ``state``, ``next_state`` (B, state_dim), as ``ValueDecomposition`` stores them;
    ``mixer`` is ``none`` (IQL), ``vdn`` or ``qmix``; rewards are standardised as ``(r - shift) / scale``.
    The loss is ``ValueDecomposition``'s: double-Q targets from the target networks at the online
    networks' argmax, no gradient through the targets; IQL's mask-weighted mean of each agent's squared
    error, VDN's and QMIX's mean squared error of Q_tot on the team reward with the team bootstrap
    (``team_episode_end``)."""
    G = len(nets.q)
    outs, chosen, picks = [], [], []
    for gi in range(G):
        x, a = b[f"x{gi}"], b[f"a{gi}"]
        out, hs = nets.q[gi].forward(rows(x))
        pick = a.reshape(-1).astype(np.int64)
        outs.append((out, hs, pick))
        chosen.append(out[np.arange(len(pick)), pick].reshape(a.shape))
        nx = rows(b[f"nx{gi}"])
        online_next = nets.q[gi].forward(nx)[0]
        target_next = nets.q_target[gi].forward(nx)[0]
        picks.append(target_next[np.arange(len(nx)), online_next.argmax(1)].reshape(a.shape))
    q = np.concatenate(chosen, 1)  # (B, n)
    nxt = np.concatenate(picks, 1)
    mask = b["mask"].astype(np.float32, copy=False)
    if mixer == "none":
        target = (b["reward"] - shift) / scale + gamma * (1 - b["term"]) * nxt
        err = q - target
        denom = max(float(mask.sum()), 1.0)
        loss = float((err * err * mask).sum() / denom)
        d_q = (2.0 / denom) * err * mask
    else:
        team_r = ((b["reward"] * mask).sum(1) - shift) / scale
        ended, next_live = team_episode_end(b["term"], mask)
        if mixer == "vdn":
            q_tot, next_tot, cache = (q * mask).sum(1), (nxt * next_live).sum(1), None
        else:
            state = b["state"].astype(np.float32, copy=False)
            q_tot, cache = nets.mix.forward(q * mask, state)
            next_tot = nets.mix_target.forward(nxt * next_live, b["next_state"].astype(np.float32, copy=False))[0]
        err = q_tot - (team_r + gamma * (1 - ended) * next_tot)
        loss = float((err * err).mean())
        g = (2.0 / len(err)) * err
        d_q = (g[:, None] if cache is None else nets.mix.backward(cache, g)) * mask
    col = 0
    for gi, (out, hs, pick) in enumerate(outs):
        k = b[f"a{gi}"].shape[1]
        d_out = np.zeros_like(out)
        d_out[np.arange(len(pick)), pick] = d_q[:, col : col + k].reshape(-1)
        col += k
        nets.q[gi].backward(hs, d_out)
    return loss
