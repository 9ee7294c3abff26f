"""Pairs of agents, scenarios and checkpoints from different families that pass ``make``: each one either
works or is refused in one line, never a traceback from inside learn, evaluate or load."""

import json

import numpy as np
import pytest

import agents
import scenarios
import testbed
from agents.adversarial.attacks import ObservationAttack
from agents.registry import check_fits
from scenarios import UserError
from testbed.attack_curve import attack_curve

LAKE, SPREAD, MAZE = "toytext/FrozenLake-v1", "mpe/simple_spread-v3", "robotics/PointMaze_UMaze-v3"


def test_adversarial_ppo_on_discrete_observations_is_refused_when_made():
    """The PGD attack it trains against had no gradient through FrozenLake's state index: a torch
    RuntimeError from inside learn()."""
    with pytest.raises(UserError, match=r"adv_ppo trains on PGD-perturbed observations, which must be a Box; "
                                        r"toytext/FrozenLake-v1 agent_0 has Discrete\(16\)"):
        agents.make("adv_ppo", LAKE, seed=0)


@pytest.mark.parametrize("kind", ["random", "pgd", "critic"])
def test_an_attack_on_observations_that_are_not_a_box_is_one_line(kind):
    victim = agents.make("ppo", scenarios.make(LAKE, time_limit=5), seed=0, n_envs=1, n_steps=8, batch_size=8, n_epochs=1)
    victim.learn(8)
    with pytest.raises(UserError, match=r"observation attacks perturb Box observations; toytext/FrozenLake-v1 agent_0 "
                                        r"has Discrete\(16\)"):
        ObservationAttack(kind, 0.1, victim, {"agent_0": np.ones(1)})
    with pytest.raises(UserError, match="no attack applies to ppo on toytext/FrozenLake-v1: observation attacks perturb Box"):
        attack_curve(victim, victim.scenario, "all", [0.1], episodes=1)


def test_an_attack_on_a_goal_conditioned_victim_is_one_line():
    """``applicable`` took the size of a Dict space (no shape): a TypeError."""
    victim = agents.make("random", scenarios.make(MAZE, time_limit=5), seed=0)
    with pytest.raises(UserError, match="no attack applies to random on robotics/PointMaze_UMaze-v3: observation "
                                        "attacks perturb Box observations"):
        attack_curve(victim, victim.scenario, "all", [0.1], episodes=1)


def test_an_attack_on_an_agent_the_scenario_does_not_have_names_the_valid_ones():
    victim = agents.make("random", SPREAD, seed=0)
    std = {a: np.ones(18) for a in victim.scenario.possible_agents}
    with pytest.raises(UserError, match=r"attack agents \['agent_9'\] are not in mpe/simple_spread-v3 "
                                        r"\(valid: agent_0, agent_1, agent_2\)"):
        ObservationAttack("random", 0.1, victim, std, agents=["agent_9"])
    attack = ObservationAttack("random", 0.1, victim, std, agents=["agent_1"])  # one agent of a team: fine
    assert len(testbed.evaluate(victim, victim.scenario, episodes=1, attack=attack)) == 1


def test_a_goal_conditioned_checkpoint_is_refused_on_a_task_whose_dict_entries_differ(tmp_path):
    """FetchReach's and FetchPush's observations are both a Dict with Box(4,) actions: the signature
    compared type, shape and dtype only (a Dict has none), so SB3 failed loading its state dict."""
    reach = scenarios.make("robotics/FetchReach-v4", time_limit=5)
    path = agents.save(agents.make("random", reach, seed=0), tmp_path / "reach")
    push = scenarios.make("robotics/FetchPush-v4", time_limit=5)
    with pytest.raises(UserError, match=r"does not fit robotics/FetchPush-v4: agent_0 observation space was "
                                        r"Dict\(achieved_goal: Box\(3,\) float64, desired_goal: Box\(3,\) float64, "
                                        r"observation: Box\(10,\) float64\), scenario has Dict\(.*observation: Box\(25,\)"):
        agents.load(path, push)
    with pytest.raises(UserError, match="does not fit robotics/FetchPush-v4"):
        testbed.evaluate(agents.load(path), push, episodes=1)
    assert len(testbed.evaluate(agents.load(path, reach), reach, episodes=1)) == 1


def test_a_checkpoint_saved_before_dict_entries_were_recorded_still_loads(tmp_path):
    """Nothing stored is lost: a signature without the entries added later is compared as it was."""
    reach = scenarios.make("robotics/FetchReach-v4", time_limit=5)
    path = agents.save(agents.make("random", reach, seed=0), tmp_path / "reach")
    meta = json.loads((path / "agent.json").read_text())
    for sig in meta["spaces"].values():
        for kind in sig.values():
            kind.pop("spaces", None)
    (path / "agent.json").write_text(json.dumps(meta))
    assert len(testbed.evaluate(agents.load(path, reach), reach, episodes=1)) == 1


def test_hindsight_relabelling_that_would_sample_before_any_episode_ended_is_refused_when_made():
    """SB3's HerReplayBuffer raised a RuntimeError from inside learn() when training started before every
    copy's first episode could have ended (sac, her, PointMaze with 16 copies of 2-step episodes)."""
    maze = scenarios.make(MAZE, time_limit=2)
    with pytest.raises(UserError, match=r"sac: her samples finished episodes only, and with 16 copies of "
                                        r"robotics/PointMaze_UMaze-v3 \(episodes of up to 2 steps\) none may have ended "
                                        r"by learning_starts 5 \(valid: learning_starts >= 16, or fewer n_envs\)"):
        agents.make("sac", maze, seed=0, her=True, n_envs=16, learning_starts=5)
    ag = agents.make("sac", maze, seed=0, her=True, n_envs=16, learning_starts=16, batch_size=4)
    ag.learn(40)  # the first update, after step 2 of every copy: their first episodes have ended
    assert ag.model.replay_buffer.size() > 0


def test_an_sb3_learner_on_a_heterogeneous_team_names_the_sharing_that_works():
    """The refusal said "use a multi-agent learner with agent groups", while the learner itself takes
    ``sharing=group`` (and ``none``)."""
    with pytest.raises(UserError, match=r"agents adversary_0 and agent_0 have different spaces, .* \(valid: sharing=group "
                                        r"or sharing=none"):
        agents.make("ppo", "mpe/simple_tag-v3", seed=0)
    assert agents.make("ppo", "mpe/simple_tag-v3", seed=0, sharing="group").groups


def test_calibrating_an_attack_on_a_goal_conditioned_task_is_one_line():
    """``calibrate`` reshaped a Dict observation into an array: a TypeError."""
    from agents.adversarial.attacks import calibrate

    victim = agents.make("random", scenarios.make(MAZE, time_limit=5), seed=0)
    with pytest.raises(UserError, match="observation attacks perturb Box observations; no agent of "
                                        "robotics/PointMaze_UMaze-v3 has them"):
        calibrate(victim, victim.scenario, episodes=1)
    spread = agents.make("random", scenarios.make(SPREAD, time_limit=5), seed=0)
    assert sorted(calibrate(spread, spread.scenario, episodes=2)) == ["agent_0", "agent_1", "agent_2"]


@pytest.mark.parametrize("name, sid, message", [
    ("jal", "classic/CartPole-v1", "jal plays the matrix/ games; classic/CartPole-v1 is not one"),
    ("tabular_iql", "mpe/simple_tag-v3", "tabular_iql plays the matrix/ games"),
    ("sarsa", "classic/CartPole-v1", "sarsa needs discrete observations and actions"),
    ("policy_iteration", "classic/CartPole-v1", "policy_iteration needs discrete observations and actions"),
    ("mppi", "classic/Pendulum-v1", "mppi plans on MuJoCo tasks scored from qpos/qvel"),
    ("cem", "robotics/AdroitHandDoor-v1", "cem plans on MuJoCo tasks scored from qpos/qvel"),
    ("reinforce", "toytext/Taxi-v4", r"reinforce needs Box observations; toytext/Taxi-v4 has Discrete\(500\)"),
    ("spread_heuristic", "mpe/simple_tag-v3", "spread_heuristic is scripted for simple_spread"),
    ("reference_heuristic", "toytext/FrozenLake-v1", "reference_heuristic is scripted for simple_reference"),
    ("ppo", "mpe/simple_speaker_listener-v4", "agents speaker_0 and listener_0 have different spaces, so one shared"),
    ("dqn", "mpe/simple_tag-v3", "agents adversary_0 and agent_0 have different spaces, so one shared"),
    ("joint_q", "sisl/pursuit-v5", r"joint action space of sisl/pursuit-v5 has 390625 actions \(max 4096\)"),
    ("adv_ppo", "toytext/Taxi-v4", "adv_ppo trains on PGD-perturbed observations, which must be a Box"),
    ("rarl", "mujoco/InvertedPendulum-v5", r"rarl adversary_bodies: no body named torso in the model \(valid: world, cart, pole\)"),
    ("rarl", "classic/Pendulum-v1", "layer rarl needs a MuJoCo source"),
    ("adr", "mujoco/InvertedPendulum-v5", r"layer dynamics body_mass: no body named torso in the model \(valid: world, cart, pole\)"),
    ("adr", "classic/MountainCarContinuous-v0", "layer dynamics needs a MuJoCo source"),
])
def test_check_fits_refuses_what_the_constructor_refuses(name, sid, message):
    """``check_fits`` (``testbed run``'s check before any job trains) accepted these pairs and ``make``
    refused them: the checks lived in the constructors only, and scripted agents were not checked at all."""
    sc = scenarios.make(sid)
    with pytest.raises(UserError, match=message):
        check_fits(name, sc, {})
    with pytest.raises(UserError, match=message):
        agents.make(name, sc, seed=0)


@pytest.mark.parametrize("name", ["sac", "td3", "dqn"])
def test_n_step_returns_on_dict_observations_are_refused_when_made(name):
    """SB3's off-policy learners assert n_steps == 1 for Dict observations from inside learn(): an
    AssertionError after make and check_fits accepted the pair."""
    sid = "goals/BitFlipping-v0" if name == "dqn" else "robotics/FetchReach-v4"
    with pytest.raises(UserError, match=rf"{name}: n_steps 3 \(n-step returns\) is not supported by SB3 for Dict "
                                        rf"observations, and agent_0 of {sid} has them \(valid here: n_steps 1\)"):
        agents.make(name, sid, seed=0, n_steps=3)
    agents.make(name, sid, seed=0, n_steps=1)
