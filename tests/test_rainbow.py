"""Rainbow's two parts beyond double/dueling/prioritized/n-step: the C51 distributional head
(its projection against hand-computed values) and factorized-Gaussian noisy layers
(deterministic in evaluation mode, noisy in training mode); each part is one flag, and the
whole learns CartPole beyond random on a tiny budget."""

import numpy as np
import pytest
import torch

import agents
import scenarios
import testbed
from agents.distributional import project, support
from agents.noisy import NoisyLinear


def test_c51_projection_matches_hand_computed_values():
    z = support(5, -2.0, 2.0)  # dz = 1
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.0], [0.1, 0.2, 0.3, 0.4, 0.0], [0.5, 0.0, 0.0, 0.0, 0.5]])
    rewards, discounts = torch.tensor([0.5, 1.0, 5.0]), torch.tensor([0.9, 0.0, 0.5])
    # row 0: Tz = 0.5 + 0.9 z = [-1.3, -0.4, 0.5, 1.4, 2.3 -> 2]; fractional indices [0.7, 1.6, 2.5, 3.4, 4]
    #   0.1 -> 0.03 @0 + 0.07 @1; 0.2 -> 0.08 @1 + 0.12 @2; 0.3 -> 0.15 @2 + 0.15 @3; 0.4 -> 0.24 @3 + 0.16 @4
    # row 1: terminated (discount 0): all mass at r = 1, exactly on a support point (index 3)
    # row 2: r = 5 + 0.5 z is above v_max for every atom: clipped to 2
    expected = torch.tensor([[0.03, 0.15, 0.27, 0.39, 0.16], [0.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]])
    torch.testing.assert_close(project(probs, rewards, discounts, z), expected)


def test_noisy_layers_are_deterministic_in_evaluation_mode_and_noisy_in_training_mode():
    layer = NoisyLinear(4, 3, sigma0=0.5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(layer.weight_sigma, torch.full((3, 4), 0.5 / 2))  # sigma0 / sqrt(inputs)
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))
    layer.eval()
    mean = layer(x)
    layer.reset_noise()
    assert torch.equal(layer(x), mean)  # no noise in evaluation mode, whatever the noise sample
    torch.testing.assert_close(mean, x @ layer.weight_mu.T + layer.bias_mu)
    layer.train()
    first = layer(x)
    assert not torch.allclose(first, mean) and torch.equal(layer(x), first)  # a sample is held until redrawn
    layer.reset_noise()
    assert not torch.allclose(layer(x), first)


def test_rainbow_acts_deterministically_and_explores_through_noise():
    ag = agents.make("rainbow", "classic/CartPole-v1", seed=0)
    obs = {"agent_0": np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)}
    greedy = ag.act(obs, deterministic=True)["agent_0"]
    assert np.array_equal(ag.act(obs, deterministic=True)["agent_0"], greedy)
    assert not all(np.array_equal(ag.act(obs, deterministic=False)["agent_0"], greedy) for _ in range(5))
    assert np.array_equal(ag.act(obs, deterministic=True)["agent_0"], greedy)  # exploring left the mean weights alone


@pytest.mark.parametrize("removed", ["double", "dueling", "prioritized", "n_step", "distributional", "noisy"])
def test_each_rainbow_part_is_one_flag(removed):
    off = {"n_step": 1} if removed == "n_step" else {removed: False}
    ag = agents.make("rainbow", "classic/CartPole-v1", seed=0, **off)
    h = ag.hparams
    on = {k: h[k] for k in ("double", "dueling", "prioritized", "distributional", "noisy")}
    assert on == {k: k != removed for k in on} and h["n_step"] == (1 if removed == "n_step" else 3)
    has_noise = any(isinstance(m, NoisyLinear) for m in ag.online.modules())
    assert has_noise == (removed != "noisy")
    out = ag.online(torch.zeros(2, 4))
    assert out.shape == ((2, 2) if removed == "distributional" else (2, 2, h["atoms"]))
    assert (ag.online.value is None) == (removed == "dueling")


def test_distributional_support_must_be_ordered():
    with pytest.raises(scenarios.UserError, match="v_min 5.0 must be below v_max 1.0"):
        agents.make("rainbow", "classic/CartPole-v1", v_min=5.0, v_max=1.0)


@pytest.mark.parametrize("v_min, v_max, pattern", [
    (-1e39, 1e39, "overflows float32"),  # torch.linspace raised 'cannot be converted to type float'
    (-2e38, 2e38, "overflows float32"),  # each end fits, their span does not
    (0.0, 1e-50, "one value in float32"),  # a zero atom spacing
    (5.0, 5.0, "must be below"),
])
def test_distributional_support_float32_cannot_hold_is_refused_up_front(v_min, v_max, pattern):
    """Also where a spec is checked (``index.check_overrides``), before any job trains; a support
    that plays no part (``distributional: false``) is not checked."""
    from agents import index

    with pytest.raises(scenarios.UserError, match=pattern):
        index.check_overrides("rainbow", {"v_min": v_min, "v_max": v_max}, "classic/CartPole-v1")
    with pytest.raises(scenarios.UserError, match=pattern):
        agents.make("rainbow", "classic/CartPole-v1", v_min=v_min, v_max=v_max)
    index.check_overrides("rainbow", {"v_min": v_min, "v_max": v_max, "distributional": False}, "classic/CartPole-v1")


def test_rainbow_learns_cartpole_beyond_random_on_a_tiny_budget():
    sc = scenarios.make("classic/CartPole-v1")
    ag = agents.make("rainbow", sc, seed=0, n_envs=4, learning_starts=300, train_freq=1, gradient_steps=1,
                     target_update_interval=250, net_arch=[32, 32], learning_rate=1e-3, batch_size=64, v_min=0.0, v_max=100.0)
    ag.learn(2000)  # ~425 updates: seeds 0-2 gave 85, 98, 68 against random's ~22
    learned = np.mean([r.team_return for r in testbed.evaluate(ag, sc, episodes=5, seed=100)])
    rand = np.mean([r.team_return for r in testbed.evaluate(agents.make("random", sc, seed=0), sc, episodes=5, seed=100)])
    assert learned > 3 * rand


@pytest.mark.parametrize("her", [False, True])
def test_noisy_exploration_on_goal_dict_observations(her):
    """Noisy exploration (Rainbow's default) on a goal task: the training loop handed its flattened rows
    to the public ``act``, which expects the goal Dict, and every run past ``learning_starts`` stopped."""
    agent = agents.make("rainbow", "goals/BitFlipping-v0", seed=0, learning_starts=50, buffer_size=2000,
                        batch_size=32, her=her)
    assert agent.noisy
    agent.learn(300)
    explored = agent.act(agent.scenario.vector(4, seed=1).reset()[0], deterministic=False)
    assert np.asarray(next(iter(explored.values()))).shape == (4,)
