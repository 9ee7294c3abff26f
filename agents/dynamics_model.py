"""A learned dynamics model: an ensemble of probabilistic MLPs (Chua et al. 2018, PETS), trained
from replayed real transitions.

Each member maps a normalized ``(observation, action)`` to a diagonal Gaussian over the
normalized ``(next observation - observation, reward)`` and a termination logit. As in
mbrl-lib's ``GaussianMLP``, members are evaluated together (one batched matrix product per
layer, weights ``(members, in, out)``), hidden layers use SiLU, and the log-variance is learned
but softly bounded between learned ``min_logvar``/``max_logvar`` (initialized at -10 and 0.5
in normalized units) with a small penalty ``0.01 * (sum max_logvar - sum min_logvar)`` that
keeps the bounds tight. The loss is the Gaussian negative log-likelihood (up to a constant)
plus the termination's binary cross-entropy (a task that never terminates learns "never").
Each gradient step gives every member its own minibatch drawn with replacement (bootstrap
sampling keeps the members apart). Inputs and outputs are standardized with the mean and
standard deviation of the training rows, recomputed before each fit and saved with the
weights.

Held out from training are whole time blocks of the data (every tenth block of 50
consecutive rows with ``holdout: 0.1``), so the model is also scored on runs it never saw:
``fit`` returns the one-step mean squared error of the next observation and of the reward on
those rows, and the ``horizon``-step error of the observation when the ensemble-mean model is
rolled along the recorded actions of each held-out block (raw units, averaged over
dimensions).

>>> import numpy as np
>>> from agents.transitions import Transitions
>>> rng = np.random.default_rng(0)
>>> data = Transitions(2, 1)
>>> x = rng.normal(size=(600, 2)).astype(np.float32); u = rng.normal(size=(600, 1)).astype(np.float32)
>>> data.add(x, u, x[:, 0], 0.9 * x + u, np.zeros(600, bool), np.zeros(600, bool))
>>> model = DynamicsModel(2, 1, members=2, hidden=[32], seed=0)
>>> log = model.fit(data, updates=300, rng=rng)
>>> log["holdout_obs_mse"] < 0.05
True
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.transitions import Transitions

BLOCK = 50  # rows per held-out time block


class EnsembleLinear(nn.Module):
    """``members`` independent linear layers applied together to inputs ``(members, B, in)``."""

    def __init__(self, members: int, n_in: int, n_out: int, generator: torch.Generator) -> None:
        super().__init__()
        w = torch.empty(members, n_in, n_out)
        nn.init.trunc_normal_(w, std=1.0 / (2.0 * math.sqrt(n_in)), a=-1.0 / math.sqrt(n_in),
                              b=1.0 / math.sqrt(n_in), generator=generator)
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(torch.zeros(members, 1, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ W_m + b_m`` for each member ``m``."""
        return torch.baddbmm(self.bias, x, self.weight)


class GaussianEnsemble(nn.Module):
    """The ensemble network: SiLU MLPs with a Gaussian (mean, bounded log-variance) and a termination
    output, plus the input/output normalizers as buffers (so ``state_dict`` holds them)."""

    def __init__(self, members: int, n_in: int, n_out: int, hidden: list[int], generator: torch.Generator) -> None:
        super().__init__()
        sizes = [n_in, *hidden]
        self.hidden = nn.ModuleList(EnsembleLinear(members, a, b, generator) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = EnsembleLinear(members, sizes[-1], 2 * n_out + 1, generator)
        self.n_out = n_out
        self.max_logvar = nn.Parameter(torch.full((1, 1, n_out), 0.5))
        self.min_logvar = nn.Parameter(torch.full((1, 1, n_out), -10.0))
        for name, size in (("in_mean", n_in), ("in_std", n_in), ("out_mean", n_out), ("out_std", n_out)):
            self.register_buffer(name, torch.zeros(size) if "mean" in name else torch.ones(size))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalized inputs ``(members, B, in)`` -> normalized mean, log-variance, termination logit."""
        for layer in self.hidden:
            x = nn.functional.silu(layer(x))
        out = self.out(x)
        mean, raw, term = out[..., : self.n_out], out[..., self.n_out : 2 * self.n_out], out[..., -1]
        logvar = self.max_logvar - nn.functional.softplus(self.max_logvar - raw)
        logvar = self.min_logvar + nn.functional.softplus(logvar - self.min_logvar)
        return mean, logvar, term


class DynamicsModel:
    """The ensemble with its normalizers, optimizer and training/prediction/error routines."""

    def __init__(self, obs_dim: int, act_dim: int, members: int = 5, hidden: list[int] | None = None,
                 learning_rate: float = 1e-3, weight_decay: float = 5e-5, batch_size: int = 256,
                 holdout: float = 0.1, horizon: int = 10, seed: int | None = None) -> None:
        self.obs_dim, self.act_dim, self.members = obs_dim, act_dim, members
        self.batch_size, self.holdout, self.horizon = batch_size, holdout, horizon
        gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
        self.net = GaussianEnsemble(members, obs_dim + act_dim, obs_dim + 1, list(hidden or [200, 200, 200]), gen)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=learning_rate, weight_decay=weight_decay)

    # ----- data -------------------------------------------------------------------------------------
    def split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Training and held-out row indices of ``n`` rows: whole blocks of ``BLOCK`` rows held out, spread
        evenly at the ``holdout`` fraction (block b is held out where ``floor((b + 1) f) > floor(b f)``:
        every k-th block for f = 1/k, and never the first, so some rows always train)."""
        f = Fraction(self.holdout).limit_denominator(1000)
        block = np.arange(n) // BLOCK
        held = (block + 1) * f.numerator // f.denominator > block * f.numerator // f.denominator
        return np.flatnonzero(~held), np.flatnonzero(held)

    def _targets(self, data: Transitions, rows: np.ndarray) -> np.ndarray:
        obs = data.view("obs")[rows]
        return np.concatenate([data.view("next_obs")[rows] - obs, data.view("rewards")[rows, None]], axis=1)

    def _inputs(self, data: Transitions, rows: np.ndarray) -> np.ndarray:
        return np.concatenate([data.view("obs")[rows], data.view("actions")[rows]], axis=1)

    # ----- training ---------------------------------------------------------------------------------
    def fit(self, data: Transitions, updates: int, rng: np.random.Generator) -> dict[str, float]:
        """``updates`` gradient steps on the training rows (normalizers refitted first); returns the
        final training loss and the held-out one- and ``horizon``-step errors."""
        train, held = self.split(len(data))
        x_all, y_all = self._inputs(data, train), self._targets(data, train)
        term_all = data.view("terminated")[train].astype(np.float32)
        net = self.net
        with torch.no_grad():
            for name, arr in (("in", x_all), ("out", y_all)):
                getattr(net, f"{name}_mean").copy_(torch.as_tensor(arr.mean(axis=0)))
                getattr(net, f"{name}_std").copy_(torch.as_tensor(np.maximum(arr.std(axis=0), 1e-6)))
        x_n = (torch.as_tensor(x_all) - net.in_mean) / net.in_std
        y_n = (torch.as_tensor(y_all) - net.out_mean) / net.out_std
        term_t = torch.as_tensor(term_all)
        losses = []
        for _ in range(updates):
            idx = torch.as_tensor(rng.integers(0, len(train), (self.members, self.batch_size)))
            mean, logvar, logit = net(x_n[idx])
            nll = (((mean - y_n[idx]) ** 2) * torch.exp(-logvar) + logvar).mean()
            bce = nn.functional.binary_cross_entropy_with_logits(logit, term_t[idx])
            loss = nll + bce + 0.01 * (net.max_logvar.sum() - net.min_logvar.sum())
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            losses.append(float(loss.detach()))
        out = {"model_loss": float(np.mean(losses[-10:])) if losses else math.nan, "model_train_rows": float(len(train))}
        out.update(self.errors(data, held))
        return out

    # ----- prediction -------------------------------------------------------------------------------
    def predict(self, obs: torch.Tensor, actions: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Next observations, rewards and termination probabilities for inputs shaped
        ``(members, B, .)`` (row ``m`` goes through member ``m``): a sample of each member's
        Gaussian with ``generator``, its mean without."""
        return self.predict_spread(obs, actions, generator)[:3]

    def predict_spread(self, obs: torch.Tensor, actions: torch.Tensor, generator: torch.Generator | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``predict``'s three, and each row's predicted spread ``(members, B)``: the mean over the observation
        outputs of the member's standard deviation, in normalized units (MOPO's uncertainty signal; large where
        the member has seen little or inconsistent data)."""
        net = self.net
        x = (torch.cat([obs, actions], dim=-1) - net.in_mean) / net.in_std
        mean, logvar, logit = net(x)
        std = torch.exp(0.5 * logvar)
        if generator is not None:
            eps = torch.randn(mean.shape, generator=generator)
            mean = mean + std * eps
        y = mean * net.out_std + net.out_mean
        return obs + y[..., :-1], y[..., -1], torch.sigmoid(logit), std[..., :-1].mean(dim=-1)

    def predict_mean(self, obs: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The members' average mean prediction (next observations, rewards) for rows ``(B, .)``."""
        with torch.no_grad():
            o = torch.as_tensor(obs, dtype=torch.float32).expand(self.members, *obs.shape)
            a = torch.as_tensor(actions, dtype=torch.float32).expand(self.members, *actions.shape)
            nxt, rew, _ = self.predict(o, a)
        return nxt.mean(0).numpy(), rew.mean(0).numpy()

    def errors(self, data: Transitions, rows: np.ndarray) -> dict[str, float]:
        """Held-out errors: one-step MSE of observation and reward on ``rows``, and the MSE of the
        observation after ``horizon`` steps rolled from the start of each held-out block."""
        if len(rows) == 0:
            return {"holdout_obs_mse": math.nan, "holdout_reward_mse": math.nan, f"holdout_obs_mse_{self.horizon}": math.nan}
        obs, act = data.view("obs")[rows], data.view("actions")[rows]
        nxt, rew = self.predict_mean(obs, act)
        out = {"holdout_obs_mse": float(((nxt - data.view("next_obs")[rows]) ** 2).mean()),
               "holdout_reward_mse": float(((rew - data.view("rewards")[rows]) ** 2).mean())}
        ended, step, h = data.view("ended"), data.stride, self.horizon
        starts = [int(r) for r in rows if r % BLOCK < step and r + (h - 1) * step < len(data)
                  and not ended[r : r + (h - 1) * step : step].any()]  # one episode of one copy throughout
        if not starts:
            out[f"holdout_obs_mse_{h}"] = math.nan
            return out
        s = np.asarray(starts)
        state = data.view("obs")[s]
        for k in range(h):
            state, _ = self.predict_mean(state, data.view("actions")[s + k * step])
        out[f"holdout_obs_mse_{h}"] = float(((state - data.view("next_obs")[s + (h - 1) * step]) ** 2).mean())
        return out

    # ----- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Weights, normalizers and optimizer state (tensors only)."""
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict``'s output."""
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
