"""MADDPG's actors and critics evaluated and differentiated in NumPy, over the torch modules' own storage.

Why: MADDPG's update is many small products (64 x 64 MLPs on 256-row batches, one actor and one
critic per agent by default), where torch's per-op dispatch and autograd dominate: a cProfile of
MADDPG on the batched simple_spread (16,000 team steps, 2,000 updates; ``benchmarks/RESULTS.md``,
"QMIX, VDN, IQL and MADDPG training rate") spent 66 of 77 s in the update, 33 ms an update under the
profiler, of which autograd's ``backward`` 7.6 ms and 54 ``nn.Linear`` calls 4.6 ms, where the
products are ~56 M multiply-adds (~1.3 ms at this core's float32 rate). ``agents.marl.numpy_nets`` made the same move for MAPPO and IPPO
and is reused here.

Each actor and critic keeps its torch module (checkpoints, ``load_state_dict``, the training state):
``NumpyNet`` moves a module's parameters into one float32 vector (each ``nn.Parameter`` a view of its
slice) with a gradient vector beside it, clipped as one vector and stepped by torch's fused Adam
(``agents.numpy_mlp.FusedAdam``); the target network's parameters move into a vector of their own, so
Polyak averaging is two vector operations. The Gumbel noise is drawn by the caller (the learner's
NumPy generator) and passed in, so the functions here are deterministic and testable against
autograd (``tests/test_marl_numpy_maddpg.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from agents.marl.numpy_nets import NumpyMLP, clip_and_step, linears, one_vector, rows
from agents.numpy_mlp import FusedAdam


class NumpyNet:
    """One network (an actor or a critic, ReLU MLP) and its target over flat parameter vectors, with Adam."""

    def __init__(self, module: nn.Module, target: nn.Module) -> None:
        self.flat, self.grad, grads = one_vector(list(module.parameters()))
        self.net = NumpyMLP(linears(module), "relu", grads)
        self.target_flat = one_vector(list(target.parameters()))[0]
        self.target = NumpyMLP(linears(target), "relu", None)
        self.adam = FusedAdam(self.flat, self.grad)

    def step(self, lr: float, max_norm: float | None) -> None:
        """Clip the gradient's global norm and take one Adam step (``clip_and_step``)."""
        clip_and_step(self.grad, self.adam, lr, max_norm)

    def polyak(self, tau: float) -> None:
        """Move the target's parameters towards the network's: ``target = (1 - tau) target + tau net``."""
        self.target_flat *= 1 - tau
        self.target_flat += tau * self.flat


def gumbel_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard Gumbel noise (float32), ``-log E`` with ``E ~ Exp(1)`` as torch's ``gumbel_softmax`` draws it.
    A float32 exponential draw is exactly 0 about once in 2^24 (seen within 16,000 MADDPG steps), which
    would make the noise infinite: ``E`` is floored at float32's smallest normal number (noise <= 87.3)."""
    e = rng.standard_exponential(shape, np.float32)
    return -np.log(np.maximum(e, np.finfo(np.float32).tiny, out=e))


def relaxed(logits: np.ndarray, noise: np.ndarray, temperature: float) -> np.ndarray:
    """The Gumbel-softmax (relaxed one-hot) sample ``softmax((logits + noise) / temperature)`` over the last axis.
    The maximum is subtracted before the division, so a tiny temperature gives the one-hot, not inf - inf."""
    z = logits + noise
    z -= z.max(-1, keepdims=True)
    with np.errstate(over="ignore"):  # below the maximum, -inf is the intended limit (exp gives 0)
        z /= temperature
    np.exp(z, out=z)
    z /= z.sum(-1, keepdims=True)
    return z


def one_hot(x: np.ndarray) -> np.ndarray:
    """The one-hot of ``x``'s argmax over the last axis (float32, ``x``'s shape)."""
    out = np.zeros(x.shape, np.float32)
    np.put_along_axis(out, x.argmax(-1)[..., None], 1.0, -1)
    return out


def critic_inputs(state: np.ndarray, joint: np.ndarray, k: int, use_id: bool) -> np.ndarray:
    """Rows (B * k, state + joint [+ k]) of a group's critics: the state, the joint action (B, J), or one
    per agent (B, k, J), and the agent's one-hot index when the group's agents share a critic."""
    B = len(state)
    if joint.ndim == 2:
        joint = np.broadcast_to(joint[:, None, :], (B, k, joint.shape[1]))
    parts = [np.broadcast_to(state[:, None, :], (B, k, state.shape[1])), joint]
    if use_id:
        parts.append(np.broadcast_to(np.eye(k, dtype=np.float32), (B, k, k)))
    return np.concatenate(parts, 2, dtype=np.float32).reshape(B * k, -1)


def critic_gradients(critic: NumpyNet, inputs: np.ndarray, target_inputs: np.ndarray, reward: np.ndarray,
                     term: np.ndarray, gamma: float) -> float:
    """Write the gradient of one group's critic loss into ``critic.grad``; return the loss. ``inputs`` and
    ``target_inputs`` (B * k, D): ``critic_inputs`` at the replayed joint action and at the target actors'
    next one; ``reward`` and ``term`` (B, k): the group's agents'. The loss is the mean squared error to
    ``r + gamma (1 - term) Q_target(s', a')``, no gradient through the target."""
    y = reward.reshape(-1) + gamma * (1 - term.reshape(-1)) * critic.target.forward(target_inputs)[0][:, 0]
    q, hs = critic.net.forward(inputs)
    err = q[:, 0] - y
    critic.net.backward(hs, ((2.0 / len(err)) * err)[:, None])
    return float((err * err).mean())


def actor_gradients(actor: NumpyNet, critic: NumpyNet, x: np.ndarray, state: np.ndarray, before: np.ndarray,
                    after: np.ndarray, discrete: bool, use_id: bool, noise: np.ndarray | None,
                    temperature: float) -> float:
    """Write the gradient of one group's actor loss into ``actor.grad``; return the loss.

    ``x`` (B, k, in): the group's actor inputs; ``before`` and ``after`` (B, *): the replayed actions of
    the groups before and after this one in the joint action; ``noise`` (B, k, A): Gumbel noise for the
    straight-through sample of discrete actions (the forward value is the one-hot, the gradient the
    relaxed sample's). The loss is ``-mean Q_j(s, a)`` over the group's agents ``j``, with agent ``j``'s
    own action from the actor and carrying the gradient, its teammates' actions from the actor too but
    without gradient (MADDPG's gradient through each agent's own action only), plus ``1e-3`` times the
    mean squared logit."""
    B, k = x.shape[:2]
    logits, hs_pi = actor.net.forward(rows(x))
    A = logits.shape[1]
    logits3 = logits.reshape(B, k, A)
    if discrete:
        soft = relaxed(logits3, noise, temperature)
        mine = one_hot(soft)
    else:
        mine = np.tanh(logits3)
    joint = np.concatenate([before, mine.reshape(B, k * A), after], 1)
    inputs = critic_inputs(state, joint, k, use_id)
    q, hs_q = critic.net.forward(inputs)
    n = B * k
    d_in = critic.net.input_gradient(hs_q, np.full((n, 1), -1.0 / n, np.float32)).reshape(B, k, -1)
    # agent j's own slot in row j: columns state + before + j * A ... + A
    start = state.shape[1] + before.shape[1]
    cols = start + np.arange(k)[:, None] * A + np.arange(A)[None, :]  # (k, A)
    d_mine = d_in[:, np.arange(k)[:, None], cols]  # (B, k, A)
    if discrete:  # straight-through: the relaxed sample's gradient
        d_z = soft * (d_mine - (d_mine * soft).sum(-1, keepdims=True)) / temperature
    else:
        d_z = d_mine * (1 - mine * mine)
    d_logits = d_z.reshape(n, A) + (2e-3 / logits.size) * logits
    actor.net.backward(hs_pi, d_logits)
    return float(-q.mean() + 1e-3 * (logits * logits).mean())


def encoded(actor: NumpyMLP, x: np.ndarray, discrete: bool, noise: np.ndarray | None = None,
            temperature: float = 1.0, hard: bool = True) -> np.ndarray:
    """A group's actions in critic units (B, k, A) from actor inputs ``x`` (B, k, in): ``tanh`` of the
    outputs for Box; for Discrete the argmax's one-hot without ``noise``, with it the Gumbel-softmax
    sample (one-hot when ``hard``, relaxed otherwise)."""
    B, k = x.shape[:2]
    out = actor.forward(rows(x))[0].reshape(B, k, -1)
    if not discrete:
        return np.tanh(out)
    if noise is None:
        return one_hot(out)
    soft = relaxed(out, noise, temperature)
    return one_hot(soft) if hard else soft


def group_slices(groups: list[Any]) -> list[slice]:
    """Each group's columns in the flattened joint action (groups in order, agents in order)."""
    out, start = [], 0
    for g in groups:
        width = len(g.agents) * g.act_dim
        out.append(slice(start, start + width))
        start += width
    return out
