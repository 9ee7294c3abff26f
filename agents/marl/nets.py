"""Networks shared by the multi-agent learners: MLP or GRU torsos, policy heads,
value normalization.

``Torso`` is an MLP or, with ``recurrent=True``, an MLP followed by a GRU
cell whose hidden state is reset at episode starts. Sequences are processed
as ``(T, B, d)`` with a ``starts`` mask ``(T, B)``; a feed-forward torso simply
ignores the hidden state, so one code path serves both.
"""

from __future__ import annotations

import torch
from torch import nn

from agents.activations import Tanh
from agents.numpy_policy import LOG_2PI

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": Tanh, "relu": nn.ReLU}


def mlp(n_in: int, widths: list[int], act: type[nn.Module] = Tanh, layer_norm: bool = False,
        orthogonal: bool = False) -> tuple[nn.Sequential, int]:
    """An MLP trunk and its output width. ``layer_norm``: the MAPPO reference's MLPBase (a
    LayerNorm of the input features, and one after every hidden layer's activation);
    ``orthogonal``: its initialization (orthogonal weights with the activation's gain, zero biases)."""
    layers: list[nn.Module] = [nn.LayerNorm(n_in)] if layer_norm else []
    gain = nn.init.calculate_gain("relu" if act is nn.ReLU else "tanh")
    for w in widths:
        linear = nn.Linear(n_in, w)
        if orthogonal:
            nn.init.orthogonal_(linear.weight, gain)
            nn.init.zeros_(linear.bias)
        layers += [linear, act()] + ([nn.LayerNorm(w)] if layer_norm else [])
        n_in = w
    return nn.Sequential(*layers), n_in


def mlp_head(n_in: int, widths: list[int], n_out: int, act: type[nn.Module] = Tanh) -> nn.Sequential:
    """``mlp``'s trunk and a linear output layer of ``n_out`` from its last width (no hidden layers,
    ``widths = []``: one linear layer from the input)."""
    trunk, width = mlp(n_in, widths, act)
    return nn.Sequential(trunk, nn.Linear(width, n_out))


class Torso(nn.Module):
    """MLP, optionally followed by a GRU cell (``recurrent``)."""

    def __init__(self, n_in: int, widths: list[int], recurrent: bool = False, act: type[nn.Module] = Tanh,
                 layer_norm: bool = False, orthogonal: bool = False) -> None:
        super().__init__()
        self.body, self.out_dim = mlp(n_in, widths, act, layer_norm, orthogonal)
        self.gru = nn.GRUCell(self.out_dim, self.out_dim) if recurrent else None

    @property
    def hidden_dim(self) -> int:
        """Width of the recurrent state (0 when feed-forward)."""
        return self.out_dim if self.gru is not None else 0

    def initial(self, batch: int) -> torch.Tensor:
        """Zero hidden state (B, hidden_dim)."""
        return torch.zeros(batch, self.hidden_dim)

    def step(self, x: torch.Tensor, h: torch.Tensor, starts: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: features (B, out_dim) and the next hidden state."""
        z = self.body(x)
        if self.gru is None:
            return z, h
        if starts is not None:
            h = h * (1.0 - starts.unsqueeze(-1))
        h = self.gru(z, h)
        return h, h

    def sequence(self, x: torch.Tensor, h0: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
        """Features for a whole sequence (T, B, d) -> (T, B, out_dim)."""
        if self.gru is None:
            return self.body(x)
        out, h = [], h0
        for t in range(x.shape[0]):
            z, h = self.step(x[t], h, starts[t])
            out.append(z)
        return torch.stack(out)


def _normal_log_prob(a: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Log-density of a diagonal Gaussian, summed over the last axis."""
    return (-0.5 * ((a - mean) * (-log_std).exp()) ** 2 - log_std - 0.5 * LOG_2PI).sum(-1)


class PolicyHead(nn.Module):
    """Categorical logits or a diagonal Gaussian (state-independent log std)."""

    def __init__(self, n_in: int, n_out: int, discrete: bool) -> None:
        super().__init__()
        self.discrete = discrete
        self.linear = nn.Linear(n_in, n_out)
        nn.init.orthogonal_(self.linear.weight, 0.01)
        nn.init.zeros_(self.linear.bias)
        self.log_std = None if discrete else nn.Parameter(torch.full((n_out,), -0.5))

    def dist(self, z: torch.Tensor) -> torch.distributions.Distribution:
        """The action distribution for features ``z``."""
        out = self.linear(z)
        if self.discrete:
            return torch.distributions.Categorical(logits=out, validate_args=False)
        return torch.distributions.Normal(out, self.log_std.exp().expand_as(out), validate_args=False)

    def log_prob_entropy(self, z: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log_prob(dist(z), a)`` and ``entropy(dist(z))`` in closed form, without building a
        ``torch.distributions`` object (the learners' update: the same values and gradients in a few
        elementwise kernels; ``Categorical``'s normalization and ``probs`` were a tenth of MAPPO's time)."""
        out = self.linear(z)
        if self.discrete:
            logp_all = torch.log_softmax(out, -1)
            logp = logp_all.gather(-1, a.long().unsqueeze(-1)).squeeze(-1)
            return logp, -(logp_all.exp() * logp_all).sum(-1)
        log_std = self.log_std.expand_as(out)
        return _normal_log_prob(a, out, log_std), (0.5 + 0.5 * LOG_2PI + log_std).sum(-1)

    def sample(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """An action drawn from ``dist(z)`` (rows ``z`` (B, d)) and its log-probability: the same
        draw from torch's generator as ``dist(z).sample()`` (``multinomial`` over the probabilities,
        or ``normal``), without the distribution object (the rollouts' hot path)."""
        out = self.linear(z)
        if self.discrete:
            logp_all = torch.log_softmax(out, -1)
            a = torch.multinomial(logp_all.exp(), 1, True)[:, 0]
            return a, logp_all.gather(-1, a.unsqueeze(-1)).squeeze(-1)
        log_std = self.log_std.expand_as(out)
        a = torch.normal(out, log_std.exp())
        return a, _normal_log_prob(a, out, log_std)

    def mode(self, dist: torch.distributions.Distribution) -> torch.Tensor:
        """The most likely action."""
        return dist.probs.argmax(-1) if self.discrete else dist.mean


class ValueNorm(nn.Module):
    """Running mean/variance of value targets (MAPPO's ValueNorm, debiased EMA)."""

    def __init__(self, beta: float = 0.99999) -> None:
        super().__init__()
        self.beta = beta
        self.register_buffer("mean", torch.zeros(()))
        self.register_buffer("sq", torch.zeros(()))
        self.register_buffer("debias", torch.zeros(()))

    def update(self, x: torch.Tensor) -> None:
        """Fold a batch of targets into the statistics."""
        b = self.beta
        self.mean.mul_(b).add_(x.mean() * (1 - b))
        self.sq.mul_(b).add_((x**2).mean() * (1 - b))
        self.debias.mul_(b).add_(1 - b)

    def _stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.debias.clamp(min=1e-5)
        mean, sq = self.mean / d, self.sq / d
        return mean, (sq - mean**2).clamp(min=1e-2).sqrt()

    def stats(self) -> tuple[float, float]:
        """The current mean and standard deviation (floor 0.1) as floats."""
        mean, std = self._stats()
        return float(mean), float(std)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Targets in normalized units."""
        mean, std = self._stats()
        return (x - mean) / std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Network outputs back in return units."""
        mean, std = self._stats()
        return x * std + mean
