"""The lean pieces of the MARL learners' update against torch's reference ones: the sigmoid tanh
(``agents.activations``) and ``PolicyHead.log_prob_entropy`` against ``torch.distributions``."""

from __future__ import annotations

import pytest
import torch

from agents.activations import Tanh, tanh
from agents.marl.nets import PolicyHead


def test_tanh_matches_torch_in_value_and_gradient() -> None:
    x = torch.cat([torch.randn(50_000) * 4, torch.tensor([-1e30, -100.0, -1e-8, 0.0, 1e-8, 100.0, 1e30])])
    assert (tanh(x) - torch.tanh(x)).abs().max() < 3e-7
    assert torch.isnan(tanh(torch.tensor([float("nan")]))).all()
    xd = torch.randn(30, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(tanh, (xd,))
    a = torch.randn(200, 16, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    w = torch.randn(200, 16)
    (Tanh()(a) * w).sum().backward()
    (torch.tanh(b) * w).sum().backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-6)


@pytest.mark.parametrize("discrete", [True, False])
def test_log_prob_entropy_matches_the_distribution(discrete: bool) -> None:
    torch.manual_seed(0)
    head = PolicyHead(8, 5, discrete)
    with torch.no_grad():
        head.linear.weight.normal_()  # logits well away from uniform
        if not discrete:
            head.log_std.copy_(torch.linspace(-1.0, 0.5, 5))
    z = torch.randn(7, 3, 8)
    a = torch.randint(0, 5, (7, 3)) if discrete else torch.randn(7, 3, 5)
    dist = head.dist(z)
    ref_lp, ref_ent = dist.log_prob(a), dist.entropy()
    if not discrete:  # a Box action's density is the product over its dimensions
        ref_lp, ref_ent = ref_lp.sum(-1), ref_ent.sum(-1)
    ref_grads = torch.autograd.grad((ref_lp * 0.7 + ref_ent).sum(), list(head.parameters()))
    lp, ent = head.log_prob_entropy(z, a)
    assert torch.allclose(lp, ref_lp, atol=1e-5) and torch.allclose(ent, ref_ent, atol=1e-5)
    grads = torch.autograd.grad((lp * 0.7 + ent).sum(), list(head.parameters()))
    for g, r in zip(grads, ref_grads):
        assert torch.allclose(g, r, atol=1e-4)


@pytest.mark.parametrize("discrete", [True, False])
def test_sample_draws_as_the_distribution_does(discrete: bool) -> None:
    torch.manual_seed(1)
    head = PolicyHead(8, 5, discrete)
    with torch.no_grad():
        head.linear.weight.normal_()
    z = torch.randn(64, 8)
    with torch.no_grad():
        torch.manual_seed(7)
        ref = head.dist(z).sample()
        torch.manual_seed(7)
        a, logp = head.sample(z)
    assert torch.equal(a, ref)
    ref_lp = head.dist(z).log_prob(a)
    assert torch.allclose(logp, ref_lp if discrete else ref_lp.sum(-1), atol=1e-5)
