"""Training wall time for a MARL learner to reach a normalized score on a cooperative MPE task.

Score = ``(R - R_random) / (R_heuristic - R_random)`` as in ``benchmarks/marl_reference.py``: R is the
team return (mpe2's default per-agent rewards summed over agents and the 25 steps), averaged over 100
deterministic evaluation episodes (reset seeds 10000-10099); the random policy and the scripted
heuristic are evaluated the same way. Each seed trains in chunks of ``--chunk`` team steps; after
each chunk the policy is evaluated (evaluation time is not counted) until the score reaches
``--target`` or the training time reaches ``--budget`` seconds. Printed per seed: the training
seconds and team steps at which the target was first reached (or the best score if never), and the
IQM of the time over the seeds that reached it. Runs on the default (batched) vectorized face.
The budget is wall time, so the number of steps is not known in advance: ``--total-steps``
gives the learners that take ``total_steps`` the span of their schedules (epsilon, linear
learning rates); without it, such a learner fixes the span at its first ``learn`` call, one
``--chunk`` (for qmix/vdn/iql, epsilon then anneals over the first chunk's exploration fraction).
The JSON is rewritten after every evaluation (a seed still training has ``"finished": false``), so
a stopped run keeps what it measured.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/marl_time_to_score.py --method mappo --seeds 5 --budget 600
    (or one process per core: ``--seeds 3`` and ``--first-seed 3 --seeds 2``, each with its own ``--out``)

Target (issue: batched particle worlds): MAPPO reaches 0.9 on simple_spread in under 10 minutes of
training on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import agents
import testbed
from agents.hyperparams import parse_assignments
from testbed.metrics import iqm_text

TASKS = {"spread": ("mpe/simple_spread-v3", "spread_heuristic"),
         "speaker_listener": ("mpe/simple_speaker_listener-v4", "speaker_listener_heuristic"),
         "reference": ("mpe/simple_reference-v3", "reference_heuristic")}


def team_return(policy: object, sid: str) -> float:
    """Mean team return over 100 deterministic episodes (reset seeds 10000-10099)."""
    recs = testbed.evaluate(policy, sid, episodes=100, seed=10_000, num_envs=100)
    return float(np.mean([r.team_return for r in recs]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="mappo")
    parser.add_argument("--task", choices=sorted(TASKS), default="spread")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--budget", type=float, default=600.0, help="training seconds per seed")
    parser.add_argument("--chunk", type=int, default=50_000, help="team steps between evaluations")
    parser.add_argument("--set", nargs="*", default=[], help="hyperparameter overrides KEY=VALUE")
    parser.add_argument("--total-steps", type=int, default=None,
                        help="team steps the schedules (learning rate, exploration) run over; without it a learner "
                             "that takes total_steps fixes it at its first learn() call, i.e. one --chunk")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    sid, heuristic = TASKS[args.task]
    r_random = team_return(agents.make("random", sid, seed=0), sid)
    r_best = team_return(agents.make(heuristic, sid), sid)
    print(f"{sid}: random {r_random:.1f}, {heuristic} {r_best:.1f}", flush=True)
    overrides = parse_assignments(args.set)
    if args.total_steps is not None and "total_steps" in agents.agent_class(args.method).valid_hyperparameters():
        overrides.setdefault("total_steps", args.total_steps)
    out = args.out or Path(f"benchmarks/results/time_to_score-{args.method}-{args.task}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []

    def write(current: dict | None = None) -> None:
        out.write_text(json.dumps({"method": args.method, "task": sid, "target": args.target, "budget": args.budget,
                                   "random": r_random, "heuristic": r_best, "overrides": overrides,
                                   "runs": rows + ([current] if current else [])}))

    for seed in range(args.first_seed, args.first_seed + args.seeds):
        agent = agents.make(args.method, sid, seed=seed, **overrides)
        trained, steps, reached, best = 0.0, 0, None, -np.inf
        curve: list[tuple[int, float, float]] = []
        while trained < args.budget:
            t0 = time.perf_counter()
            agent.learn(args.chunk)
            trained += time.perf_counter() - t0
            steps += args.chunk
            score = (team_return(agent, sid) - r_random) / (r_best - r_random)
            curve.append((steps, trained, score))
            print(f"  seed {seed}: {steps:,} team steps, {trained:.0f} s of training: score {score:.2f}", flush=True)
            best = max(best, score)
            if score >= args.target:
                reached = (trained, steps)
                break
            write({"seed": seed, "reached": None, "best": best, "curve": curve, "finished": False})
        rows.append({"seed": seed, "reached": reached, "best": best, "curve": curve, "finished": True})
        write()
        said = (f"reached {args.target} after {reached[0]:.0f} s of training ({reached[1]:,} team steps)" if reached
                else f"did not reach {args.target} in {args.budget:.0f} s (best {best:.2f} at {steps:,} team steps)")
        print(f"{args.method} seed {seed}: {said}", flush=True)
    times = [r["reached"][0] for r in rows if r["reached"]]
    summary = f"IQM {iqm_text(times, 0)} s over the {len(times)} of {len(rows)} seeds that reached it" if times else "no seed reached it"
    print(f"{args.method} on {args.task}: {summary}")


if __name__ == "__main__":
    main()
