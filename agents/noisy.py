"""Factorized-Gaussian noisy linear layers (Fortunato et al. 2018, "Noisy Networks for Exploration").

``y = (mu_w + sigma_w * eps_w) x + mu_b + sigma_b * eps_b`` with factorized noise
``eps_w = f(eps_out) f(eps_in)^T``, ``eps_b = f(eps_out)``, ``f(x) = sign(x) sqrt|x|``.
Initialization is the paper's for the factorized case: ``mu ~ U(-1/sqrt(p), 1/sqrt(p))``,
``sigma = sigma0 / sqrt(p)`` with ``p`` the number of inputs. In training mode
(``module.train()``) the layer uses its current noise sample (drawn by ``reset_noise`` from an
explicit generator, so a seed fixes it); in evaluation mode (``module.eval()``) it is the
deterministic mean layer ``mu_w x + mu_b``.

>>> import torch
>>> layer = NoisyLinear(3, 2, sigma0=0.5, generator=torch.Generator().manual_seed(0)).eval()
>>> x = torch.ones(1, 3)
>>> bool(torch.equal(layer(x), layer(x)))
True
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _scaled(n: int, generator: torch.Generator | None) -> torch.Tensor:
    x = torch.randn(n, generator=generator)
    return x.sign() * x.abs().sqrt()


class NoisyLinear(nn.Module):
    """A linear layer with learned, factorized Gaussian weight and bias noise."""

    def __init__(self, n_in: int, n_out: int, sigma0: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.n_in, self.n_out, self.generator = n_in, n_out, generator
        bound = 1.0 / math.sqrt(n_in)
        self.weight_mu = nn.Parameter(torch.empty(n_out, n_in).uniform_(-bound, bound))
        self.bias_mu = nn.Parameter(torch.empty(n_out).uniform_(-bound, bound))
        self.weight_sigma = nn.Parameter(torch.full((n_out, n_in), sigma0 * bound))
        self.bias_sigma = nn.Parameter(torch.full((n_out,), sigma0 * bound))
        self.register_buffer("eps_in", torch.zeros(n_in))
        self.register_buffer("eps_out", torch.zeros(n_out))
        self.reset_noise()

    def reset_noise(self) -> None:
        """Draw a new factorized noise sample (used in training mode until the next draw)."""
        self.eps_in.copy_(_scaled(self.n_in, self.generator))
        self.eps_out.copy_(_scaled(self.n_out, self.generator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The noisy layer in training mode, the mean layer in evaluation mode."""
        if not self.training:
            return nn.functional.linear(x, self.weight_mu, self.bias_mu)
        weight = self.weight_mu + self.weight_sigma * torch.outer(self.eps_out, self.eps_in)
        return nn.functional.linear(x, weight, self.bias_mu + self.bias_sigma * self.eps_out)


def noisy_layers(module: nn.Module) -> list[NoisyLinear]:
    """The noisy layers inside ``module``."""
    return [m for m in module.modules() if isinstance(m, NoisyLinear)]


def set_noise(layers: list[NoisyLinear], on: bool, redraw: bool = True) -> None:
    """Switch ``layers`` to their noisy (on, with fresh noise where ``redraw``) or mean (off)
    weights; cheaper than ``module.train(on)`` on the whole network, which acting calls every step."""
    for layer in layers:
        if on and redraw:
            layer.reset_noise()
        layer.training = on
