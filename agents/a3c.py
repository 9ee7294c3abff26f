"""A3C: asynchronous advantage actor-critic (Mnih et al. 2016, "Asynchronous Methods for Deep
Reinforcement Learning", algorithm S3).

``n_workers`` processes each step their own scenario copies (``n_envs`` per worker) with a
local copy of the network, and every ``n_steps`` compute n-step returns, the advantage
actor-critic loss (policy gradient with the n-step advantage, squared value error, entropy
bonus) and its gradient on the local copy; the gradient is then applied to the shared
parameters without locks (Hogwild, Recht et al. 2011) by an optimizer whose statistics
are shared too (the paper's "shared RMSProp", which it found more robust than per-worker
statistics; Adam by default here, RMSProp on request). The shared network and optimizer
state live in shared memory (``torch.multiprocessing``); a shared counter ends training
after ``steps`` environment steps in total (overshoot: at most one ``n_steps`` segment
per worker).

Details: ``ent_coef: auto`` is the paper's entropy cost, 0.01 for discrete actions and 1e-4
for continuous ones (measured here: 0.01 keeps InvertedPendulum at ~100 after 200k steps,
1e-4 or 0 reach 1000); a time-limit truncation bootstraps from V(final observation) (folded into the
reward), a termination does not; the gradient is clipped to ``max_grad_norm`` per worker
update; Box actions come from a diagonal Gaussian and are clipped to the bounds when applied.
On cooperative multi-agent scenarios one network acts for every agent (parameter sharing,
with a one-hot agent id), each agent's own reward its learning signal. SB3 and sb3-contrib
have no asynchronous learner and RLlib dropped A3C in Ray 2.x, hence our own (~200 lines).
The workers end with the process that started them. With one worker a run is reproducible
from its seed; with more, the interleaving of the asynchronous updates is not (nor is it in
the paper), so seeds give distinct but not repeatable runs.
"""

from __future__ import annotations

import os
import queue
import sys
import time
import traceback
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.multiprocessing as mp
from torch import nn

from agents import training_state
from agents.actor_critic import ActorCritic, LanePolicy, Lanes, entropy_coef, worker_state
from agents.base import Capabilities, ProgressFn
from agents.checkpoint import save_meta
from agents.runtime import die_with_parent
from scenarios import Scenario
from scenarios.errors import wrap_seed

DEFAULTS: dict[str, Any] = {
    "learning_rate": 7e-4, "gamma": 0.99, "n_steps": 5, "n_workers": 2, "n_envs": 4, "ent_coef": "auto", "vf_coef": 0.5,
    "max_grad_norm": 0.5, "net_arch": [64, 64], "log_std_init": 0.0, "optimizer": "adam", "optimizer_eps": 1e-5,
    "agent_id": True, "torch_threads": 1,
}


def shared_optimizer(params: list[nn.Parameter], name: str, lr: float, eps: float) -> torch.optim.Optimizer:
    """An optimizer whose state tensors are created now and placed in shared memory, so every
    worker updates the same statistics (foreach off: the update is in place)."""
    if name == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=lr, eps=eps, foreach=False)
    else:
        opt = torch.optim.RMSprop(params, lr=lr, eps=eps, alpha=0.99, foreach=False)
    share_state(opt)
    return opt


def share_state(opt: torch.optim.Optimizer) -> None:
    """Create any missing optimizer state and move every state tensor to shared memory."""
    for group in opt.param_groups:
        for p in group["params"]:
            state = opt.state[p]
            if not state:
                state["step"] = torch.zeros(())
                if isinstance(opt, torch.optim.Adam):
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                else:
                    state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            for value in state.values():
                if torch.is_tensor(value):
                    value.share_memory_()


def n_step_returns(rewards: np.ndarray, dones: np.ndarray, bootstrap: np.ndarray, gamma: float) -> np.ndarray:
    """R_t = r_t + gamma (1 - done_t) R_{t+1}, R_T = V(x_T); arrays are (T, L)."""
    out = np.zeros_like(rewards)
    acc = bootstrap.astype(np.float32)
    for t in range(len(rewards) - 1, -1, -1):
        acc = rewards[t] + gamma * (1.0 - dones[t]) * acc
        out[t] = acc
    return out


def _worker(rank: int, scenario: Scenario, seed: int, h: dict[str, Any], shared: ActorCritic, opt: torch.optim.Optimizer,
            counter: Any, total: int, episodes: Any, parent: int, resume: tuple[dict, dict] | None = None,
            results: Any = None, errors: Any = None) -> None:
    """``_work`` in a worker process. An exception there goes to ``errors`` as its traceback text for the
    learner to raise (with a diverged network, as the divergence guard's one line), and the process exits
    with code 1, instead of printing it to stderr beside the learner's own message."""
    try:
        _work(rank, scenario, seed, h, shared, opt, counter, total, episodes, parent, resume, results)
    except Exception:
        if errors is None:
            raise
        errors.put((rank, traceback.format_exc()))
        sys.exit(1)


def _work(rank: int, scenario: Scenario, seed: int, h: dict[str, Any], shared: ActorCritic, opt: torch.optim.Optimizer,
          counter: Any, total: int, episodes: Any, parent: int, resume: tuple[dict, dict] | None = None,
          results: Any = None) -> None:
    """One actor-learner: roll out ``n_steps``, compute the loss on a local copy, apply its gradient to ``shared``.

    ``resume`` is the state this worker sent at the end of the previous call (its copies mid-episode,
    their observations, its generator), as ``agents.training_state`` data; at the end it sends its
    state to ``results``, so the next call goes on with the same episodes and streams."""
    die_with_parent(parent)
    torch.set_num_threads(h["torch_threads"])
    torch.manual_seed(wrap_seed(seed * 1000 + rank))
    lanes = Lanes(scenario, "a3c", h["agent_id"])
    ent_coef = entropy_coef(h["ent_coef"], lanes.discrete, "a3c")
    local = ActorCritic(lanes.n_in, lanes.action_space, list(h["net_arch"]), h["log_std_init"])
    n, gamma, n_steps = h["n_envs"], h["gamma"], h["n_steps"]
    vec = scenario.vector(n, seed=wrap_seed(seed + 10_007 * (rank + 1)))
    obs, _ = vec.reset()
    mine: dict[str, Any] = {"vec": vec, "obs": obs, "rng": torch.get_rng_state()}
    if resume is not None:
        training_state.restore(mine, *resume)
        obs = mine["obs"]
        torch.set_rng_state(mine["rng"])
    while counter.value < total:
        local.load_state_dict(shared.state_dict())
        xs, acts, rews, dones = [], [], [], []
        for _ in range(n_steps):
            x = lanes.obs(obs)
            with torch.no_grad():
                a = local.dist(x).sample()
            obs, rew, term, trunc, infos = vec.step(lanes.split(a.numpy()))
            r, te, tr = lanes.stack(rew), lanes.stack(term, bool), lanes.stack(trunc, bool)
            cut = np.flatnonzero(tr & ~te)
            if len(cut):
                with torch.no_grad():
                    r[cut] += gamma * local.value(lanes.final_obs(infos, cut)).numpy()
            xs.append(x), acts.append(a), rews.append(r), dones.append((te | tr).astype(np.float32))
            with counter.get_lock():
                counter.value += n
            for info in infos:
                if "episode" in info:
                    episodes.put((counter.value, float(sum(info["episode"]["returns"].values()))))
        with torch.no_grad():
            bootstrap = local.value(lanes.obs(obs)).numpy()
        returns = torch.as_tensor(n_step_returns(np.stack(rews), np.stack(dones), bootstrap, gamma)).reshape(-1)
        x_all, a_all = torch.cat(xs), torch.cat(acts)
        dist, values = local.dist(x_all), local.value(x_all)
        advantages = (returns - values).detach()
        loss = (-(dist.log_prob(a_all) * advantages).mean() + h["vf_coef"] * 0.5 * ((returns - values) ** 2).mean()
                - ent_coef * dist.entropy().mean())
        local.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(local.parameters(), h["max_grad_norm"])
        for lp, sp in zip(local.parameters(), shared.parameters()):
            sp.grad = lp.grad
        opt.step()
    if results is not None:
        results.put((rank, worker_state(vec, obs)))
    vec.close()


def _take(results: Any, states: dict[int, Any]) -> None:
    """Move the worker states waiting in ``results`` into ``states``."""
    while True:
        try:
            k, state = results.get_nowait()
        except queue.Empty:
            return
        states[k] = state


class A3C(LanePolicy):
    """Asynchronous advantage actor-critic: Hogwild worker processes on a shared network and optimizer."""

    name: ClassVar[str] = "a3c"
    capabilities = Capabilities(multi_agent="any", competitive=False, learning="on-policy", goal_observations=True)

    DEFAULTS = DEFAULTS
    POSITIVE = ("n_workers", "n_envs", "n_steps")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        h = self._setup(scenario, seed, overrides)
        self.model.share_memory()
        self.optimizer = shared_optimizer(list(self.model.parameters()), h["optimizer"], h["learning_rate"],
                                          h["optimizer_eps"])
        self._workers: list[list[Any]] = []
        """Each worker's state at the end of the last call (copies, observations, generator) as
        ``agents.training_state`` data, handed back to it on the next call."""

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Run ``n_workers`` asynchronous actor-learners until ``steps`` environment steps in total."""
        if steps <= 0:
            return
        h = self.hparams
        ctx = mp.get_context("spawn")
        counter, episodes, results, errors = ctx.Value("q", 0), ctx.Queue(), ctx.Queue(), ctx.Queue()
        resume = self._workers if len(self._workers) == h["n_workers"] else [None] * h["n_workers"]
        # without the workers' state (a checkpoint without training state) a continued run draws new
        # episodes: its seeds follow the steps already trained; with it, the workers go on where they were
        base = wrap_seed((0 if self.seed is None else int(self.seed)) * 1_000_003 + (0 if self._workers else self.steps_trained))
        procs = [ctx.Process(target=_worker, args=(k, self.scenario, base, h, self.model, self.optimizer, counter, steps,
                                                   episodes, os.getpid(), resume[k], results, errors), daemon=True)
                 for k in range(h["n_workers"])]
        for p in procs:
            p.start()
        states: dict[int, Any] = {}
        try:
            while any(p.is_alive() for p in procs):
                self._drain(episodes)
                _take(results, states)  # read while they run: a worker exits only once its state is read
                if progress:
                    progress(min(counter.value, steps), steps)
                if any(p.exitcode not in (None, 0) for p in procs):
                    break
                time.sleep(0.1)
        finally:
            for p in procs:
                p.join(timeout=5 if p.exitcode is None else None)
                if p.is_alive():
                    p.kill()
        self._drain(episodes)
        failed = [p.exitcode for p in procs if p.exitcode not in (0, None)]
        if failed:
            try:
                rank, text = errors.get(timeout=5)
                cause = f"; worker {rank}:\n{text}"
            except queue.Empty:  # it died before its loop: most often a script without a __main__ guard
                cause = ("; no worker reached its loop (its error is on stderr): a script that trains a3c must create "
                         "and train it under `if __name__ == '__main__':`, since each spawned worker imports the script")
            raise RuntimeError(f"a3c: {len(failed)} worker(s) failed (exit codes {failed}){cause}")
        while len(states) < len(procs):
            k, state = results.get(timeout=60)
            states[k] = state
        held = [states[k] for k in range(h["n_workers"])]
        self._workers = [list(s) for s in held] if all(s is not None for s in held) else []
        self.steps_trained += int(counter.value)
        if progress:
            progress(steps, steps)

    def _drain(self, episodes: Any) -> None:
        while True:
            try:
                done, ret = episodes.get_nowait()
            except queue.Empty:
                return
            self.history.append({"steps": self.steps_trained + done, "episode_return": ret})

    def save(self, path: str | Path) -> Path:
        """Write ``a3c.pt`` (network and shared optimizer state) and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}, path / "a3c.pt")
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> A3C:
        """Restore the network and the optimizer state (shared again, so training continues)."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        state = torch.load(path / "a3c.pt", weights_only=True)
        agent.model.load_state_dict(state["model"])
        agent.optimizer.load_state_dict(state["optimizer"])
        share_state(agent.optimizer)
        agent.steps_trained = int(meta.get("steps", 0))
        return agent
