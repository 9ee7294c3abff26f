"""A learning rate inside its range can still blow a learner up; that ends in one line naming the
agent, where the non-finite values are and the learning rate, never in a traceback from inside
torch (SB3's PPO raised torch.distributions' ``ValueError``) or in a silently saved NaN policy
(fast_ppo and fast_sac trained, saved and evaluated NaN weights with exit status 0)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import agents
from agents import divergence
from agents.divergence import Diverged
from scenarios import UserError
from tests.test_agents_catalog import _tiny
from tests.test_cli import run

PEND = "classic/Pendulum-v1"


@pytest.mark.parametrize("name,scenario,steps,hp", [
    ("fast_sac", PEND, 300, {"n_envs": 2, "learning_starts": 50, "batch_size": 32}),  # was silent: NaN weights
    ("fast_ppo", PEND, 300, {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 2}),  # was silent
    ("sac", PEND, 300, {"learning_starts": 50, "batch_size": 32}),  # SB3: NaN weights
    ("adv_ppo", None, None, None),  # SB3 PPO underneath: torch.distributions raised (finite weights, infinite scale)
    ("qmix", None, None, None),
])
def test_a_diverging_learner_stops_with_one_line(name, scenario, steps, hp):
    if scenario is None:
        scenario, steps, hp = _tiny(name)
    agent = agents.make(name, scenario, seed=0, **{**hp, "learning_rate": 1e9})
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with pytest.raises(Diverged, match=rf"^{name} diverged during training: non-finite values in .+ within its "
                                            r"first \d+ steps \(learning_rate 1000000000.0 is likely too large") as e:
            agent.learn(steps)
    assert "\n" not in str(e.value) and isinstance(e.value, UserError)


def test_healthy_training_is_untouched_and_other_errors_pass_through():
    agent = agents.make("fast_ppo", PEND, seed=0, n_envs=2, n_steps=64, batch_size=64, n_epochs=1)
    agent.learn(128)
    assert divergence.nonfinite_parameter(agent) is None

    class Broken:
        name = "broken"

        def learn(self, steps: int) -> None:
            raise ValueError("a bug, not a divergence")

    with pytest.raises(ValueError, match="a bug"):
        divergence.guard(Broken()).learn(1)


def test_a_nan_network_is_found_by_its_path():
    agent = agents.make("dqn", "classic/CartPole-v1", seed=0, learning_starts=10)
    agent.learn(20)
    param = next(p for path, p in divergence._parameters(agent))
    param.data.view(-1)[0] = float("nan")
    assert divergence.nonfinite_parameter(agent) is not None


def test_cli_train_exits_2_in_one_line_and_keeps_what_was_stored(tmp_path):
    out = tmp_path / "run"
    common = ["--seed", "0", "--out", str(out), "--set", "learning_starts=50", "--set", "batch_size=32"]
    ok = run("train", "fast_sac", PEND, "--steps", "200", *common, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    before = (out / "agent.json").read_text()
    bad = run("train", "fast_sac", PEND, "--steps", "300", *common, "--set", "learning_rate=1e9", "--overwrite",
              cwd=tmp_path)
    assert bad.returncode == 2, bad.stderr
    assert "Traceback" not in bad.stderr
    lines = [ln for ln in bad.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "fast_sac diverged during training" in lines[0]
    assert (out / "agent.json").read_text() == before  # the earlier checkpoint is not overwritten


def test_infinite_logits_sampled_by_multinomial_are_a_divergence():
    """i2a samples its actions with ``torch.multinomial``, whose refusal of inf/NaN probabilities (finite
    but overflowing weights) reached the command line as a traceback with exit status 1."""
    class Sampler:
        name = "i2a"
        hparams = {"learning_rate": 1e30}

        def learn(self, steps: int) -> None:
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")

    with pytest.raises(Diverged, match=r"i2a diverged during training: non-finite values in the outputs of its "
                                       r"networks .* \(learning_rate 1e\+30 is likely too large"):
        divergence.guard(Sampler()).learn(1)


def test_a_diverged_dynamics_model_is_named_with_model_lr():
    """The actor trained on a NaN model's predictions was found first and blamed on learning_rate
    (mbve with model_lr 1e30 said 'learning_rate 0.0003 is likely too large')."""
    import torch

    class Model:
        def __init__(self):
            self.net = torch.nn.Linear(2, 2)

    class Learner:
        name = "mbve"
        hparams = {"learning_rate": 3e-4, "model_lr": 1e30}

        def __init__(self):
            self.sac = torch.nn.Linear(2, 2)  # walked first
            self.model = Model()
            with torch.no_grad():
                self.sac.weight.fill_(float("nan"))
                self.model.net.bias.fill_(float("nan"))

        def learn(self, steps: int) -> None:
            pass

    assert divergence.nonfinite_parameter(Learner()) == "model.net.bias"
    with pytest.raises(Diverged, match=r"non-finite values in model.net.bias .* \(model_lr 1e\+30 is likely too large"):
        divergence.guard(Learner()).learn(1)
