"""Returns of ``fast_ppo`` vs the SB3-backed ``ppo`` at equal budgets and hyperparameters: train
``--seeds`` seeds of one learner on one task, evaluate each policy deterministically on 10 episodes
(reset seeds 1000-1009), write per-seed mean returns as JSON. Run once per learner (one process
per core), then ``--compare A.json B.json`` prints IQM [95% bootstrap CI over seeds] of each.
The JSON is rewritten after every seed (a stopped run keeps its finished seeds); ``--first-seed``
continues a run in another process or session (join the files' ``returns`` by ``seeds``).
``--checkpoint-every K`` trains in chunks of K steps and saves the agent with its whole training
state after each (``<out>.ckpt/seed<S>``); a later run with the same arguments resumes a seed from
its last chunk (``agents.load(..., resume=True)``: the same run as one uninterrupted ``learn``, as
``tests/test_resume.py`` checks), so a seed longer than one session still finishes; with it, seeds
already recorded in ``--out`` (same learner, task, steps and ``--set`` overrides) are kept and not run again,
and each seed's learning curve is recorded (``curves``: ``[steps, mean return]`` after every chunk, the same
10-episode evaluation as the final one; deterministic acting draws nothing from the agent's generators,
so evaluating does not change the run).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fast_ppo_returns.py --learner ppo --steps 100000 --out results/ppo.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fast_ppo_returns.py --learner fast_ppo --steps 100000 --out results/fast.json
    .venv/bin/python benchmarks/fast_ppo_returns.py --compare results/ppo.json results/fast.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fast_ppo_returns.py --learner mbpo --steps 100000 \
        --set termination=known --checkpoint-every 10000 --out results/mbpo.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learner", default="fast_ppo")
    parser.add_argument("--task", default="mujoco/Hopper-v5")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--checkpoint-every", type=int, default=0, help="save a resumable checkpoint every K steps")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="hyperparameter override (repeatable; recorded in the JSON)")
    parser.add_argument("--compare", nargs=2, type=Path, default=None)
    args = parser.parse_args()
    if args.compare:
        from testbed.metrics import iqm_text

        for path in args.compare:
            data = json.loads(path.read_text())
            print(f"{data['learner']:9s} {data['task']} {data['steps']} steps: IQM {iqm_text(data['returns'], 1)} "
                  f"(per seed {', '.join(f'{x:.0f}' for x in data['returns'])}); train {np.mean(data['seconds']):.1f} s/seed")
        return
    import agents
    from agents.hyperparams import parse_assignments

    args.overrides = parse_assignments(args.set)  # recorded in the JSON and part of what a continued run matches

    out = args.out or Path(f"benchmarks/results/{args.learner}-{args.task.replace('/', '_')}-{args.steps}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    returns: list[float] = []
    seconds: list[float] = []
    cpu: list[float | None] = []
    seeds: list[int] = []
    curves: list[list[list[float]] | None] = []
    if args.checkpoint_every and out.is_file():
        done = json.loads(out.read_text())
        if (done["learner"], done["task"], done["steps"], done.get("overrides", {})) == (
                args.learner, args.task, args.steps, args.overrides):
            returns, seconds, seeds = done["returns"], done["seconds"], done["seeds"]
            cpu = done.get("cpu_seconds", [None] * len(seeds))
            curves = done.get("curves", [None] * len(seeds))
            print(f"{args.learner}: seeds {seeds} already in {out}", flush=True)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        if seed in seeds:
            continue
        agent, spent, spent_cpu, curve = _train(args, seed, out.with_name(out.name + ".ckpt") / f"seed{seed}")
        seconds.append(spent)
        cpu.append(spent_cpu)
        returns.append(_evaluate(agent))
        seeds.append(seed)
        curves.append(curve + [[agent.steps_trained, returns[-1]]] if args.checkpoint_every else None)
        print(f"{args.learner} seed {seed}: {returns[-1]:.1f} ({seconds[-1]:.1f} s)", flush=True)
        out.write_text(json.dumps({"learner": args.learner, "task": args.task, "steps": args.steps, "seeds": seeds,
                                   "returns": returns, "seconds": seconds, "cpu_seconds": cpu,
                                   "overrides": args.overrides, "curves": curves}))
        shutil.rmtree(out.with_name(out.name + ".ckpt") / f"seed{seed}", ignore_errors=True)


def _evaluate(agent: object) -> float:
    """Mean return of the deterministic policy over 10 episodes (reset seeds 1000-1009)."""
    import testbed

    return float(np.mean([r.team_return for r in testbed.evaluate(agent, episodes=10, seed=1000)]))


def _train(args: argparse.Namespace, seed: int, ckpt: Path) -> tuple[object, float, float | None, list[list[float]]]:
    """Train one seed for ``args.steps`` steps (resuming from ``ckpt`` where a chunked run left one);
    returns the agent, the training seconds summed over every chunk and session: wall and this
    process's CPU time (single-threaded runs: the second is not inflated by a paused process or a
    busy machine; None where a checkpoint from before it was counted was resumed), and the learning
    curve so far (``[steps, return]`` after every chunk but the last; where a checkpoint written
    before curves were kept was resumed, only the chunks since)."""
    import agents

    chunk = args.checkpoint_every or args.steps
    spent_file = ckpt / "seconds.json"
    if args.checkpoint_every and spent_file.is_file():
        agent = agents.load(ckpt, resume=True)
        tally = json.loads(spent_file.read_text())
        spent, spent_cpu, curve = tally["seconds"], tally.get("cpu_seconds"), tally.get("curve", [])
        print(f"{args.learner} seed {seed}: resumed at {agent.steps_trained} steps", flush=True)
    else:
        agent, spent, spent_cpu, curve = agents.make(args.learner, args.task, seed=seed, **args.overrides), 0.0, 0.0, []
    while agent.steps_trained < args.steps:
        t0, c0 = time.perf_counter(), time.process_time()
        agent.learn(min(chunk, args.steps - agent.steps_trained))
        spent += time.perf_counter() - t0
        spent_cpu = None if spent_cpu is None else spent_cpu + time.process_time() - c0
        if args.checkpoint_every and agent.steps_trained < args.steps:
            curve.append([agent.steps_trained, _evaluate(agent)])
            print(f"{args.learner} seed {seed}: {curve[-1][1]:.1f} after {agent.steps_trained} steps", flush=True)
            tmp = ckpt.with_name(ckpt.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            agents.save(agent, tmp, training_state=True)
            (tmp / "seconds.json").write_text(json.dumps({"seconds": spent, "cpu_seconds": spent_cpu, "curve": curve}))
            shutil.rmtree(ckpt, ignore_errors=True)
            tmp.rename(ckpt)
    return agent, spent, spent_cpu, curve


if __name__ == "__main__":
    main()
