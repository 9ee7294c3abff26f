"""Outcomes of the tabular matrix-game learners over many seeds, against the literature.

Each learner trains ``--steps`` rounds with seeds 0..N-1 (Boltzmann exploration
decaying to near-greedy), then its greedy joint action is recorded. Expected
from Claus & Boutilier (1998) and the game-theory literature: independent
learners miscoordinate in the climbing game (they settle on the safe (1,1) or
(2,2), rarely the optimum (0,0)); both defect in the prisoner's dilemma; the
risk-dominant (hare, hare) equilibrium in the stag hunt; in matching pennies the
fictitious-play opponent model tends to the mixed equilibrium (0.5, 0.5). A
joint-action controller (``joint_q``, 5 seeds) is run on the climbing game as
the contrast: it sees the joint action and should find the optimum.

    .venv/bin/python benchmarks/matrix_games.py --seeds 20 --steps 5000
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

import agents

GAMES = ["climbing", "prisoners_dilemma", "stag_hunt", "matching_pennies"]


def main() -> None:
    """Print a markdown row of greedy joint-action counts per game and learner."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--steps", type=int, default=5000)
    args = p.parse_args()
    for game in GAMES:
        for name in ("jal", "tabular_iql"):
            outcomes: Counter = Counter()
            models = []
            for seed in range(args.seeds):
                kw = {"opponent_decay": 1.0} if game == "matching_pennies" and name == "jal" else {}
                ag = agents.make(name, f"matrix/{game}-v0", seed=seed, **kw)
                ag.learn(args.steps)
                a = ag.act({x: np.zeros((1, 1)) for x in ag.agents})
                outcomes[(int(a["agent_0"][0]), int(a["agent_1"][0]))] += 1
                models.append(ag.opponent_model(0))
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1]))
            model = np.round(np.mean(models, axis=0), 2).tolist()
            print(f"| {game} | {name} | {counts} | {model} |", flush=True)
    outcomes = Counter()
    for seed in range(5):  # a centralized controller over the 9 joint actions: no miscoordination
        ag = agents.make("joint_q", "matrix/climbing-v0", seed=seed)
        ag.learn(args.steps)
        a = ag.act({x: np.zeros((1, 6), np.float32) for x in ag.scenario.possible_agents})
        outcomes[(int(a["agent_0"][0]), int(a["agent_1"][0]))] += 1
    print(f"| climbing | joint_q (5 seeds) | {', '.join(f'{k}: {v}' for k, v in outcomes.items())} | - |")


if __name__ == "__main__":
    main()
