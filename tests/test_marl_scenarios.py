"""Every multi-agent method runs on every scenario the issue names (or refuses it in one
line for a reason it declares): tiny budgets, short episodes."""

import numpy as np
import pytest

import agents
import scenarios
import testbed
from scenarios import UserError

SCENARIOS = [sid for sid in scenarios.list_ids() if sid.startswith(("mpe/", "matrix/"))] + [
    "sisl/multiwalker-v9", "sisl/pursuit-v5", "mamujoco/HalfCheetah-2x3-v1", "mamujoco/Ant-2x4-v1",
]
TINY = {
    "mappo": {"n_envs": 2, "n_steps": 8}, "ippo": {"n_envs": 2, "n_steps": 8, "recurrent": True},
    "qmix": {"n_envs": 2, "learning_starts": 8, "batch_size": 8}, "vdn": {"n_envs": 2, "learning_starts": 8, "batch_size": 8},
    "iql": {"n_envs": 2, "learning_starts": 8, "batch_size": 8}, "maddpg": {"n_envs": 2, "learning_starts": 8, "batch_size": 8},
    "joint_ppo": {"n_envs": 2, "n_steps": 8, "batch_size": 16}, "joint_q": {"n_envs": 2, "learning_starts": 8, "batch_size": 8},
    "ppo": {"n_envs": 2, "n_steps": 8, "batch_size": 16, "sharing": "group"},
}
REASONS = ("discrete actions only", "cooperative scenarios only", "joint action space", "all-Discrete")


def _run(name: str, sid: str) -> None:
    sc = scenarios.make(sid, time_limit=12)
    try:
        ag = agents.make(name, sc, seed=0, **TINY[name])
    except UserError as exc:
        assert any(r in str(exc) for r in REASONS), str(exc)
        return
    ag.learn(32)
    recs = testbed.evaluate(ag, sc, episodes=2, seed=0, num_envs=2)
    assert len(recs) == 2 and all(np.isfinite(r.team_return) and r.length == 12 for r in recs)
    assert set(recs[0].returns) == set(sc.possible_agents)


@pytest.mark.parametrize("sid", SCENARIOS)
@pytest.mark.parametrize("name", sorted(TINY))
def test_every_method_runs_or_refuses_on_every_named_scenario(name, sid):
    _run(name, sid)
