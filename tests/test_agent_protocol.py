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
