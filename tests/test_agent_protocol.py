"""Every registered agent implements the whole protocol: name, capabilities, make, learn, act,
save, load (a classmethod), its hyperparameter schema, and a typed config that validates."""

import inspect

import pytest

import agents
from agents.base import Agent, Capabilities
from agents.config import config_model, config_of
from tests.test_agents_catalog import _tiny  # the tiny per-agent settings every catalog test uses

NAMES = agents.list_names()


@pytest.mark.parametrize("name", NAMES)
def test_the_class_declares_the_whole_protocol(name):
    cls = agents.agent_class(name)
    assert cls.name == name and isinstance(cls.capabilities, Capabilities)
    for method in ("learn", "act", "save"):
        assert callable(getattr(cls, method)), f"{name} has no {method}"
    assert inspect.ismethod(cls.load), f"{name}.load is not a classmethod"
    valid, defaults = cls.valid_hyperparameters(), cls.default_hyperparameters()
    assert isinstance(valid, set) and (not valid or set(defaults) <= valid)  # no default for a name make() refuses
    assert set(config_model(name).model_fields) == (valid or set(defaults))
    if hasattr(cls, "policy_distribution"):
        assert callable(cls.value), f"{name} has a policy distribution but no value()"


@pytest.mark.parametrize("name", NAMES)
def test_a_built_agent_is_an_agent_with_a_valid_config(name):
    if name == "random":
        sc, hp = "classic/CartPole-v1", {}
    else:
        sc, _, hp = _tiny(name)
    ag = agents.make(name, sc, seed=0, **hp)
    assert isinstance(ag, Agent) and ag.name == name and ag.seed == 0
    cfg = config_of(ag)
    assert all(getattr(cfg, k) == v for k, v in hp.items() if k in type(cfg).model_fields)


@pytest.mark.parametrize("name", ["adv_ppo", "rarl", "adr", "gail", "airl"])
def test_methods_built_on_ppo_take_every_ppo_argument(name):
    from agents.sb3_agent import PPO_ARGUMENTS

    assert set(PPO_ARGUMENTS) <= agents.agent_class(name).valid_hyperparameters()


def test_a_ppo_argument_reaches_the_players_of_rarl():
    rarl = agents.make("rarl", "mujoco/InvertedPendulum-v5", seed=0, adversary_bodies=["pole"], clip_range=0.1, vf_coef=0.7)
    rarl._models()
    for player in (rarl.protagonist, rarl.adversary):
        assert player.model.clip_range(1.0) == 0.1 and player.model.vf_coef == 0.7


IP = "mujoco/InvertedPendulum-v5"
OWN = {"rarl": {"adversary_bodies": ["pole"]}, "adr": {"parameters": ["body_mass:pole"]}}  # fields IP needs


def _ppo_parts(agent):
    """The PPO agents a method built on PPO holds."""
    return [agent.protagonist, agent.adversary] if agent.name == "rarl" else [agent.ppo]


@pytest.mark.parametrize("name", ["adv_ppo", "rarl", "adr", "gail", "airl"])
def test_methods_built_on_ppo_hold_the_ppo_agent_and_take_its_tuned_entry_unless_overridden(name):
    from agents.hyperparams import tuned_defaults
    from agents.sb3_agent import PPOAgent

    tuned = tuned_defaults("ppo", IP)  # ppo.yaml's InvertedPendulum entry: learning_rate 1e-3, n_steps 128
    assert tuned["learning_rate"] != agents.agent_class(name).default_hyperparameters()["learning_rate"]
    for overrides, expected in (({}, tuned["learning_rate"]), ({"learning_rate": 5e-4}, 5e-4)):
        ag = agents.make(name, IP, seed=0, **OWN.get(name, {}), **overrides)
        for part in _ppo_parts(ag):
            assert type(part) is PPOAgent and part.spaces is not None
            assert part.hparams["learning_rate"] == expected and part.hparams["n_steps"] == tuned["n_steps"]
        assert ag.hparams["learning_rate"] == expected  # what the checkpoint records


def test_the_learned_adversary_trains_the_ppo_agent_with_its_tuned_entry():
    import numpy as np
    import scenarios
    from agents.adversarial.learned_attack import LearnedPerturber
    from agents.hyperparams import tuned_defaults
    from agents.sb3_agent import PPOAgent

    sc = scenarios.make(IP)
    adversary = LearnedPerturber(agents.make("random", sc, seed=0), sc, ["agent_0"], {"agent_0": np.ones(4)}, 0.5, steps=1)
    assert type(adversary.ppo) is PPOAgent and adversary.ppo.model is not None
    assert adversary.ppo.hparams["learning_rate"] == tuned_defaults("ppo", IP)["learning_rate"]
