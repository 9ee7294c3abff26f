"""Reference results of the learned-model agents (``pets``, ``mbve``, ``mbpo``, ``i2a``).

Each experiment trains with seeds 0..S-1; a learning curve is measured by training in chunks
(``learn`` continues exactly, so the chunks are one run) and evaluating deterministically after
each chunk (reset seeds 1000+). Reported per experiment: the IQM over runs of the final
per-run mean return with a 95% percentile-bootstrap CI, per-run curves, the first step at
which each run's evaluation reached the target, the wall time per run (one core of a shared
2-core machine) and, for PETS, the planning seconds per environment step. One JSON line each.

    nice -n 10 .venv/bin/python benchmarks/model_based_reference.py --only pets_ip --seeds 3
    nice -n 10 .venv/bin/python benchmarks/model_based_reference.py --only pets_ip_known --seeds 5
    nice -n 10 .venv/bin/python benchmarks/model_based_reference.py --only i2a_cartpole --budget 81920
    nice -n 10 .venv/bin/python benchmarks/model_based_reference.py --list

``pets_grid`` evaluates the PETS model trained by ``pets_ip`` (seed 0, its checkpoint under
``runs/bench/pets-ip``) on a grid over the pole's mass: the model was fitted on the nominal
pole only, so the grid shows what model error under perturbation costs in return.

``pets_ip`` learns the termination (``termination: learned``); ``pets_ip_known`` is the same
agent with the task's known termination function (``scenarios.termination``), as mbrl-lib's
PETS results use, 10,000 steps evaluated on 5 episodes every 2,500; ``pets_ip_known_h30`` plans
30 steps ahead instead of 15 (mbrl-lib's InvertedPendulum configuration plans 45).
``pets_reacher`` and ``sac_reacher``: the issue's Reacher comparison at 20,000 steps, PETS at the
InvertedPendulum settings (termination learned: Reacher never terminates) beside the
SB3-backed ``sac`` at ``sac.yaml``'s defaults; -5 (the "first step at target") is a marker
for a policy that reaches (the random policy scores about -43), not a published figure.
``pets_reacher_known`` is ``pets_reacher`` with the task's known reward (``reward: known``), as
the PETS paper's code plans with each task's cost function.
``mbve_hopper`` and ``mbve_h0_hopper``: MBVE (H = 3) against its model-free base (H = 0) on
Hopper-v5 at 30,000 steps, SAC 256 x 256 with the known termination; target 1,000 (a hopping
gait), the first evaluation at or above it per run is the comparison. ``mbve_tdk_hopper`` is
``mbve_hopper`` with ``td_k`` (the critic also fitted on the imagined pairs).
``pets_reacher_search`` trains ``pets_reacher_known``'s seed 0 for 20,000 steps and evaluates its one
model with other planner settings (more candidates, iterations, particles, a longer horizon, a
narrower starting spread, MPPI); ``pets_reacher_focused`` is ``pets_reacher_known`` with the setting
chosen there (200 candidates, ``noise_std`` 0.25), all seeds trained and evaluated with it;
``pets_ip_search`` is the same search on ``pets_ip_h30``'s 5,000-step InvertedPendulum model.
``cem_sim_ip``: the ``cem`` planner with the simulator itself as the model (no learning), the
ceiling of PETS's planning at horizon 30.
``pets_ip_known_h45`` plans 45 steps ahead, mbrl-lib's horizon for this task; ``pets_ip_h30`` is
``pets_ip`` (learned termination) at horizon 30, 10,000 steps, evaluated on 5 episodes every 2,500;
``pets_ip_h30_m128`` the same with 128 x 128 x 128 members and 500 updates a refit;
``pets_ip_h30_u3000`` the same with 3,000 updates a refit instead of 300;
``pets_ip_h30_mean`` the same as ``pets_ip_h30`` with ``propagation: mean``; ``pets_propagation_ip``
evaluates one 5,000-step ``pets_ip_h30`` model both ways.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import agents
import scenarios
import testbed
from testbed.grid import evaluate_grid, parse_axis
from testbed.metrics import bootstrap_ci, iqm

IP, CP, REACHER, HOPPER = "mujoco/InvertedPendulum-v5", "classic/CartPole-v1", "mujoco/Reacher-v5", "mujoco/Hopper-v5"
PETS_IP = dict(planner="cem", samples=100, particles=5, horizon=15, iterations=3, learning_starts=250, round_steps=250,
               model_arch=[64, 64], model_updates=300, termination="learned")  # 200x3 members planned at 0.22 s a step here: too slow
SAC_IP = dict(learning_starts=500, round_steps=250, net_arch=[64, 64], batch_size=128, gradient_steps=1,
              model_arch=[200, 200], model_updates=200, termination="learned")
SAC_HOPPER = dict(learning_starts=1000, round_steps=250, net_arch=[256, 256], batch_size=256, gradient_steps=1,
                  model_arch=[200, 200, 200], model_updates=200, termination="known")  # Hopper's termination is known
REACHER_SEARCH = dict(samples=200, noise_std=0.25)  # chosen by pets_reacher_search on seed 0's model
# name -> (agent, scenario, budget, chunk, overrides, eval episodes, target return)
EXPERIMENTS: dict[str, tuple] = {
    "pets_ip": ("pets", IP, 2_000, 500, PETS_IP, 2, 1000.0),
    "pets_ip_known": ("pets", IP, 10_000, 2_500, {**PETS_IP, "termination": "known"}, 5, 1000.0),
    "pets_ip_known_h30": ("pets", IP, 10_000, 2_500, {**PETS_IP, "termination": "known", "horizon": 30}, 5, 1000.0),
    "pets_ip_h30": ("pets", IP, 10_000, 2_500, {**PETS_IP, "horizon": 30}, 5, 1000.0),
    "pets_ip_h30_m128": ("pets", IP, 10_000, 2_500, {**PETS_IP, "horizon": 30, "model_arch": [128, 128, 128],
                                                     "model_updates": 500}, 5, 1000.0),
    "pets_ip_h30_u3000": ("pets", IP, 10_000, 2_500, {**PETS_IP, "horizon": 30, "model_updates": 3000}, 5, 1000.0),
    "pets_ip_h30_mean": ("pets", IP, 10_000, 2_500, {**PETS_IP, "horizon": 30, "propagation": "mean"}, 5, 1000.0),
    "pets_ip_h30_penalty20": ("pets", IP, 10_000, 2_500, {**PETS_IP, "horizon": 30, "uncertainty_penalty": 20.0}, 5, 1000.0),
    "pets_ip_known_h45": ("pets", IP, 10_000, 2_500, {**PETS_IP, "termination": "known", "horizon": 45}, 5, 1000.0),
    "mbve_ip": ("mbve", IP, 5_000, 1_000, {**SAC_IP, "expansion_horizon": 3}, 5, 1000.0),
    "mbve_h0_ip": ("mbve", IP, 5_000, 1_000, {**SAC_IP, "expansion_horizon": 0}, 5, 1000.0),
    "mbve_hopper": ("mbve", HOPPER, 30_000, 5_000, {**SAC_HOPPER, "expansion_horizon": 3}, 5, 1000.0),
    "mbve_tdk_hopper": ("mbve", HOPPER, 30_000, 5_000, {**SAC_HOPPER, "expansion_horizon": 3, "td_k": True}, 5,
                        1000.0),
    "mbve_h0_hopper": ("mbve", HOPPER, 30_000, 5_000, {**SAC_HOPPER, "expansion_horizon": 0}, 5, 1000.0),
    "mbpo_ip": ("mbpo", IP, 5_000, 1_000, {**SAC_IP, "rollout_batch": 2000, "rollout_length": 1, "gradient_steps": 1}, 5,
                1000.0),
    "pets_reacher": ("pets", REACHER, 20_000, 5_000, PETS_IP, 10, -5.0),
    "pets_reacher_known": ("pets", REACHER, 20_000, 5_000, {**PETS_IP, "reward": "known"}, 10, -5.0),
    "pets_reacher_focused": ("pets", REACHER, 20_000, 5_000, {**PETS_IP, "reward": "known", **REACHER_SEARCH}, 10, -5.0),
    "sac_reacher": ("sac", REACHER, 20_000, 5_000, {}, 10, -5.0),
    "i2a_cartpole": ("i2a", CP, 20_480, 20_480, {}, 10, 500.0),
    "i2a_model_free_cartpole": ("i2a", CP, 20_480, 20_480, {"imagination": False}, 10, 500.0),
}
CHECKPOINT = Path("runs/bench/pets-ip")


def run(name: str, seeds: list[int], budget_override: int | None = None) -> dict:
    """Train and evaluate one experiment over ``seeds`` (``budget_override``: another budget, in four chunks)."""
    algo, sc_id, budget, chunk, hp, episodes, target = EXPERIMENTS[name]
    if budget_override:
        budget, chunk = budget_override, budget_override // 4
    sc = scenarios.make(sc_id)
    curves, walls, reached, extra = [], [], [], {}
    for seed in seeds:
        t0 = time.perf_counter()
        ag = agents.make(algo, sc, seed=seed, **hp)
        curve, train_s = [], 0.0
        while ag.steps_trained < budget:
            t1 = time.perf_counter()
            ag.learn(chunk)
            train_s += time.perf_counter() - t1
            recs = testbed.evaluate(ag, sc, episodes=episodes, seed=1000, num_envs=min(episodes, 8))
            curve.append((ag.steps_trained, float(np.mean([r.team_return for r in recs]))))
            print(json.dumps({"progress": name, "seed": seed, "steps": ag.steps_trained, "return": curve[-1][1],
                              "returns": [r.team_return for r in recs], "train_s": round(train_s, 1),
                              "wall_s": round(time.perf_counter() - t0, 1),
                              "plan_s_per_step": round(ag.plan_cost(), 4) if algo == "pets" else None}), flush=True)
        walls.append(time.perf_counter() - t0)
        curves.append(curve)
        reached.append(next((s for s, r in curve if r >= target), None))
        if algo == "pets":
            extra.setdefault("plan_s_per_step", []).append(round(ag.plan_cost(), 4))
            if seed == 0 and name == "pets_ip":
                ag.save(CHECKPOINT)
        if getattr(ag, "history", None):
            extra.setdefault("last_model_fit", []).append({k: round(v, 6) for k, v in ag.history[-1].items()})
    x = np.array([c[-1][1] for c in curves])
    lo, hi = bootstrap_ci(x, iqm, reps=50_000, seed=0)
    return {"experiment": name, "agent": algo, "scenario": sc_id, "budget": budget, "overrides": hp, "seeds": seeds,
            "episodes_per_eval": episodes, "iqm_final": iqm(x), "ci95": [lo, hi], "final_per_run": x.tolist(),
            "curves": curves, "target": target, "first_step_at_target": reached,
            "wall_s_per_run": [round(w, 1) for w in walls], **extra}


def pets_grid(episodes: int = 2) -> dict:
    """The nominal-trained PETS model on a grid over pole mass (scale 0.5-3, 6 points)."""
    ag = agents.load(CHECKPOINT)
    sc = scenarios.make(IP)
    t0 = time.perf_counter()
    recs = evaluate_grid(ag, sc, [parse_axis("body_mass.pole=0.5:3.0:6")], episodes=episodes, seed=1000)
    points: dict[str, list[float]] = {}
    for r in recs:
        points.setdefault(json.dumps(r.params["grid"]), []).append(r.team_return)
    return {"experiment": "pets_grid", "checkpoint": str(CHECKPOINT), "episodes_per_point": episodes,
            "mean_return_by_point": {k: float(np.mean(v)) for k, v in points.items()},
            "wall_s": round(time.perf_counter() - t0, 1)}


def cem_sim_ip(episodes: int = 2) -> dict:
    """The planner alone, with the simulator as its model: the ``cem`` agent (``mujoco.rollout`` of
    the nominal InvertedPendulum-v5, the env's own reward and termination; horizon 30, 128 candidates
    x 3 iterations, one thread) on ``episodes`` episodes, reset seeds 1000+, no learning. What PETS's
    planning would reach with a perfect model at that horizon."""
    sc = scenarios.make(IP)
    ag = agents.make("cem", sc, seed=0, horizon=30, samples=128, iterations=3, nthread=1)
    t0 = time.perf_counter()
    recs = testbed.evaluate(ag, sc, episodes=episodes, seed=1000, num_envs=episodes)
    return {"experiment": "cem_sim_ip", "agent": "cem", "scenario": IP, "overrides": ag.hparams,
            "returns": [r.team_return for r in recs], "wall_s": round(time.perf_counter() - t0, 1)}


def pets_propagation_ip(episodes: int = 5) -> dict:
    """One PETS model, two ways of rolling particles through it: ``pets_ip_h30``'s agent (seed 0)
    after 5,000 steps, evaluated on ``episodes`` episodes (reset seeds 1000+) with
    ``propagation: sample`` (as trained) and ``mean``; nothing else differs."""
    sc = scenarios.make(IP)
    ag = agents.make("pets", sc, seed=0, **EXPERIMENTS["pets_ip_h30"][4])
    ag.learn(5_000)
    out = {"experiment": "pets_propagation_ip", "agent": "pets", "scenario": IP, "steps": ag.steps_trained}
    for mode in ("sample", "mean"):
        ag.hparams["propagation"] = mode
        recs = testbed.evaluate(ag, sc, episodes=episodes, seed=1000, num_envs=episodes)
        out[mode] = [r.team_return for r in recs]
    return out


def planner_search(experiment: str, steps: int, variants: list[dict], episodes: int) -> dict:
    """One PETS model, several planners: ``experiment``'s agent (seed 0) after ``steps`` steps, evaluated on
    ``episodes`` episodes (reset seeds 1000+) with each planner setting in turn; the model and its data are
    the same throughout (an evaluation starts by forgetting every plan, ``PETS.reset_memory``)."""
    _, sc_id, *_ = EXPERIMENTS[experiment]
    sc = scenarios.make(sc_id)
    ag = agents.make("pets", sc, seed=0, **EXPERIMENTS[experiment][4])
    ag.learn(steps)
    base = dict(ag.hparams)
    rows = []
    for v in variants:
        ag.hparams = {**base, **v}
        ag.planned_steps, ag.plan_seconds = 0, 0.0
        recs = testbed.evaluate(ag, sc, episodes=episodes, seed=1000, num_envs=min(episodes, 8))
        rows.append({"variant": v, "returns": [r.team_return for r in recs], "plan_s_per_step": round(ag.plan_cost(), 4)})
        print(json.dumps({"progress": experiment, **rows[-1]}), flush=True)
    return {"agent": "pets", "scenario": sc_id, "steps": ag.steps_trained, "overrides": EXPERIMENTS[experiment][4],
            "episodes": episodes, "variants": rows}


def pets_reacher_search(episodes: int = 10) -> dict:
    """``planner_search`` on ``pets_reacher_known``'s 20,000-step Reacher model."""
    variants = [{}, {"samples": 400}, {"iterations": 5}, {"horizon": 25}, {"particles": 20}, {"propagation": "mean"},
                {"samples": 400, "iterations": 5, "horizon": 25}, {"noise_std": 0.25}, {"planner": "mppi"},
                {"noise_std": 0.25, "iterations": 5}, {"noise_std": 0.25, "samples": 200}, {"noise_std": 0.1},
                {"samples": 200}, {"noise_std": 0.25, "samples": 400}]
    return {"experiment": "pets_reacher_search", **planner_search("pets_reacher_known", 20_000, variants, episodes)}


def pets_ip_search(episodes: int = 5) -> dict:
    """``planner_search`` on ``pets_ip_h30``'s 5,000-step InvertedPendulum model."""
    variants = [{}, {"noise_std": 0.25}, {"noise_std": 0.1}, {"samples": 400}, {"iterations": 5},
                {"noise_std": 0.25, "samples": 200}, {"noise_std": 0.25, "propagation": "mean"}]
    return {"experiment": "pets_ip_search", **planner_search("pets_ip_h30", 5_000, variants, episodes)}


CVAR_VARIANTS = [{}, {"cvar": 0.2}, {"cvar": 0.4}, {"cvar": 0.2, "noise_std": 0.25}]


def pets_ip_cvar(episodes: int = 5) -> dict:
    """``planner_search`` on ``pets_ip_h30``'s 5,000-step InvertedPendulum model: risk-neutral against
    pessimistic (``cvar``) scoring of the particles."""
    return {"experiment": "pets_ip_cvar", **planner_search("pets_ip_h30", 5_000, CVAR_VARIANTS, episodes)}


def pets_ip_known_cvar(episodes: int = 5) -> dict:
    """The same on ``pets_ip_known_h30``'s model (the known termination)."""
    return {"experiment": "pets_ip_known_cvar", **planner_search("pets_ip_known_h30", 5_000, CVAR_VARIANTS, episodes)}


PENALTY_VARIANTS = [{}, {"uncertainty_penalty": 1.0}, {"uncertainty_penalty": 5.0}, {"uncertainty_penalty": 20.0}]


def pets_ip_penalty(episodes: int = 5) -> dict:
    """``planner_search`` on ``pets_ip_h30``'s 5,000-step InvertedPendulum model: rewards penalized by the
    model's predicted spread (MOPO's r - lambda u), which is 17-37x larger at the slider's wall."""
    return {"experiment": "pets_ip_penalty", **planner_search("pets_ip_h30", 5_000, PENALTY_VARIANTS, episodes)}


SPECIAL = {"pets_ip_penalty": pets_ip_penalty, "pets_ip_cvar": pets_ip_cvar, "pets_ip_known_cvar": pets_ip_known_cvar, "pets_reacher_search": pets_reacher_search, "pets_ip_search": pets_ip_search, "pets_grid": pets_grid, "cem_sim_ip": cem_sim_ip, "pets_propagation_ip": pets_propagation_ip}


def main() -> None:
    """Run the experiments named on the command line, one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[*EXPERIMENTS, *SPECIAL])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--budget", type=int, default=None, help="another budget (evaluated after each quarter)")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        print("\n".join([*EXPERIMENTS, *SPECIAL]))
        return
    torch.set_num_threads(1)
    for name in args.only:
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        out = SPECIAL[name]() if name in SPECIAL else run(name, seeds, args.budget)
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
